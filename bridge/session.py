"""The session: wires clock, scheduler, router, dispatcher, ports, feedback, OSC intents, live inputs,
libraries, the script and the log for `copilot run` — in real time, or offline against a manual clock.

Decide, then send: every intent enters through `submit` (or `submit_soon`). A LOAD is first looked up
in the libraries the plugins offer (database, tags, crate folders) on the session's library worker,
with no lock held; the scheduler then decides with the track already in hand. A TRANSITION or NEXT is
planned the same way, by the mixer a plugin offers (which track, which template, which phrase lines),
and decided as one unit.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import functools
import logging
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.intents.script import ScriptLine, load_script

from .actions import Action, ActionKind
from .clock import BeatClock, InternalClock, ManualClock
from .config import Config, log_dir
from .dispatch import Dispatcher, Sent, freeze_heap, thaw_heap
from .host import Input, Library, Mixer, Target, TargetContext, TargetHost, TargetUnavailable, UnknownTarget
from .log import SessionLog
from .router import Router
from .safety import SafetyConfig
from .scheduler import Decision, SafetyScheduler, Verdict
from .state import HostState
from .surroundings import Hint, Surroundings, running_processes
from .telemetry import Telemetry
from .transition import DeckView, MixView
from .wakeup import DEFAULT_US, WakeLatency, hold

log = logging.getLogger(__name__)
MAX_LOOKUPS = 8  # LOADs waiting for the library at once; more are refused (a stuck disk must not pile up)
SEND_TROUBLE_EVERY = 30.0  # seconds: failing sends to one target are said at once, then at most this often
KEEP_DECISIONS = 4096  # the latest decisions kept in memory (the session log keeps every one)
PLANNED = (IntentKind.TRANSITION, IntentKind.NEXT)  # intents the mixer plans before they are decided
HEARD_MAX = 512  # messages kept while --target auto looks (a chatty host must not grow it without end)
PLAN_LEAD = 1.0  # beats: a plan's first step waits at least this long (the decision comes after planning)


@dataclass
class SessionOptions:
    target: str = "auto"  # a target name, several joined by commas, or "auto"
    script: Path | None = None
    duration: float | None = None  # seconds; None = until Ctrl-C
    link: bool | None = None  # None: copilot.toml's [run] link (default: join Link); the flag wins
    tempo: float = 120.0
    quantum: float = 4.0
    output_latency_ms: float | None = None  # overrides the targets' own compensation
    out: Path | None = None  # render offline to this WAV (the engine)
    out_memory: bool = False  # render offline into memory instead (the engine target keeps it: `rendered`)
    out_decks: bool = False  # with it: each deck after its fader from the same pass (`rendered_decks`)
    crate: Path | None = None
    adorn: Path | None = None
    motion_osc: str | None = None
    mocopi: int | None = None
    voice: bool = False
    autopilot: bool = False  # the planner plays a set beside any target (it yields to the performer)
    osc: str | None = "127.0.0.1:9100"
    allow: list[str] = field(default_factory=list)
    view: str | None = None  # the stage view's [HOST:]PORT (copilot.view); None = no view
    db: Path | None = None
    log: Path | None = None
    midi_api: str = "auto"
    auto_wait: float = 1.0  # seconds to look for a host with --target auto
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def offline(self) -> bool:
        return self.out is not None or self.out_memory

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class SessionError(RuntimeError):
    """The session cannot start; the message says why and what to do."""


class LibraryFailed(RuntimeError):
    """A music library failed (not: did not know the track) while a LOAD was looked up."""


class Session:
    def __init__(
        self,
        options: SessionOptions | None = None,
        config: Config | None = None,
        *,
        host: TargetHost | None = None,
        clock: BeatClock | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options or SessionOptions()
        self.config = config or Config()
        self._report = report or print
        # Every key of copilot.toml against its rule before anything opens (ConfigError: file, key, allowed).
        self.config.check((host or TargetHost()).settings_schema())
        self.host = host or TargetHost(self.config.targets(), settings=self.config.data)
        self.log = SessionLog(self.options.log, on_fail=self._say_only)
        self.state = HostState()
        self.clock: BeatClock = clock or self._make_clock()
        safety = SafetyConfig.from_dict(self.config.section("safety"))
        self.dispatcher = Dispatcher(self.clock, on_sent=self.log.record_sent, on_error=self._on_send_error)
        self.router: Router | None = None
        self.scheduler = SafetyScheduler(self.clock, self.state, None, safety)
        # What the stage view and the status line read, off the hot threads (bridge/telemetry.py).
        self.telemetry = Telemetry(self.clock, self.state, self.scheduler, self.dispatcher, safety.phrase_bars)
        self.ports: Any = None
        self.targets: list[Target] = []
        self.adornment: Target | None = None
        self.inputs: list[Input] = []
        self.libraries: list[Library] = []
        self.mixer: Mixer | None = None
        # One worker: LOADs are looked up (and so decided) in the order they were asked for.
        self._lookups = cf.ThreadPoolExecutor(1, thread_name_prefix="copilot-library")
        self._lookups_waiting = 0
        self._lookups_lock = threading.Lock()
        self._panics = 0  # PANICs so far: a LOAD still being looked up when one comes is dropped
        self.osc_server: Any = None
        self.script: list[ScriptLine] = load_script(self.options.script) if self.options.script else []
        self._script_next = 0
        self.started_at: float | None = None
        self.target_reason = ""
        self.feedback_count = 0
        self._feedback_ports: set[str] = set()  # input ports that received anything (for --target auto)
        self._heard: list[tuple[str, bytes]] | None = None  # (port, message) while --target auto looks
        self._midi_listeners: list[Callable[[bytes, float], None]] = []
        self._decision_listeners: list[Callable[[Decision], None]] = []
        self._stop = threading.Event()
        self.decisions: deque[Decision] = deque(maxlen=KEEP_DECISIONS)
        self.verdicts: Counter[str] = Counter()  # every decision of the set, by verdict
        self.ports_problem = ""  # why no MIDI ports could be opened (the fix, in words)
        self._said_sends: dict[str, tuple[int, float, int]] = {}  # target → (failures said, when, sent then)
        self._sends_down: set[str] = set()  # targets whose failing sends were said and have not recovered
        self.wake = WakeLatency(None)  # the cores kept awake while the set plays (bridge.wakeup)
        self.exit_status = 0  # what `copilot run` exits with (a target or input that ended the set says)
        self.exit_reason = ""

    # -- construction ---------------------------------------------------------------------------------
    def _make_clock(self) -> BeatClock:
        o = self.options
        if o.offline:
            return ManualClock(o.tempo, o.quantum)
        if o.link if o.link is not None else self.config.section("run").get("link", True):
            from .link import LinkClock, LinkUnavailable

            try:
                clock = LinkClock(o.tempo, o.quantum, start_stop_sync=self.start_stop_sync)
                clock.wait_enabled()
                return clock
            except LinkUnavailable as exc:
                self.report(f"Link is off ({exc}); using the internal clock")
        return InternalClock(o.tempo, o.quantum)

    @property
    def start_stop_sync(self) -> bool:
        """[link] start_stop_sync: follow the Link session's start/stop."""
        return bool(self.config.section("link").get("start_stop_sync", False))

    @property
    def wake_latency_us(self) -> int | None:
        """[run] wake_latency_us: how fast idle cores must wake while the set plays (None: "off")."""
        value = self.config.section("run").get("wake_latency_us", DEFAULT_US)
        return None if isinstance(value, str) else int(value)

    @property
    def feedback_port(self) -> str:
        """[ports] in: the port the hosts' feedback arrives on."""
        return str(self.config.section("ports").get("in", "Copilot In"))

    def port_options(self) -> dict[str, Any]:
        """How the MIDI ports open: the API (flag, then [ports] api), and whether JACK outputs are native
        and how far ahead they are fed ([ports] native, lookahead_ms)."""
        from .ports import LOOKAHEAD

        section = self.config.section("ports")
        return {"api": self.options.midi_api or section.get("api", "auto"),
                "native": bool(section.get("native", True)),
                "lookahead": float(section.get("lookahead_ms", LOOKAHEAD * 1e3)) / 1e3}

    def _open_ports(self) -> None:
        if self.options.offline:
            return
        from .ports import MidiPorts, MidiUnavailable

        try:
            self.ports = MidiPorts(**self.port_options())
        except MidiUnavailable as exc:  # said when the targets are open: with the one that needs them
            self.ports_problem = str(exc)
            return
        try:
            self.ports.input(self._on_feedback, self.feedback_port)
        except Exception as exc:  # noqa: BLE001 - feedback is optional; sending still works
            self.report(f"cannot open '{self.feedback_port}' for host feedback: {exc}")

    def choose_targets(self) -> list[str]:
        """The target names for this run (validated), with `target_reason` saying why."""
        wanted = self.options.target or self.config.section("run").get("target", "auto")
        if wanted != "auto":
            names = [n.strip() for n in wanted.split(",") if n.strip()]
            for name in names:
                self.host.get(name)  # raises UnknownTarget listing what is installed
            self.target_reason = "chosen"
            return names
        return [self._auto_target()]

    def _auto_target(self) -> str:
        """Ask every target, for a short while, whether its host proved it is there (a handshake: an
        answer or our mapping's output on its port). One proven host wins (the highest priority if
        several); a host that only *may* be there (its program runs) wins only as the one candidate.
        Otherwise the best fallback (the built-in engine) plays, and the reason says how to choose."""
        targets = [self.host.get(n) for n in self.host.names()]
        fallback = max(targets, key=lambda t: t.auto_fallback, default=None)
        if fallback is None:
            raise SessionError("no targets are installed; reinstall copilot")
        if self.options.offline:
            self.target_reason = "rendering offline"
            return fallback.name
        candidates = sorted((t for t in targets if t.auto_priority > 0), key=lambda t: -t.auto_priority)
        self._listen_for_hosts(candidates)
        processes = running_processes()
        proven: dict[str, str] = {}
        hinted: dict[str, str] = {}
        deadline = time.monotonic() + self.options.auto_wait
        try:
            while True:
                around = Surroundings(self.clock, frozenset(self._feedback_ports), processes, tuple(self._heard))
                for target in candidates:
                    if target.name in proven:
                        continue
                    try:
                        why = target.detect(around)
                    except Exception as exc:  # noqa: BLE001 - a plugin's probe must not stop the start-up
                        self.report(f"{target.name} could not look for its host: {exc}")
                        continue
                    if isinstance(why, Hint):
                        hinted.setdefault(target.name, str(why))
                    elif why:
                        proven[target.name] = why
                if proven or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        finally:
            heard = self._heard or []
            self._heard = None  # stop recording: the chosen target decodes what arrives from now on
        self.log.record("detect", proven=proven, hinted=hinted, heard=[[p, d.hex(" ")] for p, d in heard[:16]],
                        peers=int(getattr(self.clock, "peers", 0) or 0))
        return self._pick(candidates, proven, hinted, fallback)

    def _pick(self, candidates: list[Target], proven: dict[str, str], hinted: dict[str, str],
              fallback: Target) -> str:
        order = [t.name for t in candidates]
        if proven:
            name = min(proven, key=order.index)
            others = [n for n in order if n in proven and n != name]
            also = f"; {', '.join(others)} answered too (--target to choose)" if others else ""
            self.target_reason = f"{proven[name]}{also}"
            return name
        if len(hinted) == 1:
            name, why = next(iter(hinted.items()))
            self.target_reason = f"{why}; no handshake yet (its feedback output is not set up, or it is idle)"
            return name
        peers = int(getattr(self.clock, "peers", 0) or 0)
        link = (f"a Link session with {peers} peer(s) exists: the clock joins it, but Link does not say "
                "which program it is" if peers else "no Link peers")
        if hinted:
            seen = "; ".join(f"{n}: {w}" for n, w in hinted.items())
            self.target_reason = (f"no host proved itself — {seen}; {link}; the built-in engine plays; "
                                  f"choose one with --target {'|'.join(hinted)}")
        else:
            self.target_reason = (f"no host found — no AbletonOSC answer, none of our mappings' output on the "
                                  f"MIDI inputs, no host program running; {link}; to drive a host: "
                                  f"--target {'|'.join(order) or '<name>'}")
        return fallback.name

    def _listen_for_hosts(self, candidates: list[Target]) -> None:
        """Open the MIDI inputs the candidates' hosts answer on (kept for the chosen target)."""
        self._heard = []
        if self.ports is None:
            return
        for target in candidates:
            for name in target.detect_ports():
                if name in self.ports.inputs:
                    continue
                try:
                    self.ports.input(functools.partial(self._on_host_port, name), name)
                except Exception as exc:  # noqa: BLE001 - that host's answer is then not heard; the rest goes on
                    self.report(f"cannot open '{name}' to hear {target.name}: {exc}")

    def _on_host_port(self, port: str, data: bytes, at: float) -> None:
        """A host's own feedback port opened while looking: record it, then let its target decode it."""
        self._feedback_ports.add(port)
        heard = self._heard
        if heard is not None and len(heard) < HEARD_MAX:
            heard.append((port, bytes(data)))
        for target in self._open_targets():
            if port in target.detect_ports():
                self.target_feedback(target.name, data)

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.options.offline:  # before the first JACK client: its cycles need the cores awake
            self.wake = hold(self.wake_latency_us)
            self.report(self.wake.line())
        self._open_ports()
        names = self.choose_targets()
        # Said before the targets open (the built-in engine may take a while to load its crate).
        why = f" ({self.target_reason})" if self.target_reason else ""
        self.report(f"target: {', '.join(names)}{why}; clock: "
                    f"{type(self.clock).__name__} at {self.clock.tempo:.2f} BPM")
        context_options = self.options.to_dict()
        for name in names:
            self.targets.append(self._open_target(name, context_options))
        for port in self.ports.outputs.values() if self.ports is not None else ():
            self.report(port.path_line)  # which send path this set is on, in one line
        engine = next((t for t in map(self.host.get, self.host.names()) if t.builtin_engine), None)
        if self.options.adorn is not None and engine is not None and engine.name not in names:
            self.adornment = self._open_target(engine.name, {**context_options, "adornment": True})
        self.scheduler.config.latency = max((t.output_latency for t in self.targets), default=0.0)
        # A move is decided a moment before its time; a native JACK out must have it before the cycle it
        # falls in starts, or it goes a cycle late: moves are stamped that much further ahead.
        outputs = self.ports.outputs.values() if self.ports is not None else ()
        self.scheduler.config.notice = max((port.notice for port in outputs), default=0.0)
        self.router = Router(self.targets, self.dispatcher, self.state, self.clock, self.report, self.adornment,
                             self.scheduler.config.tempo_jump_cap)
        self.libraries = self._find_libraries(context_options)
        self.mixer = self._find_mixer(context_options)
        self.scheduler.outbox = self.telemetry.watch(self.router)
        self.scheduler.can = self.router.can
        self.log.record("session", options=context_options, targets=[t.name for t in self.targets],
                        reason=self.target_reason, clock=type(self.clock).__name__, tempo=self.clock.tempo)
        if not self.options.offline:
            self._say_unreachable()
            self.dispatcher.start()
            self._start_osc()
        self._start_inputs(context_options)
        if not self.options.offline:
            # After the inputs: a library warming up imports the same compiled modules (numba) an input's
            # start imports, and two threads importing them at once end in Python's import-deadlock error.
            for library in [*self.libraries, *([self.mixer] if self.mixer else [])]:
                if callable(getattr(library, "warm_up", None)):
                    self._lookups.submit(self._warm_up, library)
        self.started_at = self.clock.now()

    def _open_target(self, name: str, options: dict[str, Any]) -> Target:
        target = self.host.get(name)
        if self.options.output_latency_ms is not None:
            target.output_latency = self.options.output_latency_ms / 1000.0
        context = TargetContext(config=self.config.target(name), state=self.state, clock=self.clock,
                                ports=self.ports, report=self.report, options=options,
                                feedback=self.target_feedback, end=self.end)
        try:
            target.open(context)
        except TargetUnavailable as exc:
            raise SessionError(str(exc)) from None
        except Exception as exc:  # re-raised as a clear error instead of a traceback
            raise SessionError(f"{name} could not start: {type(exc).__name__}: {exc}") from exc
        return target

    def _find_libraries(self, options: dict[str, Any]) -> list[Library]:
        try:
            return self.host.libraries(options)
        except Exception as exc:  # noqa: BLE001 - no library: a LOAD still goes out with its words
            self.report(f"no music library for LOAD: {exc}")
            return []

    def _find_mixer(self, options: dict[str, Any]) -> Mixer | None:
        try:
            return self.host.mixer(options)
        except Exception as exc:  # noqa: BLE001 - no mixer: transitions are refused with the reason
            self.report(f"no transition planner: {exc}")
            return None

    def _warm_up(self, library: Library | Mixer) -> None:
        """Library worker: what a first lookup would load (modules, caches), before the set needs it."""
        try:
            library.warm_up()  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a cold library still answers, only slower
            self.report(f"library {getattr(library, 'name', '')} could not warm up: {exc}")

    def _start_osc(self) -> None:
        osc = self.config.section("osc")
        bind = self.options.osc if self.options.osc is not None else osc.get("bind")
        if not bind:
            return
        from .osc import IntentServer

        allow = self.options.allow or osc.get("allow", [])
        try:
            self.osc_server = IntentServer(self.submit_soon, bind, allow)
        except (OSError, ValueError) as exc:
            self.report(f"OSC intents are off: {exc}")
            return
        self.osc_server.start()

    def _start_inputs(self, options: dict[str, Any]) -> None:
        """Live: every input asked for. Offline: only those that play on virtual time (e.g. a planner)."""
        try:
            found = self.host.inputs(options)
        except Exception as exc:  # noqa: BLE001 - a plugin's bad setting (e.g. [voice] mode) must not stop the set
            self.report(f"inputs did not start: {type(exc).__name__}: {exc}")
            return
        for source in found:
            if self.options.offline and not source.offline:
                continue
            try:
                source.start(self)
            except Exception as exc:  # noqa: BLE001 - one dead sensor must not stop the set
                self.report(f"input {source.name} did not start: {exc}")
                continue
            self.inputs.append(source)

    def _say_unreachable(self) -> None:
        """Loudly, once, at the start: a target nothing will reach (no MIDI port …), and the fix."""
        said = False
        for target in self._open_targets():
            why = target.unreachable()
            if why:
                self._sends_down.add(target.name)  # its failing sends are then said only now and then
                self._said_sends[target.name] = (0, self.clock.now(), 0)
                fix = self.ports_problem or "run `copilot doctor` to see what is missing"
                self.report(f"✗ {target.name} {why} — nothing copilot decides will reach it: {fix}")
                said = True
        if self.ports_problem and not said:
            self.report(f"MIDI ports unavailable: {self.ports_problem}")

    def stop(self) -> None:
        self._stop.set()
        for source in self.inputs:
            with contextlib.suppress(Exception):
                source.stop()
        if self.osc_server is not None:
            self.osc_server.close()
        self._lookups.shutdown(wait=False, cancel_futures=True)
        self.dispatcher.stop(drain=False)
        for target in self._open_targets():
            with contextlib.suppress(Exception):
                target.close()
        if self.ports is not None:
            self.ports.close()
        self.log.record("stats", dispatch=self.dispatcher.stats.summary(), state=self.state.to_dict(),
                        sends={name: {"sent": t.sent, "failed": t.failed, "withheld": t.withheld,
                                      "error": repr(t.error) if t.error else None}
                               for name, t in self.dispatcher.tally.items()})
        for line in self.summary():
            self.report(line)
        self.wake.release()
        self.clock.close()
        self.log.close()

    # -- the SessionApi ---------------------------------------------------------------------------------
    def submit(self, intent: Intent) -> Decision:
        """Decide about one intent and return the decision. A LOAD is looked up in the libraries first
        (on the library worker; this caller waits for it, the scheduler and every other source do not)."""
        future = self.submit_soon(intent)
        try:
            return future.result()
        except cf.CancelledError:  # the session stopped while the LOAD waited for the library
            return self._stopped(intent)

    def submit_soon(self, intent: Intent, then: Callable[[Decision], None] | None = None) -> cf.Future[Decision]:
        """Never waits for a lookup: a LOAD is looked up and decided on the library worker, anything else
        is decided now, on this thread. `then` hears the decision on whichever thread made it (the OSC
        server answers its sender from there, so a slow library never holds up a PANIC behind it)."""
        self.log.record("intent", intent=intent.to_dict(), beat=self.clock.beat)
        future: cf.Future[Decision]
        if not self._needs_lookup(intent):
            future = cf.Future()
            future.set_result(self._decide(intent))
        elif self.options.offline:  # virtual time stands still while the library reads: stay deterministic
            future = cf.Future()
            future.set_result(self._decide_looked_up(intent))
        else:
            future = self._queue_lookup(intent)
        if then is not None:
            future.add_done_callback(lambda f: then(self._stopped(intent) if f.cancelled() else f.result()))
        return future

    def move(self, param: str, value: float, deck: Deck | None = None,
             source: Source | None = None) -> Action | None:
        """Move one continuous parameter now (motion, a fader): see SafetyScheduler.move."""
        return self.scheduler.move(param, value, deck, source or Source.MOTION)

    # -- deciding -----------------------------------------------------------------------------------------
    def _decide(self, intent: Intent, resolved: dict[str, Any] | None = None) -> Decision:
        decision = self.scheduler.submit(intent, resolved)
        if intent.kind is IntentKind.LOAD and decision.accepted:
            decision = self._say_what_loads(decision, resolved)
        if intent.kind is IntentKind.PANIC:
            self._panics += 1
        self._note(decision)
        return decision

    def _say_what_loads(self, decision: Decision, pick: dict[str, Any] | None) -> Decision:
        """A host that loads its highlighted row, not the pick, says so on the decision's line."""
        notes = []
        takers = [t for t in self.targets if ActionKind.LOAD in t.capabilities().actions]
        for target in takers or self.targets:
            try:
                note = target.load_note(pick)
            except Exception as exc:  # noqa: BLE001 - the wording must not stop the load
                note = f"{target.name} could not say what it loads ({exc})"
            if not takers and not note:
                note = f"{target.name} cannot load a track: nothing is sent for it"
            if note:
                notes.append(note)
        if not notes:
            return decision
        return dataclasses.replace(decision, reason=f"{decision.reason} — {'; '.join(notes)}")

    def _note(self, decision: Decision) -> None:
        self.decisions.append(decision)
        self.verdicts[decision.verdict.value] += 1
        self.telemetry.decided(decision)
        mark = {Verdict.SCHEDULED: "✓", Verdict.DONE: "✓", Verdict.AWAITING_CONFIRM: "?",
                Verdict.REFUSED: "✗"}[decision.verdict]
        reason = decision.reason
        blocked = self._blocked(decision)
        if blocked:  # decided, but the wire it needs is gone: never a ✓ for that
            mark = "!"
            reason += " — but " + "; ".join(f"{name} {why}" for name, why in blocked.items()) + \
                ": nothing will reach it"
        self.log.record("decision", decision=decision.to_dict(), beat=self.clock.beat, unreachable=blocked)
        self.report(f"{mark} [{decision.intent.source.value}] {reason}")
        for listener in self._decision_listeners:
            try:
                listener(decision)
            except Exception as exc:  # noqa: BLE001 - a broken listener must not stop deciding
                self.log.record("listener_error", error=repr(exc))

    def _blocked(self, decision: Decision) -> dict[str, str]:
        """The targets an accepted decision goes to that cannot reach their host now, and why."""
        if not decision.accepted or not decision.actions or self.router is None or self.options.offline:
            return {}
        blocked: dict[str, str] = {}
        for action in decision.actions:
            for target in self.router.takers(action):
                why = target.unreachable()
                tally = self.dispatcher.tally.get(target.name)
                if not why and tally is not None and tally.failing:
                    why = f"failed its last {tally.failing} sends ({_said(tally.error)})"
                if why:
                    blocked[target.name] = why
        return blocked

    def summary(self) -> list[str]:
        """The closing lines: decisions by verdict, then per target what was sent, refused, failed."""
        v = self.verdicts
        lines = [f"summary: {sum(v.values())} decisions ({v['scheduled']} scheduled, {v['done']} done, "
                 f"{v['refused']} refused, {v['awaiting_confirm']} asked for a yes)"]
        for target in self._open_targets():
            t = self.dispatcher.tally.get(target.name)
            sent, refused, failed = (t.sent, t.withheld, t.failed) if t else (0, 0, 0)
            line = f"{target.name}: {sent} sent, {refused} refused at send time, {failed} failed to send"
            if failed and t is not None:
                line += f" ({_said(t.error)})" + (" — nothing reached the host" if not sent else "")
            lines.append(line)
        return lines

    def _needs_lookup(self, intent: Intent) -> bool:
        if intent.kind in PLANNED:
            return self.mixer is not None
        return intent.kind is IntentKind.LOAD and bool(self.libraries)

    def _queue_lookup(self, intent: Intent) -> cf.Future[Decision]:
        with self._lookups_lock:
            busy = self._lookups_waiting >= MAX_LOOKUPS
            if not busy:
                self._lookups_waiting += 1
        if busy:
            decision = Decision(intent, Verdict.REFUSED, f"the library is still looking up {MAX_LOOKUPS} loads; "
                                f"{intent.describe()} ignored — ask again in a moment", at=self.clock.now())
            self._note(decision)
            future: cf.Future[Decision] = cf.Future()
            future.set_result(decision)
            return future

        panics = self._panics

        def lookup_then_decide() -> Decision:
            try:
                found = self._lookup(intent)
            except LibraryFailed as failed:
                found = failed
            finally:
                with self._lookups_lock:
                    self._lookups_waiting -= 1
            if self._stop.is_set():
                return self._stopped(intent)
            if self._panics != panics:  # PANIC cancels everything asked for, decided or not yet
                dropped = Decision(intent, Verdict.REFUSED, f"{intent.describe()} dropped: PANIC came while its "
                                   "track was being looked up", at=self.clock.now())
                self._note(dropped)
                return dropped
            if isinstance(found, LibraryFailed):
                return self._library_failed(intent, found)
            return self._decide(intent, found)

        try:
            return self._lookups.submit(lookup_then_decide)
        except RuntimeError:  # the session is stopping: decide with the words alone
            with self._lookups_lock:
                self._lookups_waiting -= 1
            future = cf.Future()
            future.set_result(self._decide(intent))
            return future

    def _stopped(self, intent: Intent) -> Decision:
        return Decision(intent, Verdict.REFUSED, f"{intent.describe()} dropped: the session stopped while its "
                        "track was being looked up")  # no time: the clock may be closed already

    def _lookup(self, intent: Intent) -> dict[str, Any] | None:
        """The track a LOAD's words mean, from the first library that knows one (library worker thread);
        for a TRANSITION or NEXT, the mixer's plan (or why there is none). A library that fails (a damaged
        database) before any knew the track: LibraryFailed — the LOAD is refused with the reason rather than
        guessed from a fallback the performer did not mean."""
        if intent.kind in PLANNED:
            return self._plan(intent)
        query = str(intent.args.get("query", ""))
        failed: list[str] = []
        for library in self.libraries:
            try:
                found = library.resolve(query)
            except Exception as exc:  # noqa: BLE001 - a broken library must not stop the set
                failed.append(f"{getattr(library, 'name', 'a library')} could not be read ({exc})")
                continue
            if found and not failed:
                title = found.get("title") or found.get("path")
                self.report(f"load '{query}': found {title}" + (f" ({found['why']})" if found.get("why") else ""))
                return found
            if found:
                break
        if failed:
            raise LibraryFailed("; ".join(failed))
        return None

    def _decide_looked_up(self, intent: Intent) -> Decision:
        try:
            return self._decide(intent, self._lookup(intent))
        except LibraryFailed as failed:
            return self._library_failed(intent, failed)

    def _library_failed(self, intent: Intent, failed: LibraryFailed) -> Decision:
        decision = Decision(intent, Verdict.REFUSED, f"{intent.describe()} refused: {failed} — nothing loaded; "
                            "`copilot db check` says what is wrong", at=self.clock.now())
        self._note(decision)
        return decision

    def _plan(self, intent: Intent) -> dict[str, Any]:
        """Library worker: the mixer plans the transition against what the session knows now."""
        assert self.mixer is not None
        view = self.mix_view()
        try:
            plan = self.mixer.plan(intent, view)
        except Exception as exc:  # a planner bug refuses this transition, never the set
            log.exception("the mixer failed")
            return {"refused": f"{intent.describe()}: the planner failed ({type(exc).__name__}: {exc})"}
        if isinstance(plan, str):
            return {"refused": plan}
        # for the after-show review (`copilot rehearse --log`): the plan and what its decks held
        self.log.record("plan", intent_id=intent.id, plan=plan.to_dict(),
                        decks={d: _deck_record(view.decks[d]) for d in (plan.out_deck, plan.in_deck)
                               if d in view.decks})
        return {"plan": plan}

    def mix_view(self) -> MixView:
        """Decks, tracks and where they sit on the clock, what the targets take: what a mixer plans with."""
        clock = self.clock
        now = clock.beat
        earliest = clock.beat_at_time(clock.now() + self.scheduler.config.min_lead) + PLAN_LEAD
        timeline = self.router.timeline if self.router is not None else None
        decks = {}
        for i in range(self.scheduler.config.decks):
            deck = Deck.from_index(i)
            host = self.state.deck(deck)
            own = timeline.at(deck, earliest) if timeline is not None else None
            playing = host.playing or bool(own and own.playing)
            track = own.track if own is not None and own.track else ({"title": host.track} if host.track else None)
            anchor = own.anchor if own is not None and own.playing and playing else None
            loaded = host.loaded if host.loaded is not None else (True if track else None)
            position = own.position if own is not None and not playing else None
            decks[deck.value] = DeckView(deck.value, playing, loaded, track, anchor, position)
        can = frozenset(name for t in self.targets for name in _capability_names(t))
        return MixView(now=now, earliest=earliest, quantum=clock.quantum, tempo=clock.tempo, decks=decks, can=can,
                       seek=bool(self.targets) and all(t.builtin_engine for t in self.targets),
                       played=tuple(timeline.played()) if timeline is not None else ())

    def transitions(self) -> list[dict[str, Any]]:
        """Transitions decided and not over yet (the plan's data and whether it runs), for a stage view."""
        return self.scheduler.transitions()

    # -- the rest of the SessionApi -------------------------------------------------------------------------
    def listen_midi(self, callback: Callable[[bytes, float], None]) -> None:
        """Hear every message on 'Copilot In' too (a push-to-talk pad, a foot switch)."""
        self._midi_listeners.append(callback)

    def listen_decisions(self, callback: Callable[[Decision], None]) -> None:
        """Hear every decision as it is made (on the deciding thread: return quickly); the planner yields
        to the performer this way."""
        self._decision_listeners.append(callback)

    def report(self, message: str) -> None:
        self.log.record("report", message=message)
        self._say_only(message)

    def _say_only(self, message: str) -> None:
        """To the performer, not the log (the log's own trouble, from its writer thread)."""
        with contextlib.suppress(Exception):
            self._report(message)

    # -- running --------------------------------------------------------------------------------------
    def due_script(self, until: float) -> list[ScriptLine]:
        """Script lines due by clock time `until` that have not been submitted yet."""
        start = self.started_at if self.started_at is not None else self.clock.now()
        due: list[ScriptLine] = []
        while self._script_next < len(self.script) and start + self.script[self._script_next].at <= until:
            due.append(self.script[self._script_next])
            self._script_next += 1
        return due

    def next_due(self) -> float:
        """Offline: the clock time of the next thing `advance` would do — a script line, a payload to send —
        (inf: nothing queued). An offline input plans on its own: with one, the next thing is now."""
        if self.inputs:
            return float("-inf")
        due = self.dispatcher.next_due()
        times = [float("inf") if due is None else due]
        if self._script_next < len(self.script):
            start = self.started_at if self.started_at is not None else self.clock.now()
            times.append(start + self.script[self._script_next].at)
        return min(times)

    def advance(self, until: float) -> list[Sent]:
        """Offline: move virtual time to `until`, submitting script lines and sending what is due."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise SessionError("advance() is for offline sessions (a ManualClock)")
        sent: list[Sent] = []
        for line in self.due_script(until):
            t = self.started_at + line.at if self.started_at is not None else line.at
            sent += self.dispatcher.pump(t)
            clock.advance(max(0.0, t - clock.now()))
            self.submit(line.intent)
        sent += self.dispatcher.pump(until)
        clock.advance(max(0.0, until - clock.now()))
        for source in self.inputs:  # offline inputs (e.g. a planner) act on virtual time too
            source.tick(until)
        return sent

    def run(self) -> None:
        """Start, play the script (or just listen) until the duration ends or the performer stops.

        Ctrl-C and SIGTERM (`timeout`, a service manager, `kill`) end the set the same way, through
        `stop()`, so every target closes properly (the engine's WAV gets its header); one that comes while
        the set starts (inputs, the view's process, the heap freeze) lets the start finish and then ends
        the set; a second signal while it closes is ignored rather than cutting the close short."""
        live = not self.options.offline
        playing = threading.Event()
        with _signals_stop_the_set(self._stop, playing):
            try:
                self.start()
                if live:
                    freeze_heap()  # a full garbage collection must not hold the GIL from the dispatch thread
                playing.set()
                if not self._stop.is_set():
                    self.play()
            except KeyboardInterrupt:
                self.report("stopping (Ctrl-C or SIGTERM)")
            finally:
                with _signals_wait():
                    self.stop()
                if live:
                    thaw_heap()

    def end(self, reason: str, status: int = 0) -> None:
        """End the set from anywhere (a target, an input): say why; `copilot run` exits with `status`."""
        if not self._stop.is_set():
            self.exit_reason, self.exit_status = reason, int(status)
            self.report(reason)
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def play(self) -> None:
        """The started session's main loop: live until the duration/Ctrl-C, or the whole offline render."""
        if self.options.offline:
            primary = self.targets[0] if self.targets else None
            runner = getattr(primary, "run_offline", None)
            if runner is not None:
                runner(self, self.options.duration)
            else:
                self._run_offline_generic()
        else:
            self._run_live()

    def _run_offline_generic(self) -> None:
        end = self.options.duration
        if end is None:
            end = (self.script[-1].at + 4 * 60.0 / self.clock.tempo * self.clock.quantum) if self.script else 0.0
        step = 0.01
        t = self.clock.now()
        stop_at = (self.started_at or 0.0) + end
        while t < stop_at:
            t = min(stop_at, t + step)
            self.advance(t)

    def _run_live(self) -> None:
        from .dispatch import HELPER_PRIORITY, make_realtime

        make_realtime(HELPER_PRIORITY)  # this loop submits script lines; threads it starts stay ordinary
        deadline = None if self.options.duration is None else self.started_at + self.options.duration
        while not self._stop.is_set():
            now = self.clock.now()
            if deadline is not None and now >= deadline:
                break
            for line in self.due_script(now):
                self.submit(line.intent)
            for expired in self.scheduler.expire():
                self.verdicts[expired.verdict.value] += 1
                self.telemetry.decided(expired)
                self.log.record("decision", decision=expired.to_dict())
                self.report(f"✗ {expired.reason}")
            self._watch_sends(now)
            wait = 0.05
            if self._script_next < len(self.script):
                wait = min(wait, self.started_at + self.script[self._script_next].at - now)
            if deadline is not None:
                wait = min(wait, deadline - now)
            self._stop.wait(max(0.0005, wait))

    def _watch_sends(self, now: float) -> None:
        """Failing sends, said to the performer from this loop (the dispatch thread only counts them):
        at once, then at most every SEND_TROUBLE_EVERY seconds; and when the wire works again."""
        for name, tally in list(self.dispatcher.tally.items()):
            said, when, sent = self._said_sends.get(name, (0, float("-inf"), 0))
            if name in self._sends_down and tally.failing == 0 and tally.sent > sent:
                self._sends_down.discard(name)
                more = tally.failed - said
                self.report(f"✓ {name}: sends reach the host again" + (f" ({more} more had failed)" if more else ""))
                self._said_sends[name] = (tally.failed, now, tally.sent)
                continue
            if tally.failed <= said:
                continue
            if name not in self._sends_down:
                self.report(f"✗ {name}: sends are failing ({_said(tally.error)}) — nothing reaches the host")
            elif now - when >= SEND_TROUBLE_EVERY:
                self.report(f"✗ {name}: {tally.failed - said} more sends failed ({_said(tally.error)})")
            else:
                continue
            self._sends_down.add(name)
            self._said_sends[name] = (tally.failed, now, tally.sent)
            self.log.record("send_error", target=name, failed=tally.failed, error=repr(tally.error))

    # -- callbacks --------------------------------------------------------------------------------------
    def _on_send_error(self, sink: str, exc: BaseException) -> None:
        """Dispatch thread. A failing port would fail every send: only the first is logged here, the rest
        are counted (`dispatcher.tally`) and said from the session's loop. Other errors (a broken
        envelope) are logged each."""
        tally = self.dispatcher.tally.get(sink)
        if tally is None or tally.error is not exc or tally.failed == 1:
            self.log.record("send_error", target=sink, error=repr(exc))

    def _on_feedback(self, data: bytes, at: float) -> None:
        """'Copilot In': every active target that reads feedback decodes it."""
        port = str(self.config.section("ports").get("in", "Copilot In"))
        self._feedback_ports.add(port)
        heard = self._heard
        if heard is not None and len(heard) < HEARD_MAX:
            heard.append((port, bytes(data)))
        self.feedback_count += 1
        self.log.record("feedback", port="Copilot In", midi=data.hex(" "), t=at)
        for target in self.targets:
            self._apply_feedback(target, data)
        for listener in self._midi_listeners:
            try:
                listener(data, at)
            except Exception as exc:  # noqa: BLE001 - a broken listener must not stop host feedback
                self.log.record("listener_error", error=repr(exc))

    def target_feedback(self, name: str, data: Any) -> None:
        """A target's own input port (e.g. Mixxx's): log it and let that target decode it."""
        self.feedback_count += 1
        shown = data.hex(" ") if isinstance(data, bytes | bytearray) else repr(data)
        self.log.record("feedback", target=name, midi=shown)
        target = next((t for t in self._open_targets() if t.name == name), None)
        if target is not None:
            self._apply_feedback(target, data)

    def _open_targets(self) -> list[Target]:
        return [*self.targets, *([self.adornment] if self.adornment else [])]

    def _apply_feedback(self, target: Target, data: Any) -> None:
        try:
            updates = target.on_feedback(data)
        except Exception as exc:  # noqa: BLE001 - a target's decoding bug must not stop host feedback
            self.log.record("feedback_error", target=target.name, error=repr(exc))
            return
        for update in updates:
            self.state.apply_feedback(update)
            self.log.record("state", target=target.name, deck=update.deck.value, fields=update.fields)


def _said(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "no reason given"


@contextlib.contextmanager
def _signals_stop_the_set(stop: threading.Event, playing: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the set, once: before `playing` they only set `stop` (the start finishes
    whole), after it they raise KeyboardInterrupt in the main thread; a second one before the close
    (`timeout` signals the process and then its group) is ignored. Elsewhere than the main thread:
    left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)

    def interrupt(*_: object) -> None:
        for sig in signals:
            signal.signal(sig, _ignore)
        stop.set()
        if playing.is_set():
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(*_: object) -> None:
    """A signal noted and let pass."""


@contextlib.contextmanager
def _signals_wait() -> Iterator[None]:
    """While the session closes, Ctrl-C and SIGTERM are noted and ignored (`timeout` signals twice)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _capability_names(target: Target) -> list[str]:
    caps = target.capabilities()
    return [*(a.value for a in caps.actions), *caps.params]


def _deck_record(deck: DeckView) -> dict[str, Any]:
    """One deck as a plan found it, small enough for every plan's log line."""
    track = deck.track or {}
    return {"path": track.get("path"), "title": track.get("title"), "playing": deck.playing,
            "anchor": deck.anchor, "position": deck.position}


def default_log_path() -> Path:
    return log_dir() / time.strftime("session-%Y%m%d-%H%M%S.jsonl")


__all__ = ["Session", "SessionError", "SessionOptions", "UnknownTarget", "default_log_path"]
