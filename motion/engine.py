"""The motion worker: registry → evidence → fast state → slow state → heads → mapper → controls.

A frame runs on the listener's own thread right after it stored new readings, when no other frame is
running and the last one is at least 1/`max_hz` old (no thread hand-off on the way from packet to
CC); otherwise the worker thread runs it, at most `max_hz` times a second (several phones arriving
together make one frame) and at least `idle_hz` times a second, so a performer whose sensors all went
quiet glides back to neutral instead of freezing mid-gesture. One lock keeps frames one at a time.
`step(now)` is the whole frame and is also what offline replay and calibration call, with a
virtual clock.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from copilot.bridge.params import PARAMS
from copilot.intents.schema import Deck

from .features import Features
from .limbs import LEFT, LIMBS, RIGHT, SLOTS
from .mapper import DEFAULT_MAPPINGS, Mapper, Mapping
from .phase import BeatLock
from .profile import Profile
from .registry import PerformerFrame, Registry
from .slow import SlowState
from .solver import HEAD_ENERGY, HEAD_PULSE, FastSolver
from .weights import FastWeights

log = logging.getLogger(__name__)

UPPER_SLOTS = (LIMBS.index("left_hand"), LIMBS.index("right_hand"), LIMBS.index("head"))
LOWER_SLOTS = (LIMBS.index("torso"), LIMBS.index("left_foot"), LIMBS.index("right_foot"))
SCALAR_STALE = 1.0  # seconds an onset/heart value stays valid
LIMB_SOURCES = tuple(f"limb:{name}" for name in LIMBS)

Send = Callable[[str, float, Deck | None], Any]


@dataclass
class MotionState:
    """What one frame computed for one performer (what `copilot motion listen --json` prints)."""

    performer: str
    t: float
    beat: float
    energy: float
    psi: float
    lock: float
    tension: float
    limbs: dict[str, float]
    present: list[str]
    residual: float
    iterations: int
    headroom: float
    error_bound: float
    slow: list[float]
    slow_residual: float
    x: list[float]
    deck: str | None
    outputs: dict[str, float] = field(default_factory=dict)

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        r = lambda v: round(float(v), digits)  # noqa: E731
        return {
            "performer": self.performer, "t": round(self.t, 6), "beat": r(self.beat), "energy": r(self.energy),
            "psi": r(self.psi), "lock": r(self.lock), "tension": r(self.tension),
            "limbs": {k: r(v) for k, v in self.limbs.items()}, "present": self.present,
            "residual": float(f"{self.residual:.3e}"), "iterations": self.iterations, "headroom": r(self.headroom),
            "error_bound": float(f"{self.error_bound:.3e}"), "slow": [r(v) for v in self.slow],
            "slow_residual": float(f"{self.slow_residual:.3e}"), "x_norm": r(math.sqrt(sum(v * v for v in self.x))),
            "deck": self.deck, "outputs": {k: r(v) for k, v in self.outputs.items()},
        }


class Performer:
    """Everything one performer's frames need, allocated once."""

    def __init__(self, name: str, profile: Profile, weights: FastWeights, mappings: Iterable[Mapping],
                 can: Callable[[str], bool] | None, deck: str | None, iterations: int, halpern: bool) -> None:
        self.name = name
        self.profile = profile
        self.frame = PerformerFrame()
        self.features = Features()
        self.solver = FastSolver(weights, iterations, halpern=halpern)
        self.slow = SlowState(self.solver.weights)
        self.lock = BeatLock(offset=profile.groove_offset)
        self.mapper = Mapper(mappings, can)
        self.deck_choice = deck  # "auto", "A".."D" or None
        self.deck: Deck | None = None
        self.limbs = [0.0] * SLOTS
        self.sources: dict[str, float] = {}
        self.outputs: list[tuple[str, float]] = []
        self.t = 0.0
        self.beat = 0.0
        self.frames = 0
        self.resting = True

    def state(self) -> MotionState:
        """This performer's last frame as a plain object (built only when someone asks)."""
        rep = self.solver.last()
        present = self.features.present
        src = self.sources
        return MotionState(
            self.name, self.t, self.beat, src.get("energy", 0.0), src.get("psi", 0.0), src.get("lock", 0.0),
            src.get("tension", 0.0), {n: self.limbs[s] for s, n in enumerate(LIMBS) if present[s]},
            [n for s, n in enumerate(LIMBS) if present[s]], rep.residual, rep.iterations, rep.headroom,
            rep.error_bound, self.slow.y.tolist(), self.slow.residual, self.solver.x.tolist(),
            self.deck.value if self.deck else None, dict(self.outputs),
        )


