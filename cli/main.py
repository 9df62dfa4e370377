"""`copilot`: the command line. Each area lives in its own module with its own typer app.

Bad input never ends in a traceback: a mistyped command or flag is one line (with "did you mean"),
each command checks its own flags and files, and `main` is the last line of defence — anything
unexpected becomes one line naming the log that holds the details (`--debug` shows them instead).
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
import traceback
from pathlib import Path

import typer
from typer.exceptions import TyperException

from copilot import __version__

app = typer.Typer(
    name="copilot",
    help="A performer's co-pilot beside Serato DJ Pro, Ableton Live, Strudel and Mixxx.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help is plain text: "[run] target" in a help line is a copilot.toml table, not markup
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
    ("copilot.cli.rehearse", "rehearse"),
]
DEBUG = {"on": False}  # set by --debug, read by main() when something unexpected happens


def _version(value: bool) -> None:
    if value:
        typer.echo(f"copilot {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logging (for bug reports)."),
) -> None:
    """Voice and motion into beat-quantized MIDI/OSC, under one safety scheduler on Ableton Link."""
    if debug:
        DEBUG["on"] = True
        logging.basicConfig(level=logging.DEBUG)


for module_name, name in SUB_APPS:
    app.add_typer(importlib.import_module(module_name).app, name=name)
for module_name, name in COMMANDS:
    app.command(name=name)(importlib.import_module(module_name).command)


def error_log() -> Path:
    from copilot.bridge.config import log_dir

    return log_dir() / "errors.log"


def _keep(exc: BaseException) -> Path | None:
    """The traceback into the error log (for a bug report); None if even that cannot be written."""
    path = error_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} copilot {__version__}: {' '.join(sys.argv)}\n")
            fh.write("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return path


def _usage(exc: TyperException) -> int:
    """A mistyped command, flag or value: one line (typer's own "did you mean" kept), exit 2."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # `copilot db` alone: the help (already shown) is the answer
        if exc.format_message().strip():
            typer.echo(exc.format_message(), err=True)
        return exc.exit_code
    where = ctx.command_path if ctx is not None else "copilot"
    message = " ".join(exc.format_message().split())
    hint = f" (see {where} --help)" if ctx is not None else ""
    typer.echo(f"{where}: {message}{hint}", err=True)
    return exc.exit_code


def main(args: list[str] | None = None) -> None:
    try:
        code = app(args=args, prog_name="copilot", standalone_mode=False)
    except TyperException as exc:  # a usage error, or a file typer could not open
        code = _usage(exc)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("stopped", err=True)
        code = 130
    except Exception as exc:  # the last line of defence; every known bad input has its own message
        if DEBUG["on"]:
            raise
        kept = _keep(exc)
        where = f"details in {kept}" if kept else "details could not be written"
        typer.echo(f"copilot: something went wrong: {type(exc).__name__}: {exc} ({where}; --debug shows "
                   "them here)", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
