"""copilot.toml → `EngineSettings`: the `[targets.standalone]` table and its `[master]` and `[loudness]`.

    [targets.standalone]           samplerate = 48000   decks = 2   ceiling_dbtp = -1.0   keylock = true
    [targets.standalone.master]    enabled = true   hpf_hz = 25   tilt_db = 0   tilt_hz = 1000
                                   compressor = true   threshold_db = -10   ratio = 2   knee_db = 6
                                   attack_ms = 30   release_ms = 400   rms_ms = 50   makeup_db = 0
    [targets.standalone.loudness]  match = true   target_lufs = -14
    [targets.standalone]           fallback_minutes = 60   play_wait_bars = 8   (no sound device; slow decodes)

Every value is checked: one that is the wrong type, out of range or unknown is named in a sentence
(returned with the settings, for the target to report) and its default is kept; nothing else is lost.
"""

from __future__ import annotations

from typing import Any

from .state import EngineSettings, MasterSettings

# name → (lo, hi, unit) for numbers; None for a switch (true/false)
MASTER: dict[str, tuple[float, float, str] | None] = {
    "enabled": None, "hpf_hz": (0.0, 80.0, "Hz"), "tilt_db": (-6.0, 6.0, "dB"), "tilt_hz": (100.0, 8000.0, "Hz"),
    "compressor": None, "threshold_db": (-40.0, 0.0, "dB"), "ratio": (1.0, 10.0, ":1"), "knee_db": (0.0, 24.0, "dB"),
    "attack_ms": (1.0, 500.0, "ms"), "release_ms": (20.0, 5000.0, "ms"), "rms_ms": (5.0, 1000.0, "ms"),
    "makeup_db": (0.0, 12.0, "dB"),
}
LOUDNESS: dict[str, tuple[float, float, str] | None] = {"match": None, "target_lufs": (-30.0, -5.0, "LUFS")}
TOP: dict[str, tuple[float, float, str] | None] = {
    "samplerate": (8000.0, 192000.0, "Hz"), "decks": (1.0, 4.0, "decks"), "ceiling_dbtp": (-6.0, 0.0, "dBTP"),
    "keylock": None,
}
LOUDNESS_FIELDS = {"match": "loudness_match", "target_lufs": "target_lufs"}
# Settings the target itself reads (not the kernel's): name → (rule, default)
TARGET: dict[str, tuple[tuple[float, float, str], float]] = {
    "fallback_minutes": ((0.01, 24 * 60.0, "min"), 60.0),  # the no-sound-device WAV stops here
    "play_wait_bars": ((0.0, 64.0, "bars"), 8.0),  # a PLAY waits this long for its track to decode
}


def _check(table: str, name: str, value: Any, rule: tuple[float, float, str] | None,
           problems: list[str]) -> Any:
    """The value if it fits the rule, else None (and a sentence in `problems`)."""
    where = f"[{table}] {name}"
    if rule is None:
        if isinstance(value, bool):
            return value
        problems.append(f"{where} must be true or false, not {value!r}; kept the default")
        return None
    lo, hi, unit = rule
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        problems.append(f"{where} must be a number ({lo:g}..{hi:g} {unit}), not {value!r}; kept the default")
        return None
    if not lo <= value <= hi:
        problems.append(f"{where} = {value:g} is outside {lo:g}..{hi:g} {unit}; kept the default")
        return None
    return value


def _table(config: dict[str, Any], key: str, table: str, problems: list[str]) -> dict[str, Any]:
    value = config.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"[{table}] must be a table; kept the defaults")
        return {}
    return value


def _section(config: dict[str, Any], key: str, table: str, rules: dict[str, tuple[float, float, str] | None],
             problems: list[str]) -> dict[str, Any]:
    """The values of one sub-table that fit their rules."""
    taken = {}
    for name, value in _table(config, key, table, problems).items():
        if name not in rules:
            problems.append(f"[{table}] has no setting {name!r} (known: {', '.join(rules)})")
            continue
        checked = _check(table, name, value, rules[name], problems)
        if checked is not None:
            taken[name] = checked
    return taken


def engine_settings(config: dict[str, Any], table: str = "targets.standalone") -> tuple[EngineSettings, list[str]]:
    """The engine's settings from its copilot.toml table, and a sentence for every value not taken."""
    problems: list[str] = []
    top = {}
    for name, rule in TOP.items():
        if name in config:
            value = _check(table, name, config[name], rule, problems)
            if value is not None:
                top[name] = int(value) if name in ("samplerate", "decks") else value
    master = _section(config, "master", f"{table}.master", MASTER, problems)
    loud = _section(config, "loudness", f"{table}.loudness", LOUDNESS, problems)
    settings = EngineSettings(**top, **{LOUDNESS_FIELDS[k]: v for k, v in loud.items()},
                              master=MasterSettings(**master))
    return settings, problems


def target_setting(config: dict[str, Any], name: str, problems: list[str],
                   table: str = "targets.standalone") -> float:
    """One of the target's own numbers (`TARGET`), checked like the rest; its default when not taken."""
    rule, default = TARGET[name]
    if name not in config:
        return default
    value = _check(table, name, config[name], rule, problems)
    return default if value is None else float(value)