class MotionEngine:
    def __init__(
        self,
        registry: Registry,
        clock: Any,
        send: Send | None = None,
        *,
        profiles: Callable[[str], Profile] | None = None,
        weights: FastWeights | None = None,
        mappings: Iterable[Mapping] = DEFAULT_MAPPINGS,
        can: Callable[[str], bool] | None = None,
        deck: str | None = "auto",
        decks: Callable[[str], str | None] | None = None,
        state: Any = None,
        iterations: int = 4,
        halpern: bool = False,
        max_hz: float = 250.0,
        idle_hz: float = 20.0,
        on_state: Callable[[MotionState], None] | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.send = send
        self.profiles = profiles or (lambda name: Profile())
        self.base_weights = weights
        self.mappings = tuple(mappings)
        self.can = can
        self.deck = deck
        self.decks = decks
        self.state = state
        self.iterations = iterations
        self.halpern = halpern
        self.min_gap = 1.0 / max_hz
        self.idle = 1.0 / idle_hz
        self.on_state = on_state
        self.report = report or (lambda msg: log.warning("%s", msg))
        self.performers: dict[str, Performer] = {}
        self.frames = 0
        self.sent = 0
        self.send_errors = 0
        self.solve_ns = np.zeros(4096)  # recent frame costs (ring), for status and the soak bench
        self._thread: threading.Thread | None = None
        self._running = False
        self._reported: set[str] = set()
        self._busy = threading.Lock()  # one frame at a time, whichever thread runs it
        self._last_frame = 0.0

    # -- performers ------------------------------------------------------------------------------
    def performer(self, name: str) -> Performer:
        perf = self.performers.get(name)
        if perf is None:
            try:
                profile = self.profiles(name)
            except (OSError, ValueError) as exc:
                self._say(f"motion: {exc}; using default ranges for {name}")
                profile = Profile()
            try:
                weights = profile.weights(self.base_weights)
            except ValueError as exc:
                self._say(f"motion: {name}'s calibrated weights are unsafe ({exc}); using the defaults")
                weights = Profile().weights(self.base_weights)
            deck = self.decks(name) if self.decks else self.deck
            perf = Performer(name, profile, weights, self.mappings, self.can, deck, self.iterations, self.halpern)
            self.performers[name] = perf
        return perf

    # -- one frame -------------------------------------------------------------------------------
    def step(self, now: float | None = None, collect: bool = True) -> list[MotionState]:
        """Run every performer whose data moved (or who still has to glide back to rest)."""
        now = self.clock.now() if now is None else now
        out = []
        collect = collect or self.on_state is not None
        for name in self.registry.performer_names():
            perf = self.performer(name)
            t0 = time.perf_counter_ns()
            if self._frame(perf, now):
                self.solve_ns[self.frames % len(self.solve_ns)] = time.perf_counter_ns() - t0
                self.frames += 1
                if collect:
                    state = perf.state()
                    out.append(state)
                    if self.on_state is not None:
                        self.on_state(state)
        return out

    def _frame(self, perf: Performer, now: float) -> bool:
        changed = self.registry.snapshot(perf.name, perf.frame)
        f = perf.frame
        feats = perf.features
        alive = feats.frame(now, f, SCALAR_STALE)
        if not changed and alive == 0 and perf.resting:
            return False
        solver = perf.solver
        solver.step(feats.e, feats.mask, feats.level)
        x = solver.x
        beat = self.clock.beat_at_time(now)
        stretch = perf.slow.accumulate(x)
        if perf.slow.at_beat(beat, getattr(self.clock, "quantum", 4.0)):
            solver.set_slow(perf.slow.y)
            self._choose_deck(perf)
        elif perf.deck is None:
            self._choose_deck(perf)

        profile = perf.profile
        heads = solver.heads
        present = feats.present
        limbs = perf.limbs
        for s in range(SLOTS):
            limbs[s] = profile.limb(s, float(heads[s])) if present[s] else 0.0
        energy = profile.energy(float(heads[HEAD_ENERGY]))
        psi = perf.lock.update(float(heads[HEAD_PULSE]), beat)
        lock = perf.lock.lock
        tension = stretch * min(1.0, energy / 0.1)  # standing still is never tense
        left = max(limbs[LEFT[0]], limbs[LEFT[1]])
        right = max(limbs[RIGHT[0]], limbs[RIGHT[1]])
        both_sides = (present[LEFT[0]] or present[LEFT[1]]) and (present[RIGHT[0]] or present[RIGHT[1]])
        balance = (right - left) / (right + left + 0.05) * min(1.0, (right + left) / 0.2) if both_sides else 0.0
        src = perf.sources
        src["energy"] = energy
        src["tension"] = tension
        src["groove"] = energy * lock
        src["balance"] = balance
        src["upper"] = max(limbs[UPPER_SLOTS[0]], limbs[UPPER_SLOTS[1]], limbs[UPPER_SLOTS[2]])
        src["lower"] = max(limbs[LOWER_SLOTS[0]], limbs[LOWER_SLOTS[1]], limbs[LOWER_SLOTS[2]])
        src["lock"] = lock
        src["psi"] = psi
        for s, name in enumerate(LIMB_SOURCES):
            src[name] = limbs[s]
        perf.outputs = perf.mapper.update(src, now, beat)
        for param, value in perf.outputs:
            self._send(perf, param, value)
        perf.resting = energy == 0.0 and perf.mapper.at_rest()
        perf.t = now
        perf.beat = beat
        perf.frames += 1
        return True

    def _send(self, perf: Performer, param: str, value: float) -> None:
        if self.send is None:
            return
        deck = perf.deck if PARAMS[param].per_deck else None
        try:
            self.send(param, value, deck)
            self.sent += 1
        except Exception as exc:  # noqa: BLE001 - a target that refuses a parameter must not stop the motion
            self.send_errors += 1
            self._say(f"motion: sending {param} failed: {exc}")

    def _choose_deck(self, perf: Performer) -> None:
        """The deck per-deck parameters go to; 'auto' follows the playing deck, checked once a bar."""
        choice = perf.deck_choice
        if choice is None:
            new = None
        elif choice != "auto":
            new = Deck(choice.upper())
        else:
            new = Deck.A
            if self.state is not None:
                playing = [d for d, s in self.state.decks().items() if s.playing]
                if playing:
                    new = perf.deck if perf.deck in playing else playing[0]
        if new != perf.deck and perf.deck is not None:
            for row in perf.mapper.rows:  # leave the old deck as we found it
                spec = PARAMS[row.mapping.param]
                if spec.per_deck and row.sent != spec.neutral:
                    self._send(perf, row.mapping.param, spec.neutral)
                    row.sent = row.value = spec.neutral
                    row.last_beat = None  # restart smoothing from neutral on the new deck
        perf.deck = new

    def _say(self, msg: str) -> None:
        """Tell the performer once per distinct problem (a remembered few hundred, not an ever-growing set)."""
        if msg not in self._reported and len(self._reported) < 256:
            self._reported.add(msg)
            self.report(msg)

    # -- the worker thread -----------------------------------------------------------------------
    def warm_up(self) -> None:
        """Compile (or load from cache) every kernel now, so the first real frame is not the slow one."""
        perf = Performer("warm-up", Profile(), self.base_weights or Profile().weights(), (), None, None,
                         self.iterations, self.halpern)
        f = perf.frame
        f.n_accel[:] = 1
        f.t_accel[:] = 0.0
        f.accel[:, 2] = 1.0
        perf.features.frame(0.0, f, SCALAR_STALE)
        perf.solver.step(perf.features.e, perf.features.mask, 0.0)
        perf.slow.accumulate(perf.solver.x)
        perf.slow.at_beat(0.0, 4.0)
        perf.slow.at_beat(4.0, 4.0)

    def start(self) -> None:
        if self._thread is not None:
            return
        self.warm_up()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="copilot-motion", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self.registry.changed.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def kick(self) -> None:
        """A listener just stored readings: run the frame on its thread now if nothing else is running
        one and the last frame is not too recent (saves a thread hand-off); else the worker will."""
        if not self._running or time.perf_counter() - self._last_frame < self.min_gap:
            return
        if not self._busy.acquire(blocking=False):
            return
        try:
            self.registry.changed.clear()
            self._guarded_step()
        finally:
            self._busy.release()

    def _guarded_step(self) -> None:
        self._last_frame = time.perf_counter()
        try:
            self.step(collect=False)
        except Exception:  # keep motion alive; say it once
            log.exception("motion frame failed")
            self._say("motion: a frame failed (see the log); motion keeps running")

    def _run(self) -> None:
        changed = self.registry.changed
        while self._running:
            changed.wait(self.idle)
            if not self._running:
                break
            gap = time.perf_counter() - self._last_frame
            if gap < self.min_gap:  # several devices at once: one frame for all of them
                time.sleep(self.min_gap - gap)
            with self._busy:
                changed.clear()
                self._guarded_step()

    def status(self) -> dict[str, Any]:
        n = min(self.frames, len(self.solve_ns))
        costs = self.solve_ns[:n] / 1000.0
        return {
            "frames": self.frames, "sent": self.sent, "send_errors": self.send_errors,
            "frame_us_p50": float(np.percentile(costs, 50)) if n else None,
            "frame_us_p99": float(np.percentile(costs, 99)) if n else None,
            "performers": {name: p.state().to_dict() for name, p in self.performers.items() if p.frames},
        }
