"""Listeners: one UDP socket and one thread per port, turning datagrams into readings.

`OscSource` understands every OSC sender in `formats.ROUTES`; `MocopiSource` the mocopi binary
stream. Both take a datagram and a host time, so a recorded take can be fed through exactly the same
code without a socket (`record.replay_offline`). A `Listener` owns the socket: it binds 127.0.0.1
unless told otherwise, refuses a LAN bind without an allow-list, drops senders not on the list and
floods before parsing, and never lets an exception out of its thread.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from copilot.bridge.clock import host_time

from . import formats, mocopi
from .guard import FLOOD_FACTOR, Rejected, TokenBucket
from .registry import Registry

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
OSC_DEFAULT_PORT = 9200
RCVBUF = 1 << 20  # room for a few seconds of four phones at 100 Hz if the worker is ever starved
DATAGRAMS_PER_TICK = 8  # OSC senders may put each sensor in its own datagram
MAX_SENDERS = 256


@dataclass(frozen=True)
class Bind:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str | int, default_host: str = DEFAULT_HOST) -> Bind:
        """'PORT', 'HOST:PORT' or ':PORT' → Bind; ValueError says what was wrong."""
        raw = str(text).strip()
        host, sep, port = raw.rpartition(":")
        if not sep:
            host, port = "", raw
        try:
            number = int(port)
        except ValueError:
            raise ValueError(f"expected [HOST:]PORT, got {raw!r}") from None
        if not 0 <= number <= 65535:
            raise ValueError(f"port {number} is not 0..65535")
        return cls(host.strip("[]") or default_host, number)

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_allow(entries: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or networks ('192.168.1.20', '192.168.1.0/24'); ValueError names a bad entry."""
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--allow takes an address or network like 192.168.1.20 or 10.0.0.0/24, "
                             f"not {entry!r}") from None
    return tuple(out)


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
        from pythonosc.osc_packet import OscPacket

        try:
            messages = OscPacket(data).messages
        except Exception as exc:  # noqa: BLE001 - python-osc raises ParseError, and worse on hostile bytes
            self.registry.reject("malformed", f"{type(exc).__name__} from {sender[0]}")
            return 0
        readings = []
        for timed in messages:  # a bundle is one tick of one phone: stored together, one frame for all
            msg = timed.message
            try:
                readings += formats.decode(msg.address, msg.params, t, sender)
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
        self.allow = parse_allow(allow)
        if not bind.loopback and not self.allow:
            raise ValueError(
                f"listening on {bind.host} opens {source.kind} to the network: give an allow-list of the "
                f"phones' addresses (--allow 192.168.1.20, or a network such as 192.168.1.0/24)"
            )
        self.tap = tap  # a recorder: sees every admitted datagram
        self.datagrams = 0
        self._senders: dict[tuple[str, int], TokenBucket] = {}
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self.port = bind.port

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.bind.host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((self.bind.host, self.bind.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot listen for {self.source.kind} on {self.bind}: {exc.strerror or exc}") from None
        sock.settimeout(0.1)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"copilot-motion-{self.source.kind}-{self.port}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _admit(self, sender: tuple[str, int], t: float) -> bool:
        if self.allow:
            try:
                ip = ipaddress.ip_address(sender[0])
            except ValueError:
                ip = None
            if ip is None or not any(ip in net for net in self.allow):
                self.source.registry.reject("not_allowed", sender[0])
                return False
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

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        while self._running:
            try:
                data, addr = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._running:
                    log.exception("motion listener socket failed")
                break
            t = host_time()
            sender = (addr[0], addr[1])
            self.datagrams += 1
            try:
                if not self._admit(sender, t):
                    continue
                if self.tap is not None:
                    self.tap(self.source.kind, data, t, sender)
                self.source.datagram(data, t, sender)
            except Exception:  # never let one datagram end the listener
                log.exception("motion datagram handling failed")

    def status(self) -> dict[str, Any]:
        return {"kind": self.source.kind, "bind": f"{self.bind.host}:{self.port}", "datagrams": self.datagrams,
                "allow": [str(n) for n in self.allow]}
