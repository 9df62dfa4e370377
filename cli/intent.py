"""`copilot intent`: try the command grammar."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Intents: what the copilot understands.", no_args_is_help=True)


@app.command("parse")
def parse_command(
    text: str = typer.Argument(..., help='A command in words, e.g. "loop 4 on deck A".'),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: intent and confidence."),
) -> None:
    """Parse one command; prints the intent (or why it is not one). Exit code 1 if it is not a command."""
    from copilot.intents.parser import parse

    result = parse(text)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    elif result.intent is None:  # the reason says it in words ("not a command: 'hello'", "too long …")
        reason = result.reason
        typer.echo(reason if reason.startswith("not ") else f"not a command: {reason}")
    else:
        typer.echo(f"{result.intent.kind.value}: {result.intent.describe()} ({result.confidence:.0%})")
    if result.intent is None:
        raise typer.Exit(1)
