"""copilot.toml: the performer's settings, from the user config folder (or --config / $COPILOT_CONFIG).

    [run]          target = "auto"   tempo = 124   quantum = 4   link = true
    [safety]       phase_window = 0.03125   tempo_jump_cap = 3   [safety.params.trim] hi = 0.6
    [targets.serato-dj-pro]   output_latency_ms = 12   port = "Copilot Out"
    [osc]          bind = "127.0.0.1:9100"   allow = ["192.168.1.20"]
    [ports]        api = "auto"
    [view]         bind = "127.0.0.1:8765"   allow = ["192.168.1.0/24"]   (the stage view: copilot.view)
    [link]         start_stop_sync = false
    [motion] … [voice] … [targets.standalone] …   (each area reads its own table)

Every key has a rule (bridge/settings.py): the spine's tables are below and in safety.py, each target
declares its own (`Target.config_rules`), the live inputs theirs (the `copilot_settings` hook).
`Config.check` holds a whole file to them before anything starts. A flag wins over the file, the file
over the default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from .ports import API_NAMES
from .settings import AnyOf, Choice, ListOf, Num, Rule, SettingError, Switch, Table, Text, validate

APP = "copilot"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP))


def default_path() -> Path:
    env = os.environ.get("COPILOT_CONFIG")
    return Path(env) if env else config_dir() / "copilot.toml"


class ConfigError(ValueError):
    """copilot.toml could not be read; the message names the file and the problem."""


def _bind(text: str) -> None:
    from .osc import Bind

    try:
        Bind.parse(text)
    except ValueError as exc:  # the rule already says what a bind looks like; keep only news (a port range)
        raise ValueError("" if str(exc).startswith("expected") else str(exc)) from None


def _allow(text: str) -> None:
    from .osc import AllowList

    try:
        AllowList([text])
    except ValueError:
        raise ValueError("") from None


# The rules of the spine's own tables. `copilot run` checks its flags against the same ones.
BIND = Text('[HOST:]PORT, or "" for off', check=_bind, empty=True, numbers=True)
ALLOW = Text("an address or network like 192.168.1.20 or 10.0.0.0/24", check=_allow)
MIDI_API = Choice(tuple(sorted(API_NAMES)), fold=True)
RUN = Table({
    "target": Text("a target name, several joined by commas, or auto"),
    "link": Switch(),
    "tempo": Num(20.0, 999.0, "BPM", note="Link's range"),
    "quantum": Num(1.0, 16.0, "beats"),
    "auto_wait": Num(0.0, 60.0, "s"),
    "wake_latency_us": AnyOf((Num(0, 100_000, "µs", integer=True), Choice(("off",), fold=True))),
})
OSC = Table({"bind": BIND, "allow": ListOf(ALLOW, single=True)})
PORTS = Table({"api": MIDI_API, "in": Text("a MIDI port name"),
               "native": Switch(), "lookahead_ms": Num(2.0, 200.0, "ms")})
LINK = Table({"start_stop_sync": Switch()})


def core_tables() -> dict[str, Rule]:
    from .safety import SAFETY

    return {"run": RUN, "safety": SAFETY, "osc": OSC, "ports": PORTS, "link": LINK}


@dataclass
class Config:
    data: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | str | None = None) -> Config:
        """Read copilot.toml. A missing default file is fine (defaults); a broken one is a clear error."""
        explicit = path is not None
        p = Path(path) if path is not None else default_path()
        if not p.exists():
            if explicit:
                raise ConfigError(f"no config file at {p}")
            return cls({}, None)
        try:
            raw = p.read_bytes()
        except IsADirectoryError:
            raise ConfigError(f"{p} is a folder; give the copilot.toml inside it") from None
        except OSError as exc:
            raise ConfigError(f"{p}: {exc.strerror or exc}") from None
        return cls.parse(raw, p)

    @classmethod
    def parse(cls, raw: bytes, path: Path) -> Config:
        """The file's bytes as settings (not yet checked against the rules: see `check`)."""
        try:
            return cls(tomllib.loads(raw.decode("utf-8")), path)
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a text file (copilot.toml is UTF-8 TOML)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def check(self, schema: Table) -> None:
        """Hold the whole file to `schema`; the first problem raises ConfigError naming file and key."""
        try:
            validate(self.data, schema)
        except SettingError as exc:
            raise ConfigError(f"{self.path or 'copilot.toml'}: {exc}") from None

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in {self.path} must be a table")
        return dict(value)

    def target(self, name: str) -> dict[str, Any]:
        return dict(self.section("targets").get(name, {}))

    def targets(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.section("targets").items() if isinstance(v, dict)}
