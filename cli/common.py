"""What every `copilot` command shares: one line and an exit code for bad input, and copilot.toml read
and held to its rules (bridge/settings.py) before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer

from copilot.bridge.config import RUN
from copilot.bridge.settings import Num, Rule, SettingError, check_flag

# Rules for flags several commands share (a flag that is also a setting uses the setting's rule).
FLAGS: dict[str, Rule] = {
    "duration": Num(0.0, 7 * 24 * 3600.0, "s", above=True),
    "tempo": RUN.fields["tempo"],
    "quantum": RUN.fields["quantum"],
    "speed": Num(0.0, 100.0, "× real time", above=True),
    "every": Num(1, 100000, "frames", integer=True),
    "bars": Num(2, 64, "bars", integer=True),
}


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit (2: bad input — a flag, a file, a setting; 1: it did not work)."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def check_flags(**values: Any) -> None:
    """Each flag given (not None) against its rule in FLAGS; the first that does not fit exits 2."""
    for name, value in values.items():
        if value is not None:
            try:
                check_flag("--" + name.replace("_", "-"), value, FLAGS[name])
            except SettingError as exc:
                fail(str(exc))


def load_config(path: Path | None = None, strict: bool = True) -> tuple[Any, Any]:
    """(Config, TargetHost) for `path` (default: the user config folder), every key checked against the
    rules of the spine, the installed targets and the plugins. A bad file exits 2 with one line; with
    `strict=False` (commands that only need a table or two) it is said and the defaults are used."""
    from copilot.bridge.config import Config, ConfigError
    from copilot.bridge.host import TargetHost

    try:
        config = Config.load(path)
        config.check(TargetHost().settings_schema())  # the rules of every installed target, unconfigured
        host = TargetHost(config.targets(), settings=config.data)
    except ConfigError as exc:
        if strict:
            fail(str(exc))
        typer.echo(f"ignoring copilot.toml: {exc}", err=True)
        config = Config()
        host = TargetHost({}, settings={})
    return config, host
