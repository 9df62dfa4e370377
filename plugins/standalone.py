"""`standalone`: the built-in numba engine as a target — two decks, mixer, FX, limiter, on a sound card
(or into a WAV), driven by the same scheduler as every host.

- Live: a cfunc PortAudio callback (engine/stream.py); with no sound device it says so and renders
  the session, in step with the clock, into a new WAV in the user data folder (engine/recorder.py),
  says where at the start and how much it wrote at the end, and stops at `fallback_minutes` (60).
- A deck never starts before its track is decoded: a PLAY that arrives while its deck's track is
  still decoding waits for it (up to `play_wait_bars`) and comes in on the grid, as far into the track
  as the set has moved on; later than that, or on an empty deck, it is refused with the reason.
- A crate track that cannot play (missing, corrupt, no beat) is said in one line and passed over: the
  autopilot's LOAD gets the next playable track instead; with none left the run ends, non-zero.
- Offline (`copilot run --out mix.wav`): `run_offline` renders block by block on the session's
  manual clock, faster than real time.
- With no script and no other input, the autopilot (plugins/autopilot.py, an input like any other)
  plays the crate (or the generated example crate) as a two-deck mix, so a fresh machine hears music
  from `copilot run`; the engine tells it when a track has loaded (`load_listeners`).
- Beside a host (`--adorn FOLDER`): the same engine plays one-shots on the grid (engine/adorn.py).
- Key-lock and key shift per deck (engine/keylock.py), loudness matching on load (engine/loudness.py),
  the master chain and its meters (engine.md); settings in `[targets.standalone]` (engine/config.py).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from copilot.bridge.actions import Action, ActionKind, Timed
from copilot.bridge.host import Capabilities, Check, Target, TargetContext, TargetUnavailable, hookimpl
from copilot.bridge.params import PARAMS
from copilot.bridge.progress import busy
from copilot.bridge.settings import PATH, AnyOf, Choice, Num, Rule, Switch, Table, Text
from copilot.bridge.state import DeckUpdate, HostState
from copilot.engine.config import RULES as ENGINE_RULES
from copilot.engine.config import TARGET_RULES, engine_settings, target_setting
from copilot.engine.control import ENGINE_PARAMS, EngineCmd, apply, render_action
from copilot.engine.crate import Crate, CrateError, NotReady
from copilot.engine.engine import Engine
from copilot.engine.files import Track, TrackError, load_track
from copilot.engine.keylock import KeyLock
from copilot.engine.loudness import offset, offset_db, track_lufs
from copilot.intents.schema import Deck, Source

ACTIONS = frozenset({
    ActionKind.PLAY, ActionKind.PAUSE, ActionKind.CUE, ActionKind.SYNC, ActionKind.LOOP, ActionKind.EXIT_LOOP,
    ActionKind.LOAD, ActionKind.HOTCUE, ActionKind.FX, ActionKind.FX_OFF, ActionKind.ENVELOPE,
    ActionKind.CONTROL, ActionKind.PANIC, ActionKind.DROP, ActionKind.KEYLOCK, ActionKind.KEY, ActionKind.TEMPO,
})
OFFLINE_CHUNK = 8192  # frames an offline render's session steps over at once while nothing is due


@dataclass
class _Held:
    """A PLAY that reached a deck whose track was still decoding."""

    beat: float | None  # the beat it was for
    since: float  # clock time it arrived


class StandaloneTarget(Target):
    name = "standalone"
    description = "the built-in engine: two decks, EQ, filter, FX, limiter (sound card or WAV)"
    auto_fallback = 2  # nothing else found: the engine plays the set itself
    builtin_engine = True
    config_rules: ClassVar[dict[str, Rule]] = {
        **Target.config_rules, **ENGINE_RULES, **TARGET_RULES,
        "device": AnyOf((Num(0, 1024, integer=True), Text("a PortAudio device name"))),
        "blocksize": Num(16, 4096, "frames", integer=True),
        "latency": AnyOf((Choice(("low", "high")), Num(0.0, 1.0, "s"))),
        "autopilot": Switch(),  # read by plugins/autopilot.py: false = never mix on its own
        "fallback_wav": PATH,
        "adorn": Table({"gain_db": Num(-40.0, 0.0, "dB"), "pattern": Switch(), "phrase_beats": Num(4, 128, "beats")}),
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.settings, self._config_problems = engine_settings(c)
        self.fallback_minutes = target_setting(c, "fallback_minutes", self._config_problems)
        self.play_wait_bars = target_setting(c, "play_wait_bars", self._config_problems)
        self.blocksize = int(c.get("blocksize", 64))
        self.device = c.get("device")
        self.latency = c.get("latency", "low")
        self.engine: Engine | None = None
        self.keylock: KeyLock | None = None
        self.runner: Any = None
        self.adorner: Any = None
        self.crate: Crate | None = None
        self.offline = False
        self.rendered: np.ndarray | None = None  # an offline render into memory (`out_memory`): frames × 2
        self.rendered_decks: np.ndarray | None = None  # and each deck alone (`out_decks`): decks × frames × 2
        self.fallback_wav: Path | None = None
        self._context: TargetContext | None = None
        self._loads: dict[str, cf.Future[Track]] = {}
        self._decoding: dict[int, str] = {}  # deck → the LOAD decided for it and not on it yet
        self._held: dict[int, _Held] = {}  # deck → a PLAY waiting for that LOAD
        self._not_playing: dict[int, float] = {}  # deck → when a PLAY for it was refused (clock time)
        self._deck_lock = threading.Lock()
        self._loader = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="copilot-engine-loader")
        self._reported: dict[int, dict[str, Any]] = {}
        self._refused: dict[int, int] = {}
        self.load_listeners: list[Callable[[int, Track], None]] = []  # (deck, track) once a deck has loaded

    # -- lifecycle ----------------------------------------------------------------------------------
    def open(self, context: TargetContext) -> None:
        super().open(context)
        self._context = context
        opts = context.options
        self.engine = Engine(self.settings)
        self.offline = bool(opts.get("out") or opts.get("out_memory"))
        for problem in self._config_problems:
            context.report(problem)
        if opts.get("adornment"):
            from copilot.engine.adorn import Adorner

            self.adorner = Adorner(self.engine, context.clock, Path(opts["adorn"]), context.report,
                                   self.config.get("adorn", {}))
        else:
            try:
                self.crate = Crate.from_options(opts, context.report)
            except CrateError as exc:
                raise TargetUnavailable(str(exc)) from None
            if self.crate is not None and not self.crate.playable():
                raise TargetUnavailable(f"nothing in {self.crate.source} can play (every track was skipped above)")
            self.keylock = KeyLock(self.engine, context.clock, context.report, live=not self.offline,
                                   keylock=self.settings.keylock)
        if self.offline:
            self.output_latency = 0.0
        else:
            self._open_live(context)
        if opts.get("output_latency_ms") is not None:  # the performer's measured figure wins
            self.output_latency = float(opts["output_latency_ms"]) / 1000.0

    def _open_live(self, context: TargetContext) -> None:
        from copilot.engine.stream import EngineStream, NoAudioDevice, warm_up

        assert self.engine is not None
        with busy("loading the engine's kernels (compiled once by set-up, then cached)", context.report):
            warm_up()
        stream = EngineStream(self.engine, context.clock, self.device, self.blocksize, self.latency)
        try:
            stream.open()
            self.runner = stream
            context.report(f"engine: {self.settings.samplerate} Hz, {self.blocksize}-frame blocks, output latency "
                           f"{stream.latency * 1000:.1f} ms")
        except NoAudioDevice as exc:
            from copilot.engine.paced import PacedRenderer
            from copilot.engine.recorder import fallback_wav

            self.fallback_wav = fallback_wav(self.config.get("fallback_wav"))
            context.report(f"no sound device ({exc}): playing into {self.fallback_wav} instead, until Ctrl-C "
                           f"or {self.fallback_minutes:g} min")
            self.runner = PacedRenderer(self.engine, context.clock, self.fallback_wav,
                                        max_seconds=self.fallback_minutes * 60.0)
            self.runner.on_full = self._fallback_full
            self.runner.open()
        self.runner.on_tick = self.tick
        self.output_latency = self.runner.output_latency

    def _fallback_full(self) -> None:
        """Render thread: the WAV reached its cap; the set ends (the close says how much was written)."""
        if self._context is not None and self._context.end is not None:
            self._context.end(f"the recording reached its {self.fallback_minutes:g} min cap "
                              "([targets.standalone] fallback_minutes); stopping", 0)

    def close(self) -> None:
        try:
            if self.keylock is not None:
                self.keylock.close()
            if self.crate is not None:
                self.crate.close()
        finally:  # the WAV's header must be written whatever else fails
            if self.runner is not None:
                self.runner.close()
                if self.fallback_wav is not None and self._context is not None:
                    from copilot.engine.recorder import say_length

                    self._context.report(f"wrote {say_length(self.runner.seconds)} to {self.fallback_wav}")
                self.runner = None
            self._loader.shutdown(wait=False, cancel_futures=True)

    # -- the wire -------------------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        if self.adorner is not None:
            return Capabilities(actions=frozenset({ActionKind.FX, ActionKind.PANIC, ActionKind.DROP}),
                                feedback=False, decks=0)
        return Capabilities(actions=ACTIONS, params=frozenset(ENGINE_PARAMS & set(PARAMS)), feedback=True,
                            decks=self.settings.decks)

    def render(self, action: Action, state: HostState) -> list[Timed]:
        if self.adorner is not None:
            return self.adorner.render(action)
        if action.kind in (ActionKind.KEYLOCK, ActionKind.KEY, ActionKind.TEMPO):
            return self._render_key(action)
        items = render_action(action)
        if action.kind is ActionKind.LOAD and items:
            key = self._start_load(action)
            if key is None:
                return []
            cmd = items[0].payload
            if cmd.deck is not None:
                with self._deck_lock:
                    self._decoding[cmd.deck] = key
            cue = float(action.params.get("cue") or 0.0)  # a transition starts the track on its phrase
            items = [Timed(items[0].beat, EngineCmd("load", cmd.deck, cmd.beat, (key, cue)), action.id)]
        return items

    def _render_key(self, action: Action) -> list[Timed]:
        """Key-lock, key shift and tempo: the stretches start rendering now (ahead of the beat); the
        decks switch to them on the beat (`stretch` commands through the dispatcher)."""
        if self.keylock is None:
            return []
        report = self._context.report if self._context else print
        b, p = action.beat, action.params
        if action.kind is ActionKind.TEMPO:
            plans = self.keylock.tempo(float(p["bpm"]), b)
        else:
            deck = action.deck.index if action.deck is not None else None
            if deck is None or deck >= self.settings.decks:
                return []
            if action.kind is ActionKind.KEYLOCK:
                planned = self.keylock.set_keylock(deck, bool(p["on"]), b)
            else:
                try:
                    semis = self._key_target(deck, p)
                except ValueError as exc:
                    report(f"key of deck {Deck.from_index(deck)} unchanged: {exc}")
                    return []
                planned = self.keylock.shift(deck, semis, b)
            plans = {deck: planned} if planned is not None else {}
        return [Timed(b, EngineCmd("stretch", d, b, plan), action.id) for d, plan in plans.items()]

    def _key_target(self, deck: int, params: dict[str, Any]) -> float:
        assert self.keylock is not None
        if "match" in params:
            return self.keylock.match(deck, Deck(params["match"]).index)
        if "delta" in params:
            return self.keylock.decks[deck].semitones + float(params["delta"])
        return float(params["semitones"])

    def send(self, payload: Any) -> None:
        """Dispatch thread: a ring write, never a wait."""
        if self.engine is None or not isinstance(payload, EngineCmd):
            return
        if payload.op == "load":
            self._finish_load(payload)
            return
        if payload.op == "play" and not self._may_play(payload):
            return
        if payload.op in ("pause", "cue", "panic"):
            self._drop_held(payload.deck)
        if payload.op == "oneshot":
            self.engine.oneshot(*payload.args, beat=payload.beat)
        elif not apply(self.engine, payload) and self._context is not None:
            self._context.report(f"engine command ring full: {payload.op} dropped")

    # -- loading (decoded off the audio and dispatch threads) -------------------------------------------
    def _start_load(self, action: Action) -> str | None:
        report = self._context.report if self._context else print
        params = action.params
        resolved = params.get("resolved") or {}
        path = resolved.get("path") or params.get("path")
        hints = dict(resolved)
        exact = self.crate.exact(str(params.get("query", ""))) if self.crate is not None else None
        if exact is not None:  # a crate track named exactly (the autopilot does): that one, whatever else matched
            path, hints = exact["path"], exact
        elif not path and self.crate is not None:
            found = self.crate.find(str(params.get("query", "")))
            if found is not None:
                path, hints = found["path"], found
        if not path:
            report(f"nothing to load for '{params.get('query')}': no such track in the crate; deck "
                   f"{action.deck} stays as it was")
            return None
        key = action.id
        # the autopilot asks for crate tracks: one that cannot play gives way to the next that can
        substitute = action.source is Source.PLANNER and self.crate is not None
        if self.offline:  # deterministic: decode now, on virtual time nothing is late
            future: cf.Future[Track] = cf.Future()
            try:
                future.set_result(self._prepare(path, hints, substitute))
            except TrackError as exc:
                future.set_exception(exc)
        else:
            future = self._loader.submit(self._prepare, path, hints, substitute)
        self._loads[key] = future
        return key

    def _prepare(self, path: str, hints: dict[str, Any], substitute: bool = False) -> Track:
        """Loader thread: decode, resample, grid, and (unless the analysis knew it) measure loudness. With
        `substitute`, a crate track that cannot play is marked, said once, and the next playable one tried."""
        while True:
            try:
                if self.crate is not None:
                    self.crate.wait_ready(path)  # an example track still being written
                with busy(f"decoding {Path(path).name}", self._context.report if self._context else None):
                    track = load_track(path, self.settings.samplerate, hints)
            except TrackError as exc:
                if not substitute or self.crate is None:
                    raise
                report = self._context.report if self._context else print
                late = isinstance(exc, NotReady)
                if late:
                    report(f"{exc}; playing another track meanwhile")
                else:
                    self.crate.mark_unplayable(path, _without_name(str(exc), path), report)
                following = self.crate.next_playable(path, ready=late)
                if following is None and late:
                    raise
                if following is None:
                    why = f"nothing in {self.crate.source} can play (every track was skipped above)"
                    if self._context is not None and self._context.end is not None:
                        self._context.end(why, 1)
                    raise TrackError(why) from None
                path, hints = str(following.path), following.to_resolved(f"next playable in {self.crate.source}")
                continue
            if self.settings.loudness_match:
                track.meta["lufs"] = track_lufs(track)
            return track

    def _finish_load(self, cmd: EngineCmd) -> None:
        assert self.engine is not None
        key = cmd.args[0]
        future = self._loads.pop(key, None)
        if future is None:
            return
        cue = float(cmd.args[1]) if len(cmd.args) > 1 else 0.0
        if not future.done():  # still decoding: load the moment it is ready (a PLAY meanwhile waits)
            future.add_done_callback(lambda f: self._load_now(cmd.deck, f, None, key, cue))
            return
        self._load_now(cmd.deck, future, cmd.beat, key, cue)

    def _load_now(self, deck: int | None, future: cf.Future[Track], beat: float | None, key: str = "",
                  cue: float = 0.0) -> None:
        report = self._context.report if self._context else print
        if self.engine is None or deck is None:
            return
        with self._deck_lock:  # this LOAD is on its way: a PLAY from now on need not wait for it
            held = self._held.pop(deck, None) if self._decoding.get(deck) == key else None
            if self._decoding.get(deck) == key:
                del self._decoding[deck]
        name = Deck.from_index(deck)
        try:
            track = future.result()
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not stop the set either
            why = str(exc) if isinstance(exc, TrackError) else f"{type(exc).__name__}: {exc}"
            report(f"deck {name} not loaded: {why}; it stays as it was")
            if held is not None:
                self._not_started(deck, "its track could not be loaded")
            return
        start = None
        if held is not None:  # the PLAY waited: it comes in on the grid, that much further into the track
            late, start = self._late_start(deck, track, held)
            cue += late
        gain = offset(track.meta.get("lufs"), self.settings.target_lufs) if self.settings.loudness_match else 0.0
        try:
            self.engine.load(deck, track, None if held is not None else beat, loudness=gain, cue=cue)
        except Exception as exc:  # noqa: BLE001 - the deck stays as it was, whatever went wrong
            report(f"deck {name} not loaded: {exc}")
            return
        for note in track.meta.get("notes") or ():
            report(f"deck {name}: {note}")
        if self.settings.loudness_match and track.meta.get("lufs") is not None:
            report(f"deck {name}: '{track.title}' at {track.meta['lufs']:.1f} LUFS, "
                   f"{offset_db(gain):+.1f} dB to meet {self.settings.target_lufs:g} LUFS")
        if self.keylock is not None:
            self.keylock.loaded(deck, track, beat if held is None else None, cue=cue)
        if start is not None:
            self.engine.play(deck, start)
        for listener in self.load_listeners:
            listener(deck, track)

    def _late_start(self, deck: int, track: Track, held: _Held) -> tuple[float, float | None]:
        """Where a deck whose PLAY waited for its decode comes in: (cue in track beats, beat to play on), on
        the bar line after now, that far into the track — or (0, None) and refused past the window."""
        clock = self._context.clock if self._context else None
        if clock is None:
            return 0.0, held.beat
        q = float(clock.quantum)
        soonest = clock.beat_at_time(clock.now() + self.output_latency + 0.05)
        wanted = held.beat if held.beat is not None else soonest
        if wanted >= soonest:  # decoded in time after all
            return 0.0, wanted
        late = soonest - wanted
        if late > self.play_wait_bars * q:
            waited = clock.now() - held.since
            self._not_started(deck, f"'{track.title}' took {waited:.1f} s to decode, past the "
                                    f"{self.play_wait_bars:g}-bar wait; it is loaded now, play it again")
            return 0.0, None
        cue = math.ceil(late / q - 1e-9) * q
        bars = cue / q
        if self._context is not None:
            self._context.report(f"deck {Deck.from_index(deck)}: '{track.title}' was still decoding at its PLAY; it "
                                 f"comes in {bars:g} bar{'s' if bars != 1 else ''} late, on the grid")
        return cue, wanted + cue

    def _may_play(self, cmd: EngineCmd) -> bool:
        """Dispatch thread: a PLAY goes to the engine only onto a deck with its track (or waits for it)."""
        assert self.engine is not None
        deck = cmd.deck
        if deck is None:
            return True
        clock = self._context.clock if self._context else None
        with self._deck_lock:
            if deck in self._decoding:
                self._held[deck] = _Held(cmd.beat, clock.now() if clock is not None else 0.0)
                return False
        if deck not in self.engine.tracks:  # (the kernel may not have taken a LOAD just sent: ask Python)
            self._not_started(deck, "it has no track; load one first")
            return False
        return True

    def _drop_held(self, deck: int | None) -> None:
        with self._deck_lock:
            if deck is None:
                self._held.clear()
            else:
                self._held.pop(deck, None)

    def _not_started(self, deck: int, why: str) -> None:
        """A PLAY that will not happen: said, and the session's belief that the deck plays put right."""
        if self._context is None:
            return
        self._context.report(f"deck {Deck.from_index(deck)} not started: {why}")
        self._not_playing[deck] = self._context.clock.now()
        self._context.state.apply_feedback(DeckUpdate(Deck.from_index(deck), {"playing": False}))

    # -- feedback: the engine knows its decks, so it tells the scheduler ---------------------------------
    def tick(self) -> None:
        """Report deck changes to the session's state (feeder thread live, every block offline)."""
        if self.engine is None or self._context is None:
            return
        if self.adorner is not None:
            self.adorner.tick()
            return
        if self.keylock is not None:
            self.keylock.tick()
        for d in range(self.settings.decks):
            now = self.engine.deck_state(d)
            refused = now.pop("refused_loads")
            if refused != self._refused.get(d, 0):
                self._refused[d] = refused
                self._context.report(f"deck {Deck.from_index(d)} was playing: the engine refused a load")
            fields = {k: now[k] for k in ("playing", "loop", "loaded", "track", "bpm")}
            if self._reported.get(d) != fields or self._stale_belief(d, fields["playing"]):
                self._reported[d] = fields
                self._context.state.apply_feedback(DeckUpdate(Deck.from_index(d), fields))

    def _stale_belief(self, deck: int, playing: bool) -> bool:
        """A refused PLAY still counted as playing by the session (its own record is written after the send
        that refused it): say again, for a moment, that the deck is stopped."""
        since = self._not_playing.get(deck)
        if since is None or self._context is None:
            return False
        if self._context.clock.now() - since > 0.5:
            self._not_playing.pop(deck, None)
            return False
        return not playing and self._context.state.deck(Deck.from_index(deck)).playing

    # -- offline -------------------------------------------------------------------------------------------
    def run_offline(self, session: Any, duration: float | None) -> None:
        from copilot.engine.offline import render_offline

        assert self.engine is not None
        path = Path(session.options.out) if session.options.out is not None else None
        if duration is None:
            duration = self._default_duration(session)
        # each block: the session moves virtual time (script, inputs such as the autopilot, the sends), then
        # the engine reports its decks
        stopping = getattr(session, "stopping", None)
        decks: list[np.ndarray] | None = [] if getattr(session.options, "out_decks", False) else None
        audio = render_offline(self.engine, session.clock, duration, session.advance, path,
                               on_block=lambda _t: self.tick(),
                               stop=(lambda: bool(session.stopping)) if stopping is not None else None,
                               decks=decks, next_due=self._next_due(session), chunk=OFFLINE_CHUNK)
        if path is None:
            self.rendered = audio
        if decks:
            self.rendered_decks = decks[0]
        stats = self.engine.stats()
        if getattr(session, "exit_status", 0):
            return  # the set could not go on; the session said why
        session.report(f"rendered {duration:.1f} s to {path or 'memory'} (late events {stats['late_events']}, "
                       f"non-finite samples fixed {stats['nonfinite']})")

    def _next_due(self, session: Any) -> Callable[[], float] | None:
        """Offline: when the session next has something to do, so the blocks before it share one Python
        step (`render_offline`). Each block alone while an ornament plays its own part, or a tempo change
        is yet to settle for the key-locked decks (both act on time, not on events)."""
        due = getattr(session, "next_due", None)
        if due is None:
            return None

        def next_due() -> float:
            if self.adorner is not None or (self.keylock is not None and not self.keylock.settled()):
                return float("-inf")
            return float(due())

        return next_due

    def _default_duration(self, session: Any) -> float:
        planned = [p for source in getattr(session, "inputs", []) if (p := source.planned_seconds()) is not None]
        if planned:  # an input with a plan (the autopilot's mix) sets the length
            return max(planned)
        if session.script:
            return session.script[-1].at + 8 * 60.0 / session.clock.tempo * session.clock.quantum
        return 60.0

    def health(self) -> dict[str, Any]:
        if self.engine is None:
            return {"open": False}
        beat = self.context.clock.beat if self.context is not None else None  # where a moving deck's head is
        decks = {Deck.from_index(d).value: {**self.engine.deck_state(d, beat),
                                             **(self.keylock.status(d) if self.keylock else {})}
                 for d in range(self.settings.decks)}
        return {"open": True, "offline": self.offline, "fallback_wav": str(self.fallback_wav or ""),
                **self.engine.stats(), **self.engine.meters(), "decks": decks}


