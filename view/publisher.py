"""The stage view's half in the session's process: telemetry out to the view's process, commands back in.

Two ordinary threads at the helper priority (short and sleeping, like the OSC server's), never the
dispatch or audio threads:
- `feed`: wakes on every published event (a decision, what voice heard) and otherwise 20 times a second;
  writes the events, the state snapshot, 4 times a second meters, motion and what the targets know of
  their decks (position, track length, key), and once a second the send-timing figures — as marshal
  frames (view/wire.py): JSON for the browsers is made in the view's process.
- `hear`: reads commands from the view's process and submits them as intents with source `remote`,
  through the same `submit_soon` as the OSC server; the decision is sent back as a `reply`.
Nothing here takes the scheduler's lock except for the moments `Telemetry.snapshot` copies the questions
and the transitions.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from copilot.bridge.clock import next_boundary
from copilot.bridge.dispatch import HELPER_PRIORITY, make_realtime
from copilot.intents.schema import Intent, IntentError, IntentKind, Source

from .wire import MAX_LINE, decision_json, frame, heard_json, read_line

STATE_RATE = 20.0  # state snapshots per second (the contract asks ≥ 10; the page extrapolates between them)
SLOW_RATE = 4.0  # meters, motion and target deck details per second
LATENESS_RATE = 1.0  # the send-timing histogram per second (percentiles over 4096 sends: the costliest line)
SEND_TIMEOUT = 2.0  # a view process that takes nothing for this long is stuck: the view is switched off
METER_KEYS = ("peak", "short_term_lufs", "momentary_lufs", "gain_reduction_db", "compressor_db")


def command_intent(command: dict[str, Any], intent_of: Callable[[str], str] = str) -> Intent:
    """A command from the view's process → the intent it asks for (always with source `remote`).
    `intent_of` turns a queued action's id into its intent's (a cancel may name either)."""
    op = command.get("op")
    if op == "intent":
        data = command.get("intent")
        if not isinstance(data, dict):
            raise IntentError("the intent must be a JSON object")
        return Intent.from_dict({**data, "source": Source.REMOTE.value})
    kinds = {"confirm": IntentKind.CONFIRM, "cancel": IntentKind.CANCEL, "panic": IntentKind.PANIC}
    if op not in kinds:
        raise IntentError(f"unknown command {op!r}")
    target = command.get("id")
    if target and op == "cancel":
        target = intent_of(str(target))
    args = {"id": str(target)} if target and op != "panic" else {}
    return Intent(kinds[op], args=args, source=Source.REMOTE, text=f"/{op}" + (f"/{target}" if args else ""))


class Publisher:
    def __init__(self, session: Any, sock: socket.socket, rate: float = STATE_RATE,
                 on_broken: Callable[..., None] | None = None) -> None:
        self.session = session
        self.telemetry = session.telemetry
        self.sock = sock
        self.period = 1.0 / max(1.0, float(rate))
        self.on_broken = on_broken
        self.clients = 0  # SSE clients the view's process reports
        self.sent_frames = 0
        self.failures = 0  # readings that raised (reported once)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._broken = False
        self._decks: dict[str, dict[str, Any]] = {}  # what targets know of each deck (slow rate)
        self._threads: list[threading.Thread] = []
        sock.settimeout(SEND_TIMEOUT)

    def start(self) -> None:
        for name, run in (("copilot-view-feed", self._feed), ("copilot-view-hear", self._hear)):
            thread = threading.Thread(target=run, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # the view's process sees the end, the reader wakes
        for thread in self._threads:
            thread.join(2.0)
        self.sock.close()

    # -- out -------------------------------------------------------------------------------------------
    def send(self, data: bytes) -> bool:
        if self._broken:
            return False
        try:
            with self._send_lock:
                self.sock.sendall(data)
        except OSError as exc:  # a timeout too: the view's process stopped reading
            if not self._stop.is_set():
                self._broken = True
                if self.on_broken is not None:
                    self.on_broken(f"the view's process stopped listening ({type(exc).__name__})")
            return False
        return True

    def _feed(self) -> None:
        make_realtime(HELPER_PRIORITY)
        telemetry = self.telemetry
        seq = 0
        next_state = next_slow = next_lateness = time.monotonic()
        while not self._stop.is_set() and not self._broken:
            wait = min(next_state, next_slow) - time.monotonic()
            if wait > 0:
                telemetry.wait(min(wait, 0.1))
            frames: list[bytes] = []
            now = time.monotonic()
            try:
                seq, events = telemetry.events_since(seq)
                frames += [self._event_frame(kind, obj) for kind, obj in events]
                if now >= next_slow:
                    frames += self._slow_frames(now >= next_lateness)
                if now >= next_state:
                    frames.append(frame("state", self.state()))
            except Exception as exc:  # noqa: BLE001 - a bad reading must not freeze the view for the rest of the set
                self.failures += 1
                if self.failures == 1 and self.on_broken is not None:
                    self.on_broken(f"a reading failed ({type(exc).__name__}: {exc}); the view goes on", off=False)
            if now >= next_slow:
                next_slow = max(next_slow + 1.0 / SLOW_RATE, now)
                next_lateness = next_lateness if now < next_lateness else now + 1.0 / LATENESS_RATE
            if now >= next_state:
                next_state = max(next_state + self.period, now)
            if frames and self.send(b"".join(frames)):
                self.sent_frames += len(frames)

    @staticmethod
    def _event_frame(kind: str, obj: Any) -> bytes:
        if kind == "decision":
            return frame("decision", decision_json(obj))
        if kind == "heard":
            return frame("heard", heard_json(obj))
        return frame(kind, obj)

    def state(self) -> dict[str, Any]:
        """The telemetry snapshot, with what the targets know of their decks folded into the deck cards."""
        snap = self.telemetry.snapshot()
        beat, tempo, phrase = snap["beat"], snap["tempo"], snap["phrase_beats"]
        for name, card in snap["decks"].items():
            extra = self._decks.get(name)
            if not extra:
                continue
            position = extra["position"]
            if position is not None and extra["playing"]:
                position += beat - extra["read_at_beat"]
            card["position"] = position
            for key in ("track", "bpm", "key"):
                if card.get(key) is None and extra.get(key) is not None:
                    card[key] = extra[key]
            length = extra.get("length_beats")
            if position is not None and length:
                card["time_left"] = max(0.0, length - position) * 60.0 / tempo
            if position is not None:
                card["next_phrase"] = next_boundary(position + 1e-6, phrase) - position
        return snap

    def _slow_frames(self, lateness: bool) -> list[bytes]:
        frames = [frame("lateness", self.telemetry.lateness())] if lateness else []
        meters, decks = self._targets()
        self._decks = decks
        if meters:
            frames.append(frame("meters", meters))
        motion: dict[str, Any] = {}
        for source in list(getattr(self.session, "inputs", [])):
            try:
                motion.update(source.readings().get("motion", {}))
            except Exception:  # noqa: BLE001 - one input's bad reading must not blank the view
                continue
        if motion:
            frames.append(frame("motion", motion))
        return frames

    def _targets(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Meters (engines that play) and deck details, from each target's health()."""
        meters: dict[str, Any] = {}
        decks: dict[str, dict[str, Any]] = {}
        beat = self.session.clock.beat
        targets = [*getattr(self.session, "targets", []), getattr(self.session, "adornment", None)]
        for target in (t for t in targets if t is not None):
            try:
                health = target.health() or {}
            except Exception:  # noqa: BLE001 - a target's status bug must not stop the view
                continue
            if any(k in health for k in METER_KEYS):
                reading = {k: health.get(k) for k in METER_KEYS}
                peak = health.get("peak")
                reading["peak_db"] = 20 * math.log10(peak) if isinstance(peak, float | int) and peak > 0 else None
                meters[target.name] = reading
            for name, d in (health.get("decks") or {}).items():
                if isinstance(d, dict) and d.get("loaded"):
                    decks[name] = {"position": d.get("position_beats"), "playing": bool(d.get("playing")),
                                   "length_beats": d.get("length_beats"), "track": d.get("track"),
                                   "bpm": d.get("bpm"), "key": d.get("key"), "read_at_beat": beat}
        return meters, decks

    # -- in --------------------------------------------------------------------------------------------
    def _hear(self) -> None:
        make_realtime(HELPER_PRIORITY)  # it decides (PANIC among them): never preempted holding the GIL
        pending = b""
        while not self._stop.is_set():
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                if not self._stop.is_set() and self.on_broken is not None and not self._broken:
                    self._broken = True
                    self.on_broken("the view's process ended")
                break
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self._on_line(line)
            if len(pending) > MAX_LINE:
                pending = b""

    def _on_line(self, line: bytes) -> None:
        try:
            name, data = read_line(line)
        except ValueError:
            return
        if name == "clients" and isinstance(data, dict):
            self.clients = int(data.get("n", 0))
        elif name == "command" and isinstance(data, dict):
            try:
                self._command(data)
            except Exception as exc:  # noqa: BLE001 - one bad command never ends the listener
                self.send(frame("reply", {"rid": data.get("rid"), "verdict": "refused",
                                          "reason": f"{type(exc).__name__}: {exc}"}))

    def _command(self, command: dict[str, Any]) -> None:
        rid = command.get("rid")
        try:
            intent = command_intent(command, self.telemetry.intent_of)
        except (IntentError, ValueError, KeyError, TypeError) as exc:
            self.send(frame("reply", {"rid": rid, "verdict": "refused", "reason": f"not an intent: {exc}"}))
            return

        def answer(decision: Any) -> None:
            self.send(frame("reply", {"rid": rid, **decision_json(decision)}))

        self.session.submit_soon(intent, then=answer)
