"""`copilot db`: The phrase database: analyse a library, query it, plan the next phrase."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="The phrase database: analyse a library, query it, plan the next phrase.", no_args_is_help=True)

DB_HELP = "Database file (default: phrases.sqlite in the user data folder)."


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=1, ensure_ascii=False))


def _lines(lines: list[str]) -> None:
    typer.echo("\n".join(lines))


def _fail(message: str, code: int = 1) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _open(db: Path | None, readonly: bool = True):  # -> Store
    from copilot.phrase_db.store import DamagedDatabase, Store

    try:
        return Store(db, readonly=readonly)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except DamagedDatabase as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - not a database, damaged file: say so, never a traceback
        _fail(f"cannot open the phrase database {db or ''}: {exc}")


@contextmanager
def _reading(db: Path | None, readonly: bool = True) -> Iterator[Any]:
    """The store, open; damage that shows only while reading becomes the same one line."""
    from copilot.phrase_db.store import DamagedDatabase

    store = _open(db, readonly)
    try:
        yield store
    except DamagedDatabase as exc:
        _fail(str(exc))
    finally:
        store.close()


@app.command("analyze")
def analyze_command(
    paths: list[Path] = typer.Argument(..., help="Audio files or folders (searched recursively)."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    workers: int | None = typer.Option(None, "--workers", "-j",
                                       help="Worker processes (default: one per core; 0 = in this process)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Start the database afresh (a damaged one is kept "
                                 "beside it as <name>.damaged-<time>) and analyse everything again."),
) -> None:
    """Analyse new and changed tracks (beatgrid, key, phrases, loudness, embeddings). Safe to interrupt."""
    from copilot.phrase_db import index
    from copilot.phrase_db.runner import analyze_paths
    from copilot.phrase_db.store import set_aside

    if rebuild:
        for old, kept in set_aside(db):
            typer.echo(f"kept the old {old.name} as {kept}", err=True)
    with _reading(db, readonly=False) as store:
        summary = analyze_paths(paths, store, workers=workers, progress=not quiet and sys.stderr.isatty(),
                                report=lambda m: typer.echo(m, err=True))
        if summary.analysed or summary.moved:
            index.open_index(store)  # build the search index now, not on the first query
        counts = store.counts()
    data = {**summary.to_dict(), "library": counts, "db": str(store.path)}
    if as_json:
        _emit(data)
    else:
        typer.echo(f"analysed {data['analysed']}, unchanged {data['unchanged']}, moved {data['moved']}, "
                   f"failed {len(summary.failed)} (+{len(summary.known_bad)} known) in {data['seconds']} s"
                   + (f", {data['realtime_per_core']}× real time per core" if data["realtime_per_core"] else ""))
        for _path, reason in summary.failed:
            typer.echo(f"  skipped: {reason}")
        for note in summary.warnings:
            typer.echo(f"  warning: {note}")
        for path in summary.missing:
            typer.echo(f"  not found: {path}")
        typer.echo(f"library: {counts['tracks']} tracks, {counts['phrases']} phrases in {store.path}")
    if summary.missing and not (summary.analysed or summary.unchanged):
        raise typer.Exit(1)


@app.command("tracks")
def tracks_command(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: every track with its phrases."),
    failed: bool = typer.Option(False, "--failed", help="List the files that could not be analysed instead."),
) -> None:
    """Every analysed track: path, BPM, key (name and Camelot), downbeats, phrases, LUFS."""
    with _reading(db) as store:
        tracks = store.tracks(with_phrases=True, status="error" if failed else "ok")
    if as_json:
        _emit([t.to_dict() for t in tracks])
        return
    from .words import blocks, table

    if failed:  # a path per block, whole: the performer has to find that file
        _lines(blocks(["file", "why"], [[str(t.path), t.error or ""] for t in tracks]))
        return
    rows = [[t.id, f"{t.bpm:.2f}", t.key.camelot if t.key else "?", f"{t.lufs:.1f}" if t.lufs is not None else "?",
             f"{t.artist} - {t.title}", " ".join(f"{p.label} {p.bars}" for p in t.phrases)] for t in tracks]
    _lines(table(["id", "BPM", "key", "LUFS", "track", "phrases (bars)"], rows, right=(0, 1, 3)))


@app.command("query")
def query_command(
    text: str = typer.Argument("", help='What you would say: "dubby 118", "warehouse 8A", "acid".'),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    bpm: str | None = typer.Option(None, "--bpm", help="Tempo filter: 124 (±2 %) or 120-126."),
    key: str | None = typer.Option(None, "--key", help="Key filter: 8A, 'A minor', Am."),
    compatible: bool = typer.Option(False, "--compatible", help="With --key: any Camelot-compatible key."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000, help="How many tracks at most."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find tracks by words over titles/artists/tags, with tempo and key as hints or filters."""
    from copilot.phrase_db.keys import Key
    from copilot.phrase_db.query import parse_bpm_range, search_tracks

    try:
        bpm_range = parse_bpm_range(bpm)
        key_filter = Key.parse(key) if key else None
    except ValueError as exc:
        _fail(str(exc), 2)
    with _reading(db) as store:
        hits = search_tracks(store.tracks(with_phrases=False), text, bpm_range, key_filter, compatible, limit)
    if as_json:
        _emit([h.to_dict() for h in hits])
        return
    if not hits:
        typer.echo("nothing matches")
        raise typer.Exit(1)
    from .words import table

    rows = [[f"{d['score']:.2f}", f"{d['bpm']:.2f}", d["camelot"], f"{d['artist']} - {d['title']}", d["why"]]
            for d in (h.to_dict() for h in hits)]
    _lines(table(["score", "BPM", "key", "track", "why"], rows, right=(0, 1)))


