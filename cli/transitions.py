"""`copilot transitions`: the transition templates — list them, draw them, learn your own from session logs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Transition templates: list, draw, and learn your own from session logs.",
                  no_args_is_help=True)


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every template the planner can use: the bundled ones and those learned from your mixes."""
    from copilot.phrase_db.transitions import problems, templates

    found = templates()
    if as_json:
        typer.echo(json.dumps([t.to_dict() for t in found.values()], indent=1, ensure_ascii=False))
    else:
        from .words import table

        rows = [[t.id, t.bars, "learned" if t.learned else "bundled", t.description] for t in found.values()]
        typer.echo("\n".join(table(["template", "bars", "from", "what it does"], rows, right=(1,))))
    for problem in problems():
        typer.echo(f"skipped {problem}", err=True)


@app.command("learn")
def learn_command(
    logs: list[Path] = typer.Argument(..., help="Session logs (JSON Lines, from `copilot run --log`)."),
    name: str | None = typer.Option(None, "--name", help="Name the template(s) (default: from the log's name)."),
    folder: Path | None = typer.Option(None, "--dir", help="Where to keep them (default: the user data folder)."),
    parents: bool = typer.Option(False, "--parents", help="Make the --dir folder if it does not exist."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Find and show them, but save nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the templates as JSON."),
) -> None:
    """Find each transition you made by hand in the logs and keep it as a template the planner uses."""
    from copilot.phrase_db.learn import learn

    from . import paths
    from .common import fail

    try:
        logs = [paths.existing_file(p, "session log") for p in logs]
        if folder is not None and not dry_run:
            folder = paths.new_folder(folder, parents, "folder for templates")
    except paths.PathProblem as exc:
        fail(str(exc))
    try:
        found = learn(logs, name, folder, save=not dry_run)
    except (OSError, ValueError) as exc:
        typer.echo(f"could not read the logs: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps([f.template.to_dict() for f in found], indent=1, ensure_ascii=False))
        return
    if not found:
        typer.echo("no hand-made transition in these logs (a span of a bar or more where both decks are heard "
                   "and the mixer moves, one deck before it and the other after)")
        return
    for f in found:
        where = f" → {f.path}" if f.path else ""
        context = ", ".join(f"{k} {v}" for k, v in f.template.context.items())
        typer.echo(f"{f.name}: {f.template.bars} bars from beat {f.start:g} in {Path(f.source).name}"
                   f"{' (' + context + ')' if context else ''}{where}")


@app.command("plot")
def plot_command(
    names: list[str] = typer.Argument(None, help="Templates to draw (default: all)."),
    out: Path = typer.Option(Path("."), "--out", help="Folder for the PNG files."),
    parents: bool = typer.Option(False, "--parents", help="Make the --out folder if it does not exist."),
) -> None:
    """Draw templates as small PNG plots (one file per template)."""
    from copilot.phrase_db.transition_plot import plot
    from copilot.phrase_db.transitions import TemplateError, template, templates

    from . import paths
    from .common import fail

    try:
        chosen = [template(n) for n in names] if names else list(templates().values())
    except TemplateError as exc:
        fail(str(exc))
    try:  # after the names: a typo in one is said before a folder is made
        out = paths.new_folder(out, parents, "folder for the plots")
    except paths.PathProblem as exc:
        fail(f"--out: {exc}")
    for tpl in chosen:
        typer.echo(str(plot(tpl, out / f"{tpl.id}.png")))
