"""The performer's own words: a TOML file of aliases, read before the grammar sees a sentence.

    # ~/.config/copilot/voice-aliases.toml (the folder `copilot doctor` shows)
    [aliases]
    "wobble" = "filter down eighty percent"
    "the banger" = "load dubby one eighteen"
    "lift off" = "eight bar build"

An alias is replaced wherever its words occur (whole words, any case); the longest alias wins.
A broken file is an `AliasError` naming the file and the problem; the voice then runs without
aliases rather than not at all.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

FILE_NAME = "voice-aliases.toml"


class AliasError(ValueError):
    """The alias file cannot be used; the message says which file and why."""


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path("copilot", appauthor=False)


def aliases_path(override: str | Path | None = None) -> Path:
    return Path(override).expanduser() if override else config_dir() / FILE_NAME


def load_aliases(path: str | Path | None = None, *, missing_ok: bool = True) -> dict[str, str]:
    """Aliases from `path` (default: the copilot config folder). A missing default file is no aliases."""
    file = aliases_path(path)
    if not file.exists():
        if missing_ok:
            return {}
        raise AliasError(f"no alias file at {file}")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise AliasError(f"cannot read {file}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AliasError(f"{file} is not valid TOML: {exc}") from exc
    table = data.get("aliases", {})
    if not isinstance(table, dict):
        raise AliasError(f"{file}: [aliases] must be a table of \"words\" = \"meaning\"")
    out: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip() or not str(key).strip():
            raise AliasError(f"{file}: alias {key!r} must map to a non-empty string, not {value!r}")
        out[str(key).strip()] = value.strip()
    return out