@app.command("next")
def next_command(
    source: str = typer.Option(..., "--from", help="TRACK or TRACK@PHRASE: id, title words or path; "
                                "phrase number or label (intro, drop …)."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    k: int = typer.Option(10, "--top", "-k", min=1, max=1000, help="How many candidates."),
    arc: str = typer.Option("up", "--arc", help="Energy arc: up, hold, down, peak, or a target 0..1."),
    same_track: bool = typer.Option(False, "--same-track", help="Allow phrases of the same track."),
    exact: bool = typer.Option(False, "--exact", help="Score every phrase (no index)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON with the score breakdown."),
) -> None:
    """The best next phrases after TRACK (or TRACK@PHRASE), ranked by key, tempo, energy arc and similarity."""
    from copilot.phrase_db.planner import Planner, UnknownSource

    with _reading(db) as store:
        planner = Planner(store)
        try:
            result = planner.next(source, k=k, arc=arc, same_track=same_track, exact=exact)
        except (UnknownSource, ValueError) as exc:
            _fail(exc.args[0] if exc.args else str(exc), 2)
    if as_json:
        _emit(result)
        return
    from .words import table, wrap

    f = result["from"]
    _lines(wrap(f"from {f.get('artist', '')} - {f.get('title', '')} phrase {f['phrase']} ({f['label']}, "
                f"{f['camelot']}, {f['bpm']:.2f} BPM, energy {f['energy']:.2f} → {f['target_energy']:.2f})"))
    rows = [[c["rank"], f"{c['score']:.3f}", f"{c.get('artist', '')} - {c.get('title', '')}",
             f"{c['phrase']} {c['label']}", c["breakdown"]["why"]] for c in result["candidates"]]
    _lines(table(["#", "score", "track", "phrase", "why"], rows, right=(0, 1)))


@app.command("check")
def check_command(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: the file, whether it is healthy, the problems."),
) -> None:
    """Check the database file: is it a phrase database, is SQLite's copy intact, do its rows agree
    (exit code 1 and what to do when not)."""
    from copilot.phrase_db.store import DamagedDatabase, Store, default_db_path

    path = db or default_db_path()
    problems: list[str] = []
    counts: dict[str, int] = {}
    if not path.exists():
        _fail(f"no phrase database at {path}; run `copilot db analyze FOLDER` to make one")
    try:
        with Store(path, readonly=True) as store:
            problems = store.check()
            if not problems:
                counts = store.counts()
    except DamagedDatabase as exc:
        problems = [exc.why]
    except Exception as exc:  # noqa: BLE001 - whatever stops it from opening is the finding
        problems = [f"{type(exc).__name__}: {exc}"]
    fix = f"`copilot db analyze FOLDER --rebuild --db {path}` builds it afresh (the old file is kept beside it)"
    if as_json:
        _emit({"db": str(path), "ok": not problems, "problems": problems, "library": counts,
               "fix": fix if problems else ""})
    elif problems:
        typer.echo(f"{path}: damaged")
        for problem in problems:
            typer.echo(f"  {problem}")
        typer.echo(f"fix: {fix}")
    else:
        typer.echo(f"{path}: healthy — {counts['tracks']} tracks, {counts['phrases']} phrases, "
                   f"{counts['failed']} files that could not be analysed")
    if problems:
        raise typer.Exit(1)


@app.command("transition")
def transition_command(
    name: str = typer.Argument("", help="blend, bass_swap, filter_fade, echo_out, double_drop (empty: list them)."),
    at: float = typer.Option(0.0, "--at", help="Start beat (a bar line on the session's grid)."),
    bars: int | None = typer.Option(None, "--bars", help="Stretch to this many bars."),
    out_deck: str = typer.Option("A", "--out-deck", help="Outgoing deck."),
    in_deck: str = typer.Option("B", "--in-deck", help="Incoming deck."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON envelopes."),
    old_out: str | None = typer.Option(None, "--out", hidden=True),  # --out-deck's old name (--out is a file)
    old_in: str | None = typer.Option(None, "--in", hidden=True),  # --in-deck's old name
) -> None:
    """Show a transition template, or warp it onto the grid as envelopes for the scheduler."""
    out_deck, in_deck = old_out or out_deck, old_in or in_deck
    from copilot.phrase_db.transitions import TemplateError, realize, template, templates

    if not name:
        data = [t.to_dict() for t in templates().values()]
        if as_json:
            _emit(data)
        else:
            from .words import table

            _lines(table(["template", "bars", "what it does"], [[t["id"], t["bars"], t["description"]] for t in data],
                         right=(1,)))
        return
    try:
        envs = realize(template(name), at, out_deck, in_deck, bars=bars)
    except (TemplateError, ValueError) as exc:
        _fail(str(exc), 2)
    if as_json:
        _emit([e.to_dict() for e in envs])
    else:
        from .words import table

        rows = [[e.param, e.deck or "-", ", ".join(f"{p.beat:g}:{p.value:.2f}" for p in e.points)] for e in envs]
        _lines(table(["param", "deck", "beat:value"], rows))
