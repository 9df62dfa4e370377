"""`copilot motion`: Motion sensors to fast/slow states and envelopes."""

from __future__ import annotations

import typer

app = typer.Typer(help="Motion sensors to fast/slow states and envelopes.", no_args_is_help=True)
