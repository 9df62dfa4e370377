"""`copilot db`: The phrase database: analyse a library, query it, plan the next phrase."""

from __future__ import annotations

import typer

app = typer.Typer(help="The phrase database: analyse a library, query it, plan the next phrase.", no_args_is_help=True)
