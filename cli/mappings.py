"""`copilot mappings`: Install the files each host loads (Serato, Mixxx, Live, Strudel)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Install the files each host loads (Serato, Mixxx, Live, Strudel).", no_args_is_help=True)
