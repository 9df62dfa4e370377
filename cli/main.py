"""`copilot`: the command line. Each area lives in its own module with its own typer app."""

from __future__ import annotations

import importlib

import typer

from copilot import __version__

app = typer.Typer(
    name="copilot",
    help="A performer's co-pilot beside Serato DJ Pro, Ableton Live, Strudel and Mixxx.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# (module, command name): modules import their heavy libraries inside commands, so `copilot --help`
# stays fast.
SUB_APPS = [
    ("copilot.cli.intent", "intent"),
    ("copilot.cli.link", "link"),
    ("copilot.cli.mappings", "mappings"),
    ("copilot.cli.voice", "voice"),
    ("copilot.cli.motion", "motion"),
    ("copilot.cli.db", "db"),
    ("copilot.cli.transitions", "transitions"),
]
COMMANDS = [
    ("copilot.cli.run", "run"),
    ("copilot.cli.ports", "ports"),
    ("copilot.cli.doctor", "doctor"),
    ("copilot.cli.warm", "warm-up"),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"copilot {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Voice and motion into beat-quantized MIDI/OSC, under one safety scheduler on Ableton Link."""


for module_name, name in SUB_APPS:
    app.add_typer(importlib.import_module(module_name).app, name=name)
for module_name, name in COMMANDS:
    app.command(name=name)(importlib.import_module(module_name).command)


def main() -> None:
    app()
