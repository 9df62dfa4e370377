"""`copilot mappings`: Install the files each host loads (Serato, Mixxx, Live, Strudel).

Generic over every target: a target gives `mapping_files()`, `mapping_folders()` (raising LookupError
with the reason when its host has no folder on this system) and `install_steps()`; this module and
`copilot.mappings.install` do the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import fail, load_config

app = typer.Typer(help="Install the files each host loads (Serato, Mixxx, Live, Strudel).", no_args_is_help=True)

INSTALL_DEST_HELP = ("Install here instead of the host's default folder (a folder, or one file path for "
                     "single-file targets). It must exist, unless --create is given.")
UNINSTALL_DEST_HELP = "Remove copilot's files from here (the --dest they were installed with)."
DRY_RUN_HELP = "Print what would be done; change nothing."


def _host() -> Any:
    """The installed targets with their copilot.toml settings (port names, the table override path …),
    the file checked first: a wrong setting would end up inside the files written."""
    return load_config()[1]


def _target(name: str) -> Any:
    from copilot.bridge.host import UnknownTarget

    host = _host()
    try:
        target = host.get(name)
    except UnknownTarget as exc:
        if name in host.broken:  # installed, but it failed to start (e.g. a broken table override)
            typer.echo(f"{name} cannot be used: {host.broken[name]}", err=True)
            raise typer.Exit(1) from None
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    return target


def _files(target: Any) -> list[Any]:
    from copilot.mappings.table import TableError

    name = target.name
    try:
        files = target.mapping_files()
    except TableError as exc:
        typer.echo(f"{name}: its mapping table cannot be used: {exc}", err=True)
        raise typer.Exit(1) from None
    if not files:
        typer.echo(f"{name} has no mapping files: there is nothing to install for it", err=True)
        raise typer.Exit(1)
    return files


def _dest(dest: Path, files: list[Any], create: bool, verb: str) -> Path:
    """--dest as given, or one line saying what is wrong with it: a mistyped folder is not made silently."""
    from copilot.mappings.install import InstallError, destinations

    dest = dest.expanduser()
    try:
        for folder in dict.fromkeys(path.parent for _, path in destinations(files, dest)):
            if folder.exists() and not folder.is_dir():
                fail(f"--dest: {folder} is a file, not a folder")
            if not folder.exists() and not create:
                more = ("; check the path, or pass --create to make it" if verb == "install"
                        else "; nothing is installed there")
                fail(f"--dest: there is no folder {folder}{more}")
    except InstallError as exc:
        fail(f"--dest: {exc}")
    except OSError as exc:  # a name too long for the disk, a link loop
        fail(f"--dest: cannot use {dest}: {exc.strerror or exc}")
    return dest


def _folders(target: Any, dest: Path | None, files: list[Any], create: bool = False, verb: str = "install"
             ) -> list[Path]:
    if dest is not None:
        return [_dest(dest, files, create, verb)]
    try:
        folders = [Path(f) for f in target.mapping_folders()]
    except LookupError as exc:
        typer.echo(f"{target.name}: {exc}", err=True)
        raise typer.Exit(2) from None
    if not folders:
        typer.echo(f"{target.name}: no default folder on this system; pass --dest PATH", err=True)
        raise typer.Exit(2)
    return folders


def _steps(head: str, steps: list[Any]) -> None:
    """What the installer did, one wrapped paragraph per file (paths whole)."""
    from .words import wrap

    typer.echo(head)
    for step in steps:
        typer.echo("\n".join(wrap(step.describe(), first="  - ")))


@app.command("list")
def list_command() -> None:
    """Every target that ships mapping files, with its files and where they would go."""
    from .words import wrap

    host = _host()
    found = False
    for name in host.names():
        target = host.get(name)
        try:
            files = target.mapping_files()
        except Exception as exc:  # noqa: BLE001 - one broken target must not hide the others
            typer.echo(f"{name}: cannot build its files: {exc}")
            continue
        if not files:
            continue
        found = True
        try:
            where = ", ".join(str(f) for f in target.mapping_folders()) or "no default folder: use --dest"
        except LookupError as exc:
            where = str(exc)
        typer.echo("\n".join(wrap(f"{name} — {target.description}")))
        for f in files:
            typer.echo("\n".join(wrap(f"{f.relpath}  ({f.description})" if f.description else f.relpath,
                                       first="    ")))
        typer.echo("\n".join(wrap(where, first="    → ")))
    for name, why in sorted(host.broken.items()):
        typer.echo(f"{name}: plugin failed to load: {why}")
    if not found:
        typer.echo("no installed target ships mapping files")


@app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Target name, e.g. serato-dj-pro."),
    table_only: bool = typer.Option(False, "--table", help="Only the table (rows, unverified ones marked)."),
) -> None:
    """Print the target's table (unverified rows marked) and the files it would install."""
    from .words import table, wrap

    target = _target(name)
    rows = getattr(target, "table_rows", None)
    if callable(rows):
        from copilot.mappings.table import override_path

        head, cells = rows()
        typer.echo(f"{name}: the table")
        typer.echo("\n".join(table(head, [[*c[:-1], c[-1] if c[-1] == "V" else f"{c[-1]} ⚠"] for c in cells])))
        sources = getattr(getattr(target, "table", None), "sources", [])
        lines = [*wrap("status: V verified · I inferred · U unverified (may not work in the host)")]
        if sources:
            lines += wrap(" + ".join(sources), first="from: ")
        lines += wrap(str(override_path(name)), first="correct rows without code in: ")
        typer.echo("\n".join(["", *lines, ""]))
    elif table_only:
        fail(f"{name} has no table of its own to show; `copilot mappings show {name}` prints its files", 1)
    if table_only:
        return
    for f in _files(target):
        typer.echo(f"# {f.relpath}" + (f" — {f.description}" if f.description else ""))
        try:
            typer.echo(f.content.decode("utf-8"))
        except UnicodeDecodeError:
            typer.echo(f"({len(f.content)} bytes of binary data)")


