"""`copilot doctor`: what works on this machine, what does not, and how to fix it."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def command(
    config: Path | None = typer.Option(None, help="copilot.toml to check (default: the user config folder)."),
    link_wait: float = typer.Option(1.0, "--link-wait", help="Seconds to look for Link peers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check MIDI ports, the MIDI API, Link peers, audio devices, models and plugins."""
    from copilot.bridge.diagnose import run_checks

    checks = run_checks(config, link_wait)
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="copilot doctor", show_lines=False)
        table.add_column("")
        table.add_column("check")
        table.add_column("state")
        table.add_column("fix")
        for c in checks:
            table.add_row("[green]ok[/]" if c.ok else "[red]!![/]", c.name, c.detail, c.fix)
        Console().print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