def _without_name(message: str, path: str) -> str:
    """'x.wav: cannot decode (…)' → 'cannot decode (…)' (the skip line names the file itself)."""
    prefix = f"{Path(path).name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


@hookimpl
def copilot_targets(config: dict[str, Any]) -> list[Target]:
    return [StandaloneTarget(config.get(StandaloneTarget.name))]


class CrateLibrary:
    """A LOAD query against the crate folder (or the example crate) by title, artist or file name:
    the fallback when no other library knows the track."""

    name = "crate"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = dict(options)

    def resolve(self, query: str) -> dict[str, Any] | None:
        crate = Crate.from_options(self.options, lambda _m: None, build=False)
        return crate.find(query) if crate is not None else None


@hookimpl(trylast=True)
def copilot_library(options: dict[str, Any]) -> CrateLibrary:
    return CrateLibrary(options)


@hookimpl
def copilot_doctor(config: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    try:
        from copilot.engine.stream import output_devices, warm_up

        seconds = warm_up()
        checks.append(Check("engine kernels", True, f"compiled/loaded in {seconds:.2f} s"))
        devices = output_devices()
        if devices:
            checks.append(Check("engine sound device", True, f"{len(devices)} output(s), e.g. {devices[0]['name']}"))
        else:
            checks.append(Check("engine sound device", False, "no audio output found",
                                "copilot run will render to a WAV instead; connect a device or start JACK"))
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure as a line
        checks.append(Check("engine kernels", False, f"{type(exc).__name__}: {exc}",
                            "reinstall copilot (numba, sounddevice)"))
    return checks
