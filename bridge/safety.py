"""Safety policy: the rules the scheduler applies, as data a performer can read and tune in copilot.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from copilot.intents.schema import IntentKind

from .params import PARAMS, Param, with_caps


class Grid(StrEnum):
    NOW = "now"
    BEAT = "beat"
    BAR = "bar"
    PHRASE = "phrase"


DEFAULT_GRID: dict[IntentKind, Grid] = {
    IntentKind.PLAY: Grid.BAR,
    IntentKind.PAUSE: Grid.BAR,
    IntentKind.CUE: Grid.BEAT,
    IntentKind.SYNC: Grid.BEAT,
    IntentKind.LOOP: Grid.BEAT,
    IntentKind.EXIT_LOOP: Grid.BEAT,
    IntentKind.LOAD: Grid.BEAT,
    IntentKind.HOTCUE: Grid.BEAT,
    IntentKind.FX: Grid.BEAT,
    IntentKind.FX_OFF: Grid.BEAT,
    IntentKind.FILTER: Grid.BAR,
    IntentKind.TEMPO: Grid.BAR,
    IntentKind.BUILD: Grid.BAR,
    IntentKind.DROP: Grid.PHRASE,  # with "in N bars" it lands N bars on, counting this bar as one
    IntentKind.KEYLOCK: Grid.BEAT,
    IntentKind.KEY: Grid.BEAT,
    IntentKind.EQ: Grid.BEAT,
    IntentKind.FADER: Grid.BEAT,
    IntentKind.CROSSFADE: Grid.BAR,
    IntentKind.TRANSITION: Grid.PHRASE,  # the planner aligns it to the tracks' own phrases
    IntentKind.NEXT: Grid.PHRASE,
}

# Changes that are rate limited per deck, by group.
RATE_GROUPS: dict[IntentKind, str] = {
    IntentKind.LOOP: "loop",
    IntentKind.EXIT_LOOP: "loop",
    IntentKind.FX: "fx",
    IntentKind.FX_OFF: "fx",
    IntentKind.FILTER: "fx",
}


# Settings that changed name: an old copilot.toml keeps working.
RENAMED = {"control_lead": "move_lead"}


@dataclass
class SafetyConfig:
    phase_window: float = 1.0 / 32  # δ (beats): an intent this soon after a grid line still takes it
    min_lead: float = 0.004  # seconds: the soonest a discrete action can be promised on the grid
    move_lead: float = 0.0015  # seconds ahead a continuous move is stamped (motion: latency first)
    latency: float = 0.0  # seconds: the largest output latency among the session's targets
    grid: dict[IntentKind, Grid] = field(default_factory=lambda: dict(DEFAULT_GRID))
    phrase_bars: int = 8
    rate_limits: dict[str, float] = field(default_factory=lambda: {"loop": 1.0, "fx": 1.0})  # beats
    confirm_window: float = 6.0  # seconds to say "yes" to a risky action
    tempo_jump_cap: float = 3.0  # BPM: larger jumps wait for CONFIRM
    min_confidence: float = 0.5
    filter_bars: float = 1.0  # a FILTER move takes this many bars
    build_peak: float = 0.85  # filter position at the top of a build (high-pass side)
    build_send: float = 0.6  # FX send at the top of a build
    crossfade_bars: int = 8  # "crossfade to B" without a length
    glide_beats: float = 4.0  # a cancelled transition's parameters return to where they were over this
    decks: int = 2
    params: dict[str, Param] = field(default_factory=lambda: dict(PARAMS))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SafetyConfig:
        """From the [safety] table of copilot.toml; unknown keys are an error with the key's name."""
        cfg = cls()
        for key, value in data.items():
            key = RENAMED.get(key, key)
            if key == "grid":
                for kind, grid in value.items():
                    cfg.grid[IntentKind(kind.upper())] = Grid(grid)
            elif key == "rate_limits":
                cfg.rate_limits.update({k: float(v) for k, v in value.items()})
            elif key == "params":
                cfg.params = with_caps(value)
            elif hasattr(cfg, key):
                setattr(cfg, key, type(getattr(cfg, key))(value))
            else:
                raise ValueError(f"unknown [safety] setting {key!r}")
        return cfg