@app.command("install")
def install_command(
    name: str = typer.Argument(..., help="Target name, e.g. serato-dj-pro or mixxx."),
    dest: Path | None = typer.Option(None, "--dest", help=INSTALL_DEST_HELP),
    create: bool = typer.Option(False, "--create", help="Make the --dest folder (and those above it) if missing."),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """Write the target's mapping files where its host looks for them (backing up what they replace)."""
    from copilot.mappings.install import InstallError, install

    target = _target(name)
    files = _files(target)
    folders = _folders(target, dest, files, create)
    try:  # the host's own folders are made as needed; a --dest only with --create
        result = install(name, files, folders, dry_run=dry_run, create=create or dest is None)
    except InstallError as exc:
        typer.echo(f"{name}: {exc}", err=True)
        raise typer.Exit(1) from None
    head = "would" if dry_run else "did"
    _steps(f"{name}: {head}:", result.steps)
    if not dry_run and not result.changed:
        typer.echo("  (nothing to change: already installed)")
    steps = target.install_steps()
    if steps:
        from .words import wrap

        typer.echo("\nThen, in the host:" if not dry_run else "\nAfterwards, in the host:")
        for i, step in enumerate(steps, 1):
            typer.echo("\n".join(wrap(step, first=f"  {i}. ")))


@app.command("uninstall")
def uninstall_command(
    name: str = typer.Argument(..., help="Target name, e.g. serato-dj-pro or mixxx."),
    dest: Path | None = typer.Option(None, "--dest", help=UNINSTALL_DEST_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """Remove the target's files and put back any file they replaced."""
    from copilot.mappings.install import InstallError, uninstall

    target = _target(name)
    files = _files(target)
    folders = _folders(target, dest, files, verb="uninstall")
    try:
        result = uninstall(name, files, folders, dry_run=dry_run)
    except InstallError as exc:
        typer.echo(f"{name}: {exc}", err=True)
        raise typer.Exit(1) from None
    _steps(f"{name}: {'would' if dry_run else 'did'}:", result.steps)
