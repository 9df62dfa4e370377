"""`autopilot`: with no script and nobody talking, a planner that mixes the engine's crate on two decks.

It is a performer like any other, and an input like motion and voice: found through `copilot_inputs`,
it submits intents (source PLANNER) and transition envelopes to the session's safety scheduler, which
decides when they happen. It plays only when the built-in engine (`standalone`) is the target and
nothing else is listening (no --script, --voice, --motion-osc, --mocopi; `[targets.standalone]
autopilot = false` turns it off). Live it runs on a thread of its own; in an offline render
(`--out`) the session ticks it block by block on virtual time. Per transition, with X the playing
deck and Y the other one:

    load Y  →  Y's bass killed  →  play Y on the phrase where X's outro begins
    →  crossfader X→Y over 16 bars (smooth)  →  bass swap on the middle phrase
    →  pause X after the fade  →  load X with the next track

Tracks play at the clock's tempo (decks are varispeed-locked to the grid), so 118–128 BPM tracks
mix beat-matched without a tempo change.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from copilot.bridge.envelope import Breakpoint, Curve, Envelope
from copilot.bridge.host import Input, SessionApi, hookimpl
from copilot.engine.crate import Crate, CrateTrack
from copilot.engine.files import Track
from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.plugins.standalone import StandaloneTarget

PHRASE = 32.0  # beats
FADE_BEATS = 64.0  # 16 bars
LEAD = 4.0  # submit each step this many beats before it should happen


@dataclass(order=True)
class Step:
    at: float  # clock beat to submit on
    seq: int
    what: str = field(compare=False)
    run: Callable[[], Any] = field(compare=False)


class Autopilot:
    def __init__(self, crate: Crate, report: Callable[[str], None], transitions: int | None = None) -> None:
        if not len(crate):
            raise ValueError("the autopilot needs at least one track")
        self.crate = crate
        self.report = report
        self.transitions = transitions
        self.session: Any = None
        self.steps: list[Step] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._next_track = 0
        self.out_deck = Deck.A
        self.out_start = 0.0
        self.out_track: CrateTrack | None = None
        self.done_transitions = 0
        self.planned_end = 0.0
        self.on_deck: dict[Deck, CrateTrack] = {}  # what each deck really holds (the engine may substitute)

    # -- plan ---------------------------------------------------------------------------------------
    def _track(self) -> CrateTrack:
        """The next track in crate order that is not known to be unplayable (the engine marks those)."""
        for _ in range(len(self.crate)):
            t = self.crate.tracks[self._next_track % len(self.crate)]
            self._next_track += 1
            if t.problem is None:
                break
        return t

    def _add(self, at: float, what: str, run: Callable[[], Any]) -> None:
        with self._lock:
            self.steps.append(Step(at, self._seq, what, run))
            self._seq += 1
            self.steps.sort()

    def start(self, session: Any, threaded: bool = True) -> None:
        self.session = session
        clock = session.clock
        q = clock.quantum
        first = self._track()
        now_beat = clock.beat_at_time(clock.now())
        start = (math.floor(now_beat / q) + 2) * q  # the bar after next: time to decode the first track
        self.out_deck, self.out_start, self.out_track = Deck.A, start, first
        self._add(now_beat, f"load {first.title} on A", lambda: self._load(Deck.A, first))
        self._add(now_beat, "crossfader to A", lambda: self._hold("crossfader", None, start - 1, 0.0))
        self._add(now_beat, "A at full bass", lambda: self._hold("eq_low", Deck.A, start - 1, 0.5))
        self._add(start - LEAD, f"play A on beat {start:g}", lambda: self._intent(IntentKind.PLAY, Deck.A, start))
        self._plan_transition()
        if threaded:
            self._thread = threading.Thread(target=self._run, name="copilot-autopilot", daemon=True)
            self._thread.start()

    def _plan_transition(self) -> None:
        """Plan the next mix from the playing deck to the other, once the playing track's length is known."""
        x = self.out_deck
        track = self.out_track
        if track is None or not track.complete:
            return
        if self.transitions is not None and self.done_transitions >= self.transitions:
            self.planned_end = self.out_start + track.beats
            return
        y = Deck.B if x is Deck.A else Deck.A
        nxt = self._track()
        outro = track.outro_beat()
        into = outro if outro is not None else track.beats - FADE_BEATS
        into = max(PHRASE, math.floor(min(into, track.beats - FADE_BEATS) / PHRASE) * PHRASE)
        mix = self.out_start + into
        side_y = 1.0 if y is Deck.B else 0.0
        self._add(mix - 3 * PHRASE, f"load {nxt.title} on {y}", lambda: self._load(y, nxt))
        self._add(mix - 2 * PHRASE, f"{y} bass out", lambda: self._hold("eq_low", y, mix - PHRASE, 0.0))
        self._add(mix - LEAD, f"play {y} on beat {mix:g}", lambda: self._intent(IntentKind.PLAY, y, mix))
        self._add(mix - LEAD, f"crossfade {x}→{y} over 16 bars",
                  lambda: self._envelope("crossfader", None, mix, [(0.0, 1.0 - side_y, Curve.SMOOTH),
                                                                 (FADE_BEATS, side_y, Curve.LINEAR)]))
        swap = mix + FADE_BEATS / 2
        self._add(swap - LEAD, "bass swap", lambda: (
            self._envelope("eq_low", x, swap, [(0.0, 0.5, Curve.LINEAR), (1.0, 0.0, Curve.LINEAR)]),
            self._envelope("eq_low", y, swap, [(0.0, 0.0, Curve.LINEAR), (1.0, 0.5, Curve.LINEAR)])))
        end = mix + FADE_BEATS
        self._add(end, f"pause {x}", lambda: (self._intent(IntentKind.PAUSE, x, end + 4),
                                              self._intent(IntentKind.CONFIRM, None, None)))
        self.planned_end = end + max(PHRASE, nxt.beats - FADE_BEATS if nxt.complete else PHRASE)

        def hand_over() -> None:
            self.out_deck, self.out_start, self.out_track = y, mix, self.on_deck.get(y, nxt)
            self.done_transitions += 1
            self._plan_transition()

        self._add(end + 8, "next transition", hand_over)

    # -- acting through the session --------------------------------------------------------------------
    def _intent(self, kind: IntentKind, deck: Deck | None, beat: float | None, **args: Any) -> Any:
        intent = Intent(kind, deck, args, source=Source.PLANNER, at_beat=beat, text="autopilot")
        return self.session.submit(intent)

    def _load(self, deck: Deck, track: CrateTrack) -> Any:
        return self.session.submit(Intent(IntentKind.LOAD, deck, {"query": track.title}, source=Source.PLANNER,
                                          text=f"autopilot: {track.path.name}"))

    def _envelope(self, param: str, deck: Deck | None, start: float,
                  points: list[tuple[float, float, Curve]]) -> Any:
        env = Envelope(param, tuple(Breakpoint(b, v, c) for b, v, c in points), deck.value if deck else None)
        return self.session.scheduler.envelope(env.shifted(start), source=Source.PLANNER)

    def _hold(self, param: str, deck: Deck | None, beat: float, value: float) -> Any:
        return self._envelope(param, deck, beat, [(0.0, value, Curve.HOLD)])

    # -- running ------------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> None:
        """Run every step whose beat has come (offline: called each block; live: every 20 ms)."""
        clock = self.session.clock
        beat = clock.beat_at_time(clock.now() if now is None else now)
        while True:
            with self._lock:
                if not self.steps or self.steps[0].at > beat:
                    return
                step = self.steps.pop(0)
            try:
                step.run()
            except Exception as exc:  # noqa: BLE001 - the autopilot must never take the session down
                self.report(f"autopilot: {step.what} failed: {exc}")

    def loaded(self, deck: int, track: Track) -> None:
        """A deck finished loading: learn the track's real length and grid (files without sidecars). The
        engine may have loaded another track than the one asked for (that one could not play)."""
        entry = self.crate.entry(track.path)
        if entry is None:
            return
        on = Deck.from_index(deck)
        self.on_deck[on] = entry
        if on is self.out_deck and entry is not self.out_track:
            self.out_track = entry  # the track asked for could not play; the engine loaded this one instead
        if not entry.complete:
            entry.update_from(track)
            if entry is self.out_track:
                self._add(0.0, "plan the next transition", self._plan_transition)

    def planned_seconds(self, tempo: float, now_beat: float = 0.0) -> float:
        """How long the planned mix lasts from `now_beat` (offline renders without --duration)."""
        if not self.planned_end:
            return 240.0
        return max(30.0, (self.planned_end + 8.0 - now_beat) * 60.0 / tempo)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)


