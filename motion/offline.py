"""Feed a take through the real sources, guards, registry and engine on a virtual clock.

No sockets and no waiting: the clock jumps to each datagram's time, the datagram goes through the
same `Source.datagram` a listener would call, and the engine runs one frame. Calibration, tests and
`copilot motion replay --offline` use this; live replay (`record.play`) sends real UDP instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from copilot.bridge.clock import ManualClock

from .engine import MotionEngine, MotionState
from .record import Datagram, Take
from .registry import DEFAULT_PERFORMER, DeviceRule, Registry
from .sources import MocopiSource, OscSource


def clock_for(take: Take) -> ManualClock:
    """A virtual clock on which the take's recorded beats come out again (t = seconds into the take)."""
    first = next((d for d in take.datagrams if d.beat is not None), None)
    start = 0.0 if first is None or first.beat is None else first.t - first.beat * 60.0 / take.tempo
    return ManualClock(tempo=take.tempo, quantum=take.quantum, start=start)


@dataclass
class Rig:
    """Registry + sources + engine wired together, as a live session would have them."""

    registry: Registry
    engine: MotionEngine
    clock: ManualClock
    osc: OscSource = field(init=False)
    mocopi: MocopiSource = field(init=False)

    def __post_init__(self) -> None:
        self.osc = OscSource(self.registry)
        self.mocopi = MocopiSource(self.registry)

    def feed(self, d: Datagram, t: float, step: bool = True) -> list[MotionState]:
        if t > self.clock.now():
            self.clock.advance(t - self.clock.now())
        (self.osc if d.kind == "osc" else self.mocopi).datagram(d.data, t, d.sender)
        return self.engine.step(t) if step else []

    def run(self, datagrams: Iterable[Datagram], tail: float = 0.0, tick: float = 0.01,
            on_frame: Callable[[list[MotionState]], None] | None = None) -> list[MotionState]:
        """Every datagram, then `tail` seconds of idle frames (sensors going stale, outputs at rest)."""
        states: list[MotionState] = []
        last = self.clock.now()
        for d in datagrams:
            frame = self.feed(d, d.t)
            last = d.t
            states += frame
            if on_frame is not None:
                on_frame(frame)
        t = last
        while t < last + tail:
            t += tick
            self.clock.advance(tick)
            frame = self.engine.step(t)
            states += frame
            if on_frame is not None:
                on_frame(frame)
        return states


def rig(take: Take, send: Callable[..., Any] | None = None, performer: str = DEFAULT_PERFORMER,
        rules: Iterable[DeviceRule] = (), **engine_kw: Any) -> Rig:
    clock = clock_for(take)
    registry = Registry(rules, default_performer=performer)
    engine = MotionEngine(registry, clock, send, **engine_kw)
    return Rig(registry, engine, clock)
