"""`copilot voice`: Speech to intents: transcribe files, listen live."""

from __future__ import annotations

import typer

app = typer.Typer(help="Speech to intents: transcribe files, listen live.", no_args_is_help=True)
