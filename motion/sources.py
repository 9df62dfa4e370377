"""Listeners: one UDP port each, turning datagrams into readings.

`OscSource` understands every OSC sender in `formats.ROUTES`; `MocopiSource` the mocopi binary
stream. Both take a datagram and a host time, so a recorded take can be fed through exactly the same
code without a socket (`record.replay_offline`). A `Listener` comes in through the bridge's OSC front
door (`bridge.osc.Receiver`): it binds 127.0.0.1 unless told otherwise, refuses a LAN bind without an
allow-list (addresses or networks), drops senders not on the list, then floods before parsing, and
never lets an exception out of its thread. OSC is decoded by `bridge.osc.decode` like every other
OSC copilot takes: exact addresses only, at most `MAX_MESSAGES` per datagram.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from copilot.bridge.osc import DEFAULT_HOST, Bind, OscRefused, Receiver, decode

from . import formats, mocopi
from .guard import FLOOD_FACTOR, Rejected, TokenBucket
from .registry import Registry

log = logging.getLogger(__name__)

OSC_DEFAULT_PORT = 9200
RCVBUF = 1 << 20  # room for a few seconds of four phones at 100 Hz if the worker is ever starved
DATAGRAMS_PER_TICK = 8  # OSC senders may put each sensor in its own datagram
MAX_SENDERS = 256
MAX_MESSAGES = 64  # messages in one datagram: a phone's bundle holds one tick of every sensor it has

__all__ = ["DEFAULT_HOST", "OSC_DEFAULT_PORT", "Bind", "Listener", "MocopiSource", "OscSource"]


class Source(Protocol):
    kind: str
    nominal_hz: float
    registry: Registry

    def datagram(self, data: bytes, t: float, sender: tuple[str, int]) -> int: ...


class OscSource:
    """OSC datagrams (messages or bundles) → readings in the registry."""

    kind = "osc"
    nominal_hz = 100.0

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def datagram(self, data: bytes, t: float, sender: tuple[str, int]) -> int:
        try:
            messages = decode(data, MAX_MESSAGES)
        except OscRefused as exc:  # not OSC, an address pattern, an oversized bundle: dropped, counted
            self.registry.reject("malformed", f"{exc} from {sender[0]}")
            return 0
        readings = []
        for msg in messages:  # a bundle is one tick of one phone: stored together, one frame for all
            try:
                readings += formats.decode(msg.address, msg.args, t, sender)
            except Rejected as exc:
                self.registry.reject(exc.reason, exc.detail)
            except Exception as exc:  # a decoder bug must never stop the listener
                log.exception("OSC decode failed")
                self.registry.reject("malformed", f"{type(exc).__name__}: {exc}")
        if not readings:
            return 0
        return self.registry.ingest(readings, formats.nominal_hz(readings[0].source))


class MocopiSource:
    """mocopi datagrams → six limbs of accelerations and rotation rates per frame."""

    kind = "mocopi"
    nominal_hz = mocopi.NOMINAL_HZ

    def __init__(self, registry: Registry, performer: str | None = None) -> None:
        self.registry = registry
        self.performer = performer
        self.bodies: dict[str, mocopi.Body] = {}

    def datagram(self, data: bytes, t: float, sender: tuple[str, int]) -> int:
        try:
            packet = mocopi.parse(data)
        except Rejected as exc:
            self.registry.reject(exc.reason, f"mocopi from {sender[0]}: {exc.detail}")
            return 0
        except Exception as exc:  # noqa: BLE001 - a parser bug must drop the packet, not the listener
            self.registry.reject("malformed", f"mocopi from {sender[0]}: {type(exc).__name__}")
            return 0
        name = f"mocopi@{sender[0]}"
        body = self.bodies.get(name)
        if body is None:
            if len(self.bodies) >= MAX_SENDERS:
                self.registry.reject("unassigned", f"too many mocopi senders ({name})")
                return 0
            body = self.bodies[name] = mocopi.Body(name)
        if isinstance(packet, mocopi.Skeleton):
            body.skeleton(packet)
            return 0
        readings = body.readings(packet, t, f"{sender[0]}:{sender[1]}", self.performer)
        return self.registry.ingest(readings, self.nominal_hz) if readings else 0


class Listener:
    """One UDP port: receive, admit (allow-list, per-sender flood guard), decode, count."""

    def __init__(
        self,
        bind: Bind,
        source: Source,
        allow: Sequence[str] = (),
        tap: Callable[[str, bytes, float, tuple[str, int]], None] | None = None,
    ) -> None:
        self.bind = bind
        self.source = source
        self._receiver = Receiver(bind, self._on_datagram, allow, source.kind, self._refused, rcvbuf=RCVBUF,
                                  name=f"copilot-motion-{source.kind}")
        self.allow = self._receiver.allow
        self.tap = tap  # a recorder: sees every admitted datagram
        self._senders: dict[tuple[str, int], TokenBucket] = {}
        self.port = bind.port

    @property
    def datagrams(self) -> int:
        return self._receiver.datagrams

    def start(self) -> None:
        self._receiver.start()
        self.port = self._receiver.port

    def stop(self) -> None:
        self._receiver.close()

    def _refused(self, reason: str, host: str) -> None:
        self.source.registry.reject(reason, host)

    def _admit(self, sender: tuple[str, int], t: float) -> bool:
        """The per-sender flood guard (the allow-list was the front door's)."""
        bucket = self._senders.get(sender)
        if bucket is None:
            if len(self._senders) >= MAX_SENDERS:
                self._senders.clear()  # a port scan or spoofed storm; start counting afresh
            rate = FLOOD_FACTOR * self.source.nominal_hz * (DATAGRAMS_PER_TICK if self.source.kind == "osc" else 1)
            bucket = self._senders[sender] = TokenBucket(rate, rate * 0.25)
        if not bucket.allow(t):
            self.source.registry.reject("flood", f"datagrams from {sender[0]}:{sender[1]}")
            return False
        return True

    def _on_datagram(self, data: bytes, t: float, sender: tuple[str, int]) -> None:
        if not self._admit(sender, t):
            return
        if self.tap is not None:
            self.tap(self.source.kind, data, t, sender)
        self.source.datagram(data, t, sender)

    def status(self) -> dict[str, Any]:
        return {"kind": self.source.kind, "bind": f"{self.bind.host}:{self.port}", "datagrams": self.datagrams,
                "allow": self.allow.entries()}
