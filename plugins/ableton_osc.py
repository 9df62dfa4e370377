"""A polite client for AbletonOSC (the remote script github.com/ideoforms/AbletonOSC).

AbletonOSC listens on UDP 11000 and answers on port 11001 of the sender's address (not its source
port), with the request's own address, e.g. `/live/song/get/tempo` → `/live/song/get/tempo (tempo,)`.
Live handles messages on its ~100 ms tick, so this client is for what tolerates that: launches Live
quantizes itself, tempo, device parameters, and the beat listener. Envelopes go over MIDI CC.

Politeness: sends never block or raise (a missing Live is normal on stage until it is not); queries
wait at most `timeout` and return None; replies are matched to queries first-in first-out per
address, so a slow server's late answer is dropped instead of answering the next question; garbage
datagrams are counted and ignored.

The reply port comes in through the bridge's OSC front door (`bridge.osc.Receiver` and `decode`): it
listens on 127.0.0.1 when Live is on this machine; with Live on another one it listens on every
interface but admits only that machine (or the `reply_allow` list). Nobody else on the LAN can feed
it beats or answers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from copilot.bridge.clock import host_time
from copilot.bridge.osc import Bind, OscRefused, Receiver, decode

log = logging.getLogger(__name__)

SEND_PORT = 11000
REPLY_PORT = 11001
STALE_AFTER = 3.0  # seconds: a query unanswered this long is taken as lost (UDP), not merely slow
MAX_REPLY_MESSAGES = 8  # AbletonOSC answers with single messages; a small bundle is tolerated


class OscUnavailable(RuntimeError):
    """The reply port cannot be bound (another AbletonOSC client on this machine holds it)."""


@dataclass
class _Query:
    prefix: tuple[Any, ...]
    sent: float
    done: threading.Event = field(default_factory=threading.Event)
    reply: tuple[Any, ...] | None = None
    abandoned: bool = False
    accept: Callable[[tuple[Any, ...]], bool] | None = None  # a reply failing this is garbage, not the answer


@dataclass
class OscStats:
    sent: int = 0
    send_errors: int = 0
    received: int = 0
    garbage: int = 0
    not_allowed: int = 0  # datagrams from a machine that is not Live's
    timeouts: int = 0
    late_replies: int = 0
    last_reply: float | None = None
    round_trip: float | None = None  # seconds, last answered query

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _same(a: Any, b: Any) -> bool:
    """Index arguments echo back as ints or floats depending on the sender; compare them as numbers."""
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b))
    return a == b


def reply_listener(host: str, reply_port: int, allow: Sequence[str] | None = None) -> tuple[Bind, list[str]]:
    """Where to listen for Live's answers and whom to admit: this machine only when Live is on it;
    every interface, admitting Live's machine (or `allow`), when Live is elsewhere."""
    live = Bind(host, 0)
    if live.loopback:
        return Bind("127.0.0.1", reply_port), list(allow or [])
    return Bind("0.0.0.0", reply_port), list(allow or [host])


