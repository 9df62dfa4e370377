"""`copilot rehearse CRATE_OR_DB --out DIR`: practise transitions offline, score them, report with plots.

Resumable: every scored candidate is kept at once (in the phrase database file when the source is one,
else in DIR/rehearsals.sqlite) and skipped the next time; Ctrl-C stops after what is scored. The mixer
reads the same table and prefers the template that rehearsed best (`copilot run --db`). `--log` rehearses
the transitions a set played, from its session log, instead of every pair (the after-show review).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def command(
    source: Path = typer.Argument(..., help="A crate folder (audio + JSON sidecars) or a phrase database file."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for report.html, its plots and the renders."),
    template: list[str] = typer.Option([], "--template", "-T", help="Only this template (repeatable)."),
    entries: int = typer.Option(1, help="Entry phrases of the incoming track to try (its first N)."),
    bars: int | None = typer.Option(None, help="Bars per transition (default: each template's own)."),
    limit: int | None = typer.Option(None, help="At most this many candidates (in order)."),
    workers: int = typer.Option(1, "--workers", "-j", help="Local worker processes."),
    plots: int = typer.Option(12, "--plots", help="Draw the best N transitions' plots for the report (0: none)."),
    dask: str | None = typer.Option(None, "--dask", help="Run on this Dask scheduler (tcp://HOST:8786)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run and its results as JSON."),
    session_log: Path | None = typer.Option(None, "--log", help="Rehearse the transitions this session log "
                                            "played (after-show review), instead of every pair."),
) -> None:
    """Render candidate transitions through the real scheduler and engine, score each with the critic."""
    from copilot.cli.common import check_flags, fail
    from copilot.cli.paths import PathProblem, new_folder
    from copilot.phrase_db.rehearsals import Rehearsals
    from copilot.phrase_db.transitions import templates
    from copilot.rehearsal import report
    from copilot.rehearsal.candidate import RenderSettings
    from copilot.rehearsal.runner import WorkerPool, draw, enumerate_candidates, run

    check_flags(bars=bars)
    for flag, value in (("--workers", workers), ("--entries", entries), ("--limit", limit)):
        if value is not None and value < 1:
            fail(f"{flag} is a whole number from 1, not {value}")
    if plots < 0:
        fail(f"--plots is a whole number from 0, not {plots}")
    if session_log is not None and (template or bars is not None or entries != 1):
        fail("--log rehearses the transitions as they were played: -T, --bars and --entries do not apply")
    try:
        new_folder(out, parents=True, what="rehearsal folder")
    except PathProblem as exc:
        fail(str(exc))
    tracks, results_db = _tracks(source, out)
    unknown = [t for t in template if t not in templates()]
    if unknown:
        fail(f"no template named {', '.join(unknown)} (known: {', '.join(sorted(templates()))})")
    if session_log is not None:
        candidates = _played(session_log, tracks, source, as_json)[:limit]
    else:
        candidates = enumerate_candidates(tracks, template or None, entries, bars)[:limit]
    if not candidates:
        fail(f"nothing to rehearse in {source}: it needs two tracks with a tempo")
    client = _client(dask) if dask else None
    settings = RenderSettings()
    with Rehearsals(results_db) as store, WorkerPool(workers or 1) as pool:
        keys = [c.key(settings, _critic_version()) for c in candidates]
        known = store.known(keys)
        progress, finish = _progress(as_json)
        warm = pool if (workers or 1) > 1 and client is None else None  # one pool for both passes
        try:
            try:
                done = run(candidates, settings, out, known, store.put, workers=workers, client=client,
                           progress=progress, pool=warm)
            finally:
                finish()
            if not done.interrupted:  # plots for the report's best few, now that they are ranked
                draw(candidates, store.results(), settings, out, store.put, plots, workers=workers, client=client,
                     pool=warm)
        finally:
            if client is not None:
                client.close()
        everything = store.results()
    mine = [r for r in everything if r["key"] in set(keys)]
    page = report.write_html(out, mine)
    if as_json:
        typer.echo(json.dumps({"run": done.to_dict(), "report": str(page), "results_db": str(results_db),
                               "results": mine}, default=str))
        return
    summary = done.to_dict()
    typer.echo(f"{summary['scored']} scored, {summary['skipped']} already scored, {summary['failed']} failed "
               f"in {summary['seconds']:.1f} s ({summary['per_minute'] or 0:g} per minute, "
               f"{summary['realtime'] or 0:g}× real time); report: {page}")
    for r in sorted((r for r in mine if r.get("score") is not None), key=lambda r: -r["score"])[:5]:
        typer.echo(f"  {r['score']:5.1f}  {r['describe']}")
    for r in (r for r in done.results if r.get("score") is None):
        typer.echo(f"  not rendered: {r['describe']}: {r.get('error')}")


def _critic_version() -> int:
    from copilot.rehearsal.critic import CRITIC_VERSION

    return CRITIC_VERSION


def _played(session_log: Path, tracks: list, source: Path, quiet: bool) -> list:
    """The transitions a set played, as candidates; each one that cannot be rehearsed said in one line."""
    from copilot.cli.common import fail
    from copilot.rehearsal.review import played

    try:
        review = played(session_log, tracks)
    except OSError as exc:
        fail(f"cannot read the session log {session_log}: {exc.strerror or exc}")
    if not quiet:
        for line in review.skipped:
            typer.echo(f"  not rehearsed: {line}")
        if review.unreadable_lines:
            typer.echo(f"  {review.unreadable_lines} line(s) of {session_log.name} are not JSON; skipped")
    if not review.candidates:
        fail(f"{session_log} holds no transition copilot played with tracks in {source}"
             + (f" ({len(review.skipped)} could not be rehearsed)" if review.skipped else ""))
    return review.candidates


def _tracks(source: Path, out: Path) -> tuple[list, Path]:
    from copilot.cli.common import fail
    from copilot.phrase_db.loader import folder_records
    from copilot.phrase_db.store import Store

    if source.is_dir():
        return folder_records([source]), out / "rehearsals.sqlite"
    if source.is_file():
        try:
            with Store(source, readonly=True) as store:
                return store.tracks(with_phrases=True), source
        except Exception as exc:  # noqa: BLE001 - not a database we can read: one line, no traceback
            fail(f"{source} is not a phrase database copilot can read ({exc})")
    fail(f"no crate folder or phrase database at {source}")


def _client(address: str):
    from copilot.cli.common import fail

    try:
        from distributed import Client

        return Client(address, timeout="10s")
    except Exception as exc:  # noqa: BLE001 - an unreachable scheduler is one line
        fail(f"cannot reach the Dask scheduler at {address}: {exc}", 1)


def _progress(quiet: bool):
    if quiet:
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("rehearsing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.fields[last]}"), transient=False)
    task = None

    def update(result, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("rehearse", total=total, last="")
        if result is not None:
            score = "failed" if result.get("score") is None else f"{result['score']:.1f}"
            bar.update(task, advance=1, last=f"{score} {result['describe']}"[:60])

    return update, bar.stop
