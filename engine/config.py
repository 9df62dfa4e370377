"""copilot.toml → `EngineSettings`: the `[targets.standalone]` table and its `[master]` and `[loudness]`.

    [targets.standalone]           samplerate = 48000   decks = 2   ceiling_dbtp = -1.0   keylock = true
    [targets.standalone.master]    enabled = true   hpf_hz = 25   tilt_db = 0   tilt_hz = 1000
                                   compressor = true   threshold_db = -10   ratio = 2   knee_db = 6
                                   attack_ms = 30   release_ms = 400   rms_ms = 50   makeup_db = 0
    [targets.standalone.loudness]  match = true   target_lufs = -14
    [targets.standalone]           fallback_minutes = 60   play_wait_bars = 8   (no sound device; slow decodes)

The rules are bridge/settings.py's, the same `copilot run` holds the whole file to before it starts
(a wrong value there stops the start with one line). Called directly (a test, another program), a value
that does not fit is named in a sentence returned with the settings and its default kept.
"""

from __future__ import annotations

from typing import Any

from copilot.bridge.settings import Num, Rule, SettingError, Switch, Table, shown, validate

from .state import EngineSettings, MasterSettings

MASTER: dict[str, Rule] = {
    "enabled": Switch(), "hpf_hz": Num(0.0, 80.0, "Hz"), "tilt_db": Num(-6.0, 6.0, "dB"),
    "tilt_hz": Num(100.0, 8000.0, "Hz"), "compressor": Switch(), "threshold_db": Num(-40.0, 0.0, "dB"),
    "ratio": Num(1.0, 10.0, ":1"), "knee_db": Num(0.0, 24.0, "dB"), "attack_ms": Num(1.0, 500.0, "ms"),
    "release_ms": Num(20.0, 5000.0, "ms"), "rms_ms": Num(5.0, 1000.0, "ms"), "makeup_db": Num(0.0, 12.0, "dB"),
}
LOUDNESS: dict[str, Rule] = {"match": Switch(), "target_lufs": Num(-30.0, -5.0, "LUFS")}
TOP: dict[str, Rule] = {
    "samplerate": Num(8000, 192000, "Hz", integer=True), "decks": Num(1, 4, "decks", integer=True),
    "ceiling_dbtp": Num(-6.0, 0.0, "dBTP"), "keylock": Switch(),
}
# Every engine key of [targets.standalone], for the standalone target's own rules.
RULES: dict[str, Rule] = {**TOP, "master": Table(MASTER), "loudness": Table(LOUDNESS)}
LOUDNESS_FIELDS = {"match": "loudness_match", "target_lufs": "target_lufs"}
# Settings the target itself reads (not the kernel's): name → (rule, default)
TARGET: dict[str, tuple[tuple[float, float, str], float]] = {
    "fallback_minutes": ((0.01, 24 * 60.0, "min"), 60.0),  # the no-sound-device WAV stops here
    "play_wait_bars": ((0.0, 64.0, "bars"), 8.0),  # a PLAY waits this long for its track to decode
}
TARGET_RULES: dict[str, Rule] = {name: Num(*bounds) for name, (bounds, _) in TARGET.items()}


def _taken(table: str, values: Any, rules: dict[str, Rule], problems: list[str]) -> dict[str, Any]:
    """The values of one table that fit their rules; a sentence in `problems` for each that does not."""
    path = table.split(".")
    if not isinstance(values, dict):
        problems.append(f"[{table}] must be a table, not {shown(values)}; kept the defaults")
        return {}
    taken = {}
    for name, value in values.items():
        rule = rules.get(name)
        if rule is None:
            problems.append(f"[{table}] has no setting {name!r} (known: {', '.join(rules)})")
            continue
        try:
            validate(value, rule, [*path, name])
        except SettingError as exc:
            problems.append(f"{exc}; kept the default")
            continue
        taken[name] = rule.take(value) if isinstance(rule, Num) else value
    return taken


def engine_settings(config: dict[str, Any], table: str = "targets.standalone") -> tuple[EngineSettings, list[str]]:
    """The engine's settings from its copilot.toml table, and a sentence for every value not taken."""
    problems: list[str] = []
    top = _taken(table, {k: v for k, v in config.items() if k in TOP}, TOP, problems)
    master = _taken(f"{table}.master", config.get("master", {}), MASTER, problems)
    loud = _taken(f"{table}.loudness", config.get("loudness", {}), LOUDNESS, problems)
    settings = EngineSettings(**top, **{LOUDNESS_FIELDS[k]: v for k, v in loud.items()},
                              master=MasterSettings(**master))
    return settings, problems


def target_setting(config: dict[str, Any], name: str, problems: list[str],
                   table: str = "targets.standalone") -> float:
    """One of the target's own numbers (`TARGET`), checked like the rest; its default when not taken."""
    _, default = TARGET[name]
    taken = _taken(table, {name: config[name]} if name in config else {}, TARGET_RULES, problems)
    return float(taken.get(name, default))
