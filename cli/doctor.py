"""`copilot doctor`: what works on this machine, what does not, and how to fix it."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def lines(checks: list, total: int | None = None) -> list[str]:  # list[Check]
    """One block per check, wrapped to the terminal: mark, name, what was found, and the fix. A path too
    long for the column goes on a line of its own beneath, whole."""
    from .words import width, wrap

    total = total or width()
    name_w = min(18, max((len(c.name) for c in checks), default=0))
    column = 4 + name_w + 2
    out = ["copilot doctor"]
    for c in checks:
        head = f"{'ok' if c.ok else '!!':>3} {c.name}"
        if len(c.name) > name_w:  # a long name has its line; what was found goes beneath, in the column
            out.append(head)
            head = ""
        for text, label in ((c.detail, ""), (c.fix, "fix: ")):
            if not text:
                continue
            said = label + text
            longest = max(len(word) for word in said.split())
            indent = column if longest <= total - column else max(0, min(6, total - longest))
            if head and indent == column:
                out += wrap(said, first=head.ljust(column), total=total)
            else:
                if head:
                    out.append(head)
                out += wrap(said, indent=indent, total=total)
            head = ""
        if head:
            out.append(head)
    return out


def command(
    config: Path | None = typer.Option(None, help="copilot.toml to check (default: the user config folder)."),
    link_wait: float = typer.Option(1.0, "--link-wait", min=0.0, max=30.0, help="Seconds to look for Link peers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check MIDI ports, the MIDI API, Link peers, audio devices, models and plugins."""
    from copilot.bridge.diagnose import run_checks

    checks = run_checks(config, link_wait)
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        typer.echo("\n".join(lines(checks)))
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