# -- the input ----------------------------------------------------------------------------------------------
LISTENING = ("script", "voice", "motion_osc", "mocopi")  # the performer plays: the autopilot keeps quiet


class AutopilotInput(Input):
    """Mixes the engine's crate once the session is wired: live on its own thread, offline on `tick`."""

    name = "autopilot"
    offline = True

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = dict(options)
        self.planner: Autopilot | None = None
        self.engine: StandaloneTarget | None = None
        self.session: SessionApi | None = None

    def start(self, session: SessionApi) -> None:
        engine = next((t for t in getattr(session, "targets", [])[:1] if isinstance(t, StandaloneTarget)), None)
        if engine is None or not engine.crate:
            return  # a host plays, or the engine has nothing to play: nothing to mix
        offline = bool(self.options.get("out"))
        planner = Autopilot(engine.crate, session.report)
        if offline and self.options.get("duration") is None:
            planner.transitions = 1  # a finite render: one full mix, A into B
        engine.load_listeners.append(planner.loaded)
        self.planner, self.engine, self.session = planner, engine, session
        if not offline:
            session.report(f"autopilot: mixing {engine.crate.source} "
                           "(give --script, --voice or --motion-osc to play it yourself)")
        planner.start(session, threaded=not offline)

    def tick(self, now: float) -> None:
        if self.planner is not None:
            self.planner.tick(now)

    def planned_seconds(self) -> float | None:
        if self.planner is None or self.session is None:
            return None
        clock = self.session.clock
        return self.planner.planned_seconds(clock.tempo, clock.beat)

    def stop(self) -> None:
        if self.planner is None:
            return
        self.planner.stop()
        if self.engine is not None and self.planner.loaded in self.engine.load_listeners:
            self.engine.load_listeners.remove(self.planner.loaded)


@hookimpl
def copilot_inputs(options: dict[str, Any], config: dict[str, Any]) -> list[Input]:
    if any(options.get(name) for name in LISTENING):
        return []
    if ((config or {}).get(StandaloneTarget.name) or {}).get("autopilot") is False:
        return []
    return [AutopilotInput(options)]