class AbletonOSC:
    def __init__(self, host: str = "127.0.0.1", port: int = SEND_PORT, reply_port: int = REPLY_PORT,
                 timeout: float = 0.5, reply_allow: Sequence[str] | None = None) -> None:
        self.host = host
        self.port = int(port)
        self.reply_port = int(reply_port)
        self.timeout = float(timeout)
        self.reply_bind, self.reply_allow = reply_listener(host, self.reply_port, reply_allow)
        self.stats = OscStats()
        self.listening = False
        self.error: str | None = None
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._out.setblocking(False)
        self._receiver: Receiver | None = None
        self._lock = threading.Lock()
        self._queries: dict[str, deque[_Query]] = {}
        self._listeners: dict[str, list[Callable[[tuple[Any, ...], float], None]]] = {}
        self._ranges: dict[tuple[int, int], tuple[tuple[float, ...], tuple[float, ...]]] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> bool:
        """Bind the reply port and start listening. False (with `error` set) if the port is taken:
        sends still work, queries then return None."""
        if self.listening:
            return True
        try:
            receiver = Receiver(self.reply_bind, self._on_datagram, self.reply_allow, "AbletonOSC replies",
                                self._refused, name="copilot-abletonosc")
            receiver.start()
        except (OSError, ValueError) as exc:
            self.error = f"{exc} (UDP {self.reply_port}: another AbletonOSC client, or a second copilot, holds it)"
            log.warning(self.error)
            return False
        self._receiver = receiver
        self.listening = True
        self.error = None
        return True

    @property
    def alive(self) -> bool:
        """Is the reply listener's thread running (nothing a sender does may stop it)?"""
        return self._receiver is not None and self._receiver.alive

    def close(self) -> None:
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None
        self.listening = False
        with contextlib.suppress(OSError):
            self._out.close()

    def __enter__(self) -> AbletonOSC:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------------
    def send(self, address: str, *args: Any) -> bool:
        """Fire and forget. Never blocks, never raises: False if the datagram could not go out."""
        try:
            builder = OscMessageBuilder(address)
            for arg in args:
                builder.add_arg(_wire(arg))
            self._out.sendto(builder.build().dgram, (self.host, self.port))
        except (OSError, ValueError, TypeError) as exc:
            self.stats.send_errors += 1
            log.debug("AbletonOSC send %s failed: %s", address, exc)
            return False
        self.stats.sent += 1
        return True

    def query(self, address: str, *args: Any, timeout: float | None = None,
              accept: Callable[[tuple[Any, ...]], bool] | None = None) -> tuple[Any, ...] | None:
        """Ask and wait for the answer (its arguments after the echoed `args`), or None after `timeout`.

        `accept` checks the shape of an answer: one that fails is counted as garbage and the query keeps
        waiting for a real one.
        """
        if not self.listening:
            return None
        q = _Query(tuple(args), host_time(), accept=accept)
        with self._lock:
            self._queries.setdefault(address, deque()).append(q)
        if not self.send(address, *args):
            q.abandoned = True
            return None
        if not q.done.wait(self.timeout if timeout is None else timeout):
            with self._lock:
                q.abandoned = True  # a late reply is still consumed in order, then dropped
            self.stats.timeouts += 1
            return None
        self.stats.round_trip = (self.stats.last_reply or host_time()) - q.sent
        return q.reply

    def listen(self, address: str, callback: Callable[[tuple[Any, ...], float], None]) -> None:
        """Call `callback(args, arrival host time)` for every pushed message on `address`."""
        with self._lock:
            self._listeners.setdefault(address, []).append(callback)

    # -- receiving (the front door's thread) ------------------------------------------------------------
    def _refused(self, reason: str, host: str) -> None:
        self.stats.not_allowed += 1

    def _on_datagram(self, data: bytes, now: float, sender: tuple[str, int]) -> None:
        try:
            messages = decode(data, MAX_REPLY_MESSAGES)
        except OscRefused:  # not OSC, an address pattern, a stuffed bundle: counted, never delivered
            self.stats.garbage += 1
            return
        for msg in messages:
            self.stats.received += 1
            self.stats.last_reply = now
            try:
                self._deliver(msg.address, msg.args, now)
            except Exception:
                self.stats.garbage += 1
                log.exception("AbletonOSC reply %s could not be handled", msg.address)

    def _deliver(self, address: str, params: tuple[Any, ...], now: float) -> None:
        with self._lock:
            pending = self._queries.get(address)
            while pending and now - pending[0].sent > STALE_AFTER:
                pending.popleft()  # lost on the way: never let it swallow a newer answer
            target = None
            for i, q in enumerate(pending or ()):
                if len(params) >= len(q.prefix) and all(map(_same, q.prefix, params)):
                    if q.accept is not None and not q.accept(params[len(q.prefix):]):
                        self.stats.garbage += 1
                        break
                    target = q
                    del pending[i]
                    break
            listeners = list(self._listeners.get(address, ()))
        if target is not None:
            if target.abandoned:
                self.stats.late_replies += 1
            else:
                target.reply = params[len(target.prefix):]
                target.done.set()
        for callback in listeners:
            callback(params, now)

    # -- the Live API, in Live's words ---------------------------------------------------------------
    def ping(self, timeout: float | None = None) -> float | None:
        """Round trip of `/live/test` in seconds, or None when nothing answers."""
        t0 = host_time()
        reply = self.query("/live/test", timeout=timeout)
        return host_time() - t0 if reply is not None else None

    def tempo(self) -> float | None:
        reply = self.query("/live/song/get/tempo", accept=lambda r: _number(r, 0) is not None)
        return _number(reply, 0)

    def set_tempo(self, bpm: float) -> bool:
        return self.send("/live/song/set/tempo", float(bpm))

    def start_playing(self) -> bool:
        return self.send("/live/song/start_playing")

    def stop_playing(self) -> bool:
        return self.send("/live/song/stop_playing")

    def fire_clip(self, track: int, clip: int) -> bool:
        return self.send("/live/clip/fire", int(track), int(clip))

    def stop_clip(self, track: int, clip: int) -> bool:
        return self.send("/live/clip/stop", int(track), int(clip))

    def fire_scene(self, scene: int) -> bool:
        return self.send("/live/scene/fire", int(scene))

    def set_volume(self, track: int, value: float) -> bool:
        return self.send("/live/track/set/volume", int(track), float(value))

    def set_send(self, track: int, send: int, value: float) -> bool:
        return self.send("/live/track/set/send", int(track), int(send), float(value))

    def parameter_range(self, track: int, device: int, parameter: int) -> tuple[float, float] | None:
        """The parameter's real min..max in Live (cached per device; None if Live does not answer)."""
        key = (int(track), int(device))
        if key not in self._ranges:
            lo = self.query("/live/device/get/parameters/min", *key, accept=_numbers)
            if lo is None:  # one silence is enough: do not make the caller wait twice
                return None
            hi = self.query("/live/device/get/parameters/max", *key, accept=_numbers)
            if hi is None or len(lo) != len(hi):
                return None
            self._ranges[key] = (tuple(float(v) for v in lo), tuple(float(v) for v in hi))
        lows, highs = self._ranges[key]
        if not 0 <= parameter < len(lows):
            return None
        return lows[parameter], highs[parameter]

    def range_cached(self, track: int, device: int) -> bool:
        return (int(track), int(device)) in self._ranges

    def forget_ranges(self) -> None:
        """Devices moved in Live: ask again next time."""
        self._ranges.clear()

    def parameter_message(self, track: int, device: int, parameter: int,
                          value: float) -> tuple[str, tuple[Any, ...]] | None:
        """The `/live/device/set/parameter/value` message for a normalised 0..1 value, or None if the
        parameter's range is unknown (never guess a range: a wrong guess can blast a parameter)."""
        span = self.parameter_range(track, device, parameter)
        if span is None or not math.isfinite(value):
            return None
        lo, hi = span
        v = lo + (hi - lo) * min(1.0, max(0.0, value))
        return "/live/device/set/parameter/value", (int(track), int(device), int(parameter), float(v))

    def set_parameter(self, track: int, device: int, parameter: int, value: float) -> bool:
        msg = self.parameter_message(track, device, parameter, value)
        return msg is not None and self.send(msg[0], *msg[1])

    def start_beat_listener(self, callback: Callable[[int, float], None]) -> bool:
        """Live pushes `/live/song/get/beat n` on every beat; `callback(n, arrival host time)`."""

        def on_beat(params: tuple[Any, ...], t: float) -> None:
            n = params[0] if params else None
            if isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) and 0 <= n < 2**31:
                callback(int(n), t)
            else:  # a beat count is a whole number Live counts up from 0 (int32 on the wire)
                self.stats.garbage += 1

        self.listen("/live/song/get/beat", on_beat)
        return self.send("/live/song/start_listen/beat")

    def stop_beat_listener(self) -> bool:
        with self._lock:
            self._listeners.pop("/live/song/get/beat", None)
        return self.send("/live/song/stop_listen/beat")


def _wire(arg: Any) -> Any:
    """OSC has int32, float32, strings: numpy scalars and bools become plain numbers."""
    if isinstance(arg, bool):
        return int(arg)
    if isinstance(arg, int | float | str | bytes):
        return arg
    if hasattr(arg, "item"):
        return arg.item()
    raise TypeError(f"cannot send {arg!r} over OSC")


def _numbers(reply: tuple[Any, ...]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in reply)


def _number(reply: tuple[Any, ...] | None, index: int) -> float | None:
    if reply is None or len(reply) <= index:
        return None
    v = reply[index]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)
