"""Being written on main (the spine): replaced before the spine issue closes."""

from __future__ import annotations

import typer


def command() -> None:
    """Not yet wired."""
    typer.echo("not yet wired")
    raise typer.Exit(2)
