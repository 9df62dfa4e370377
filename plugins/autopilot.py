"""`autopilot`: a planner that plays a set — on the built-in engine, or on any host with `--autopilot`.

It is a performer like any other, and an input like motion and voice: found through `copilot_inputs`,
it speaks the same vocabulary to the session's safety scheduler (source PLANNER), which decides when
anything happens. It plays by itself when the built-in engine (`standalone`) is the target and nothing
else is listening (no --script, --voice, --motion-osc, --mocopi; `[targets.standalone] autopilot =
false` turns it off); `copilot run --autopilot` asks for it beside any target and any other input.
Live it runs on a thread of its own; in an offline render (`--out`) the session ticks it block by
block on virtual time.

The set: the crate (or the phrase database) ordered once by `phrase_db.setlist` — every step within
one Camelot step and 6 % of tempo wherever the crate allows, the energy following the set's arc —
tracks known to be unplayable left out, and one that fails to load skipped in one line. Per track, with
X the playing deck and Y the other one:

    load the next track on Y (soon after the last mix ended)
    →  "mix into Y" aimed at the phrase line where X's outro begins (the session's mixer picks the
       template from the pair and aligns it to both tracks' phrases; the transition plays Y and stops X)
    →  the next track, from the transition's end

It yields to the performer: the scheduler hands any running transition of the planner over to a
performer who touches the mix (see SafetyScheduler), and the autopilot itself drops what it meant to do
next and waits until the performer has left the decks alone for a while, then picks up from whatever
is playing. It never confirms anyone's intent but its own (CONFIRM names its intent's id).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from copilot.bridge.host import Input, SessionApi, hookimpl
from copilot.bridge.scheduler import Decision, Verdict
from copilot.bridge.state import Truth
from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.phrase_db.mixing import Mixer, track_grid
from copilot.phrase_db.mixlib import MixTrack
from copilot.phrase_db.setlist import MAX_WHOLE, energy_of, plan_set

LOAD_AFTER = 8.0  # beats after a mix ends before the next track is loaded onto the deck that stopped
ASK_AHEAD = 16.0  # beats before the outro's phrase line the transition is asked for
YIELD_BEATS = 64.0  # the performer left the decks alone this long: the planner picks the set up again
MIX_BARS = 16  # the longest transition the planner leaves room for before a track's end
TAKES = frozenset({IntentKind.LOAD, IntentKind.TEMPO})  # its own questions the planner answers itself


@dataclass(order=True)
class Step:
    at: float  # clock beat to act on
    seq: int
    what: str = field(compare=False)
    run: Callable[[], Any] = field(compare=False)


class Autopilot:
    """The set and its moves, on whatever clock the session keeps (ticked offline, threaded live)."""

    def __init__(self, mixer: Mixer, report: Callable[[str], None], transitions: int | None = None,
                 unplayable: Callable[[str], bool] | None = None, on_disk: Callable[[str], bool] | None = None) -> None:
        self.mixer = mixer
        self.report = report
        self.transitions = transitions
        self.unplayable = unplayable or (lambda path: False)
        self.on_disk = on_disk or (lambda path: True)  # False: a track still being written (first run)
        self.session: Any = None
        self.order: list[MixTrack] = []
        self.next_index = 0
        self.steps: list[Step] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.own: set[str] = set()  # ids of the intents the planner asked for
        self.out_deck = Deck.A
        self.put_on: dict[Deck, MixTrack] = {}  # what the planner put on each deck (`loaded` is the engine's word)
        self.mix_intent: str | None = None  # its transition waiting or running
        self.mix_end: float | None = None
        self.done_transitions = 0
        self.planned_end = 0.0
        self.yield_until: float | None = None  # beat until which the performer has the decks
        self._performer_acted = False
        self.lengths: dict[str, float] = {}  # path → length in beats, learned when the engine loads a file

    # -- the set ------------------------------------------------------------------------------------------
    def start(self, session: Any, threaded: bool = True) -> None:
        self.session = session
        tracks = [t for t in self.mixer.library.tracks.values() if not self.unplayable(t.path)]
        if not tracks:
            raise ValueError("the autopilot found no playable track to play")
        if len(tracks) > MAX_WHOLE:  # a whole library: the set is chosen one track at a time
            self.order = [min(tracks, key=lambda t: (energy_of(t), t.title))]
        else:  # opening with a track that can be decoded now, while the rest are still being written
            written = [t for t in tracks if self.on_disk(t.path)]
            self.order = plan_set(tracks, written[0] if written and len(written) < len(tracks) else None)
        clock = session.clock
        now = clock.beat_at_time(clock.now())
        first = self._take()
        assert first is not None
        start = (math.floor(now / clock.quantum) + 2) * clock.quantum  # the bar after next: decoding time
        self._add(now, f"load {first.title} on A", lambda: self._load(Deck.A, first))
        self._add(now, "crossfader to A", lambda: self._intent(IntentKind.CROSSFADE, None, None, to="A", bars=0))
        self._add(start - 4, f"play A on beat {start:g}", lambda: self._intent(IntentKind.PLAY, Deck.A, start))
        self.out_deck = Deck.A
        self.planned_end = start + (first.beats or 64.0)
        self._add(start + 1, "plan the next mix", self._plan_next)
        if threaded:
            self._thread = threading.Thread(target=self._run, name="copilot-autopilot", daemon=True)
            self._thread.start()

    def _take(self, after: MixTrack | None = None) -> MixTrack | None:
        """The next track of the set that can play (past the planned order: the phrase DB's pick)."""
        if self.next_index >= len(self.order) and after is not None and self.session is not None:
            view = self.session.mix_view()
            lib = self.mixer.library
            row = lib.rows_of.get(after.id)
            choice = self.mixer.choose_next(after, None if row is None else int(row[-1]), view)
            if choice is not None:
                self.order.append(choice.track)
        while self.next_index < len(self.order):
            track = self.order[self.next_index]
            self.next_index += 1
            if not self.unplayable(track.path) and track.path not in self.mixer.unplayable:
                return track
            self.report(f"autopilot: skipping '{track.title}': it cannot be played")
        return None

    def _plan_next(self) -> None:
        """X plays: load the set's next track on Y and ask for the mix on X's outro line."""
        if self.transitions is not None and self.done_transitions >= self.transitions:
            return
        x = self.out_deck
        y = Deck.from_index(x.index ^ 1)
        view = self.session.mix_view()
        out = view.deck(x.value)
        track = self.mixer.library.find(out.track)
        if not out.playing or out.anchor is None:
            self.report(f"autopilot: deck {x} is not playing a track it knows; waiting for the performer")
            return
        grid = track_grid(track, out.track)
        end = grid.end if grid.end is not None else self.lengths.get(str((out.track or {}).get("path")), 256.0)
        outro = next((4.0 * p.start_bar for p in (track.phrases if track else ()) if p.label == "outro"), None)
        line = outro if outro is not None else max((b for b in grid.lines if b <= end - 4 * MIX_BARS),
                                                   default=max(0.0, end - 4 * MIX_BARS))
        at = out.anchor + line
        nxt = self._take(track)
        if nxt is None:
            self.planned_end = out.anchor + end
            self.report("autopilot: the set is over after this track")
            return
        now = self.session.clock.beat
        self._add(max(now, at - 4 * MIX_BARS), f"load {nxt.title} on {y}", lambda: self._load(y, nxt))
        self._add(at - ASK_AHEAD, f"mix into {y} on beat {at:g}", lambda: self._mix(y, at, nxt))
        self.planned_end = at + 4 * MIX_BARS + (nxt.beats or 64.0)

    def _mix(self, y: Deck, at: float, track: MixTrack) -> None:
        host = self.session.state.deck(y)
        if host.truth is Truth.HOST and host.track and host.track != track.title:
            # the engine could not play it (and says what the deck holds): the next track instead
            self.mixer.unplayable.add(track.path)
            self.report(f"autopilot: '{track.title}' did not load on deck {y}; the next track instead")
            self._plan_next()
            return
        decision = self._intent(IntentKind.TRANSITION, None, at, to=y.value)
        if decision is not None and decision.verdict is Verdict.SCHEDULED:
            self.mix_intent = decision.intent.id
            mark = next(a for a in decision.actions if a.kind.value == "TRANSITION")
            self.mix_end = float(mark.params["end"])
            self._add(self.mix_end + LOAD_AFTER, "next track", self._handed_over(y))

    def _handed_over(self, y: Deck) -> Callable[[], None]:
        def run() -> None:
            self.out_deck = y
            self.mix_intent = None
            self.done_transitions += 1
            self._plan_next()

        return run

    # -- acting through the session ------------------------------------------------------------------------
    def _intent(self, kind: IntentKind, deck: Deck | None, beat: float | None, **args: Any) -> Decision | None:
        intent = Intent(kind, deck, args, source=Source.PLANNER, at_beat=beat, text="autopilot")
        self.own.add(intent.id)
        decision = self.session.submit(intent)
        if decision is not None and decision.verdict is Verdict.AWAITING_CONFIRM and kind in TAKES:
            decision = self.session.submit(Intent(IntentKind.CONFIRM, args={"id": intent.id}, source=Source.PLANNER,
                                                  text="autopilot"))
        return decision

    def _load(self, deck: Deck, track: MixTrack) -> Decision | None:
        self.put_on[deck] = track
        return self._intent(IntentKind.LOAD, deck, None, query=track.title)

    def loaded(self, deck: int, track: Any) -> None:
        """The engine finished loading a file: its real length, for tracks no analysis or sidecar describes."""
        beats = getattr(track, "beats", None)
        if beats:
            self.lengths[str(track.path)] = float(beats)

    # -- yielding to the performer --------------------------------------------------------------------------
    def heard(self, decision: Decision) -> None:
        """Every decision (deciding thread): a performer's accepted move means the planner steps back."""
        if decision.intent.source is Source.PLANNER or decision.intent.id in self.own:
            return
        if decision.verdict in (Verdict.SCHEDULED, Verdict.DONE) and decision.intent.kind is not IntentKind.CONFIRM:
            self._performer_acted = True

    def _yield(self, beat: float) -> None:
        with self._lock:
            dropped = len(self.steps)
            self.steps.clear()
        first = self.yield_until is None
        self.yield_until = beat + YIELD_BEATS
        if first:
            self.report(f"autopilot: the performer has the decks ({dropped} planned move(s) dropped); the set "
                        f"picks up after {YIELD_BEATS / 4:g} bars without a move")

    def _resume(self) -> None:
        """The performer has left the decks alone: carry on from whatever plays."""
        self.yield_until = None
        view = self.session.mix_view()
        playing = [d for d in view.decks.values() if d.playing]
        if len(playing) != 1:
            self.yield_until = self.session.clock.beat + YIELD_BEATS / 4  # a mix in progress: look again soon
            return
        self.out_deck = Deck(playing[0].deck)
        self.report(f"autopilot: picking the set up again from deck {self.out_deck}")
        self._plan_next()

    # -- running --------------------------------------------------------------------------------------------
    def _add(self, at: float, what: str, run: Callable[[], Any]) -> None:
        with self._lock:
            self.steps.append(Step(at, self._seq, what, run))
            self._seq += 1
            self.steps.sort()

    def tick(self, now: float | None = None) -> None:
        """Run every step whose beat has come (offline: called each block; live: every 20 ms)."""
        clock = self.session.clock
        beat = clock.beat_at_time(clock.now() if now is None else now)
        if self._performer_acted:
            self._performer_acted = False
            self._yield(beat)
        if self.yield_until is not None:
            if beat >= self.yield_until:
                self._resume()
            return
        while True:
            with self._lock:
                if not self.steps or self.steps[0].at > beat:
                    return
                step = self.steps.pop(0)
            try:
                step.run()
            except Exception as exc:  # noqa: BLE001 - the autopilot must never take the session down
                self.report(f"autopilot: {step.what} failed: {exc}")

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
    """Plays the set once the session is wired: live on its own thread, offline on `tick`."""

    name = "autopilot"
    offline = True

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = dict(options)
        self.planner: Autopilot | None = None
        self.session: SessionApi | None = None
        self.engine: Any = None

    def start(self, session: SessionApi) -> None:
        mixer = getattr(session, "mixer", None)
        asked = bool(self.options.get("autopilot"))
        engine = next((t for t in getattr(session, "targets", [])[:1] if getattr(t, "builtin_engine", False)), None)
        if not asked and (engine is None or not getattr(engine, "crate", None)):
            return  # a host plays and nobody asked for the autopilot, or the engine has nothing to play
        if mixer is None:
            session.report("autopilot: no transition planner is installed (the phrase-db plugin); not mixing")
            return
        crate = getattr(engine, "crate", None)

        def unplayable(path: str) -> bool:  # the engine marks crate tracks it could not play
            entry = crate.entry(path) if crate is not None and hasattr(crate, "entry") else None
            return getattr(entry, "problem", None) is not None

        know = getattr(mixer, "know_tracks", None)
        if crate is not None and know is not None:  # the crate's tracks, also those not written yet
            know([(t.path, t.meta) for t in crate.tracks])
        offline = bool(self.options.get("out"))
        planner = Autopilot(mixer, session.report, unplayable=unplayable, on_disk=getattr(crate, "on_disk", None))
        if offline and self.options.get("duration") is None:
            planner.transitions = 1  # a finite render: one full mix, A into B
        session.listen_decisions(planner.heard)
        listeners = getattr(engine, "load_listeners", None)
        if listeners is not None:  # the built-in engine says how long a file without a sidecar really is
            listeners.append(planner.loaded)
        self.planner, self.session, self.engine = planner, session, engine
        if not offline:
            session.report(f"autopilot: playing a set from {mixer.library.source} "
                           "(say anything, or give --script, to play it yourself)")
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
        listeners = getattr(self.engine, "load_listeners", None)
        if listeners is not None and self.planner.loaded in listeners:
            listeners.remove(self.planner.loaded)


@hookimpl
def copilot_inputs(options: dict[str, Any], config: dict[str, Any]) -> list[Input]:
    if options.get("autopilot"):
        return [AutopilotInput(options)]
    if any(options.get(name) for name in LISTENING):
        return []
    if ((config or {}).get("standalone") or {}).get("autopilot") is False:
        return []
    return [AutopilotInput(options)]
