"""Safety policy: the rules the scheduler applies, as data a performer can read and tune in copilot.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from copilot.intents.schema import IntentKind

from .params import PARAMS, Param, with_caps
from .settings import Choice, Num, Table, validate


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


def _caps(p: Param) -> Table:
    """[safety.params.<name>]: tighter caps only; the built-in ones are hard (a gain never above 0.75)."""
    slope = Num(0.0, p.max_slope, "per beat", above=True, note="the built-in cap")

    def ordered(fields: dict[str, Any]) -> None:
        if fields.get("lo", p.lo) > fields.get("hi", p.hi):
            raise ValueError(f"lo {fields.get('lo', p.lo):g} is above hi {fields.get('hi', p.hi):g}")

    within = Num(p.lo, p.hi, note="the built-in caps")
    return Table({"lo": within, "hi": within, "max_slope": slope}, check=ordered)


MOVE_LEAD = Num(0.0, 0.05, "s")
# The [safety] table of copilot.toml. Ranges are hard: outside them a rule would be switched off
# (a NaN cap, a 0 % confidence floor) or the grid would stop making sense.
SAFETY = Table({
    "phase_window": Num(0.0, 0.5, "beats"),
    "min_lead": Num(0.0, 0.1, "s"),
    "move_lead": MOVE_LEAD,
    "control_lead": MOVE_LEAD,
    "phrase_bars": Num(1, 64, "bars", integer=True),
    "rate_limits": Table({"loop": Num(0.0, 16.0, "beats"), "fx": Num(0.0, 16.0, "beats")}),
    "confirm_window": Num(1.0, 60.0, "s"),
    "tempo_jump_cap": Num(0.0, 20.0, "BPM"),
    "min_confidence": Num(0.25, 1.0),
    "filter_bars": Num(0.25, 16.0, "bars"),
    "build_peak": Num(0.5, 1.0),
    "build_send": Num(0.0, 1.0),
    "crossfade_bars": Num(0, 64, "bars", integer=True),  # 0: a cut
    "glide_beats": Num(0.25, 64.0, "beats"),  # never a jump back: a glide within the slew caps
    # what a sender can make the scheduler hold: bounded, so a flood is refused rather than kept
    "horizon_bars": Num(1.0, 512.0, "bars"),
    "max_scheduled": Num(16, 4096, "intents", integer=True),
    "max_pending": Num(1, 256, "questions", integer=True),
    "decks": Num(1, 4, "decks", integer=True),
    "grid": Table(each=Choice(tuple(g.value for g in Grid), fold=True), names=[k.value for k in DEFAULT_GRID],
                  fold=True),
    "params": Table({name: _caps(p) for name, p in PARAMS.items()}),
})


@dataclass
class SafetyConfig:
    phase_window: float = 1.0 / 32  # δ (beats): an intent this soon after a grid line still takes it
    min_lead: float = 0.004  # seconds: the soonest a discrete action can be promised on the grid
    move_lead: float = 0.0015  # seconds ahead a continuous move is stamped (motion: latency first)
    latency: float = 0.0  # seconds: the largest output latency among the session's targets
    notice: float = 0.0  # seconds: the longest an output port needs a message before its time (one JACK cycle)
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
    # Bounds on what any sender (a LAN phone above all) can make the scheduler hold.
    horizon_bars: float = 64.0  # an intent's `at_beat` at most this far ahead (or behind) the beat now
    max_pending: int = 16  # questions waiting for a yes; more are refused
    max_scheduled: int = 256  # intents scheduled and not yet over; more are refused
    params: dict[str, Param] = field(default_factory=lambda: dict(PARAMS))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SafetyConfig:
        """From the [safety] table of copilot.toml, checked against SAFETY first: a value that would bend
        a rule (NaN, out of range, over a hard cap, an unknown key) raises SettingError naming it."""
        validate(data, SAFETY, ["safety"])
        cfg = cls()
        for key, value in data.items():
            key = RENAMED.get(key, key)
            if key == "grid":
                for kind, grid in value.items():
                    cfg.grid[IntentKind(kind.upper())] = Grid(grid.lower())
            elif key == "rate_limits":
                cfg.rate_limits.update({k: float(v) for k, v in value.items()})
            elif key == "params":
                cfg.params = with_caps(value)
            elif hasattr(cfg, key):
                setattr(cfg, key, type(getattr(cfg, key))(value))
            else:
                raise ValueError(f"unknown [safety] setting {key!r}")
        return cfg
