"""copilot.toml: the performer's settings, from the user config folder (or --config / $COPILOT_CONFIG).

    [run]          target = "auto"   tempo = 124   quantum = 4   link = true
    [safety]       phase_window = 0.03125   tempo_jump_cap = 3   [safety.params.trim] hi = 0.6
    [targets.serato-dj-pro]   output_latency_ms = 12   port = "Copilot Out"
    [osc]          bind = "127.0.0.1:9100"   allow = ["192.168.1.20"]
    [ports]        api = "auto"
    [view]         bind = "127.0.0.1:8765"   allow = ["192.168.1.0/24"]   (the stage view: copilot.view)
    [motion] … [voice] … [db] … [engine] …   (each area reads its own table)

Every option also exists on the command line; the command line wins.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

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
            with open(p, "rb") as fh:
                return cls(tomllib.load(fh), p)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{p}: {exc.strerror}") from exc

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in {self.path} must be a table")
        return dict(value)

    def target(self, name: str) -> dict[str, Any]:
        return dict(self.section("targets").get(name, {}))

    def targets(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.section("targets").items() if isinstance(v, dict)}
