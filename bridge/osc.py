"""OSC: the one front door for every UDP port copilot listens on, the intent server, and a sender.

The front door (the intent server, the motion listeners and push-to-talk all come in through it):
- `Bind.parse("HOST:PORT")`: one address syntax. A bind beyond this machine needs an allow-list.
- `AllowList`: sender addresses *and* networks ("192.168.1.20", "192.168.1.0/24"). Empty admits every
  sender (legal only on a loopback bind); otherwise exactly the senders it lists are admitted — this
  machine too only when listed (127.0.0.1).
- `decode(data, limit)`: one datagram → its messages, or `OscRefused` saying why; never any other
  exception, whatever the bytes. Addresses are matched exactly by their receivers: an address holding
  OSC pattern characters (``*?[]{}``) is refused, never expanded, so `/*/*` fires nothing. A datagram
  holds at most `limit` messages; a bundle counts every message inside it, nested ones too.
- `Receiver`: one socket and one thread that never dies: it admits senders on the allow-list, hands each
  datagram over, and counts and drops whatever goes wrong.

Intents (`IntentServer`, 127.0.0.1:9100 unless configured):
    /copilot/intent "loop 4 on deck A"      words, through the same grammar as scripts and voice
    /copilot/intent/json "{...}"            an Intent as JSON (Lamport stamp merged), machine to machine
    /copilot/panic   /copilot/confirm   /copilot/cancel
One datagram is at most one intent: a bundle of one message is that message (its timetag ignored — an
intent is decided when it arrives); a bundle of more is refused whole. Each intent gets a reply
`/copilot/decision <verdict> <reason>` to its sender, sent when the decision is made (a LOAD's after its
library lookup, while the server goes on receiving: a PANIC behind it is never held up).

Out: `OscSender` sends messages, or bundles with timetags for remote peers that schedule themselves.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ipaddress
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from copilot.intents.parser import parse
from copilot.intents.schema import Intent, IntentError, IntentKind, Source

from .clock import host_time

log = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_BIND = "127.0.0.1:9100"
PATTERN_CHARS = frozenset("*?[]{}")  # OSC address-pattern syntax: refused in incoming addresses
MAX_DATAGRAM = 65536
MAX_JSON = 4096  # characters: an intent is a handful of fields; more is a mistake or an attack


# -- addresses and allow-lists ------------------------------------------------------------------------
@dataclass(frozen=True)
class Bind:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str | int, default_host: str = DEFAULT_HOST) -> Bind:
        """'PORT', 'HOST:PORT', ':PORT' or '[v6]:PORT' → Bind; ValueError says what was wrong."""
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


class AllowList:
    """Sender addresses and networks a listener admits. Empty: everyone (a loopback bind only)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise ValueError(f"--allow takes an address or network like 192.168.1.20 or 10.0.0.0/24, "
                                 f"not {entry!r}") from None
        self.networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def admits(self, host: str) -> bool:
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])  # a v6 scope (fe80::1%eth0) is not part of it
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def entries(self) -> list[str]:
        return [str(n) for n in self.networks]


def check_bind(bind: Bind, allow: AllowList, what: str) -> None:
    """A bind beyond this machine without an allow-list would let anyone on the network in: refuse it."""
    if not bind.loopback and not allow:
        raise ValueError(
            f"listening for {what} on {bind.host} would let anyone on the network in: give an allow-list of "
            "sender addresses or networks (--allow 192.168.1.20, --allow 192.168.1.0/24) or bind 127.0.0.1"
        )


# -- guarded decoding -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OscMessage:
    address: str
    args: tuple[Any, ...]
    timetag: float = 0.0  # wall-clock seconds a bundle asked for (0.0: "now", or not in a bundle)


class OscRefused(ValueError):
    """A datagram that is not let in. `reason`: "malformed" (not OSC), "pattern" (an address pattern
    where an exact address belongs), "too_many" (more messages than one datagram may carry)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def decode(data: bytes, limit: int = 1) -> list[OscMessage]:
    """One datagram → its messages (a bundle's, flattened, in order). Raises OscRefused, nothing else.

    Our own strict reader (not python-osc's): it never logs (python-osc warns on the root logger for
    every datagram it cannot read — a flood of garbage would become a flood of lines), refuses type tags
    it does not know instead of skipping them, and stops at the first message beyond `limit`.
    """
    out: list[OscMessage] = []
    buf = bytes(data)
    try:
        _read(buf, 0, len(buf), limit, 0, 0.0, out)
    except OscRefused:
        raise
    except (struct.error, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise OscRefused("malformed", type(exc).__name__) from None
    if not out:
        raise OscRefused("malformed", "an empty bundle")
    for m in out:
        if not PATTERN_CHARS.isdisjoint(m.address):
            raise OscRefused("pattern", f"address pattern {m.address[:40]!r}: only exact addresses are taken")
    return out


BUNDLE = b"#bundle\x00"
MAX_DEPTH = 8  # bundles inside bundles
NTP_EPOCH = 2208988800  # seconds from 1900 (OSC timetags) to 1970
_FIXED = {"i": (">i", 4), "f": (">f", 4), "h": (">q", 8), "d": (">d", 8), "c": (">i", 4), "r": (">I", 4),
          "m": ("4s", 4), "t": (">Q", 8)}
_BARE = {"T": True, "F": False, "N": None, "I": float("inf")}


def _read(buf: bytes, i: int, end: int, limit: int, depth: int, timetag: float, out: list[OscMessage]) -> None:
    """The packet in buf[i:end] (a message or a bundle) → `out`. Indexes into one buffer: nothing copied."""
    if buf.startswith(BUNDLE, i, end):
        if depth >= MAX_DEPTH or end - i < 16:
            raise OscRefused("malformed", "a bundle nested too deep or cut short")
        (ntp,) = struct.unpack_from(">Q", buf, i + 8)
        when = 0.0 if ntp <= 1 else (ntp >> 32) - NTP_EPOCH + (ntp & 0xFFFFFFFF) / 2**32  # 1 = "now"
        i += 16
        while i < end:
            if i + 4 > end:
                raise OscRefused("malformed", "a bundle element cut short")
            (size,) = struct.unpack_from(">i", buf, i)
            if size <= 0 or size % 4 or i + 4 + size > end:
                raise OscRefused("malformed", f"a bundle element of {size} bytes")
            _read(buf, i + 4, i + 4 + size, limit, depth + 1, when, out)
            i += 4 + size
        return
    if not buf.startswith(b"/", i, end):
        raise OscRefused("malformed", "neither a message nor a bundle")
    address, i = _string(buf, i, end)
    args: list[Any] = []
    if i < end:
        tags, i = _string(buf, i, end)
        if not tags.startswith(","):
            raise OscRefused("malformed", "no type tags")
        for tag in tags[1:]:
            if tag in _FIXED:
                fmt, size = _FIXED[tag]
                if i + size > end:
                    raise OscRefused("malformed", f"argument {tag!r} cut short")
                (value,) = struct.unpack_from(fmt, buf, i)
                args.append(value)
                i += size
            elif tag in ("s", "S"):
                value, i = _string(buf, i, end)
                args.append(value)
            elif tag == "b":
                (size,) = struct.unpack_from(">i", buf, i) if i + 4 <= end else (-1,)
                if size < 0 or i + 4 + size > end:
                    raise OscRefused("malformed", f"a blob of {size} bytes")
                args.append(buf[i + 4:i + 4 + size])
                i += 4 + size + (-size % 4)
            elif tag in _BARE:
                args.append(_BARE[tag])
            else:
                raise OscRefused("malformed", f"type tag {tag!r}")
    if len(out) >= limit:
        raise OscRefused("too_many", f"more than {limit} message{'s' if limit != 1 else ''} in one datagram")
    out.append(OscMessage(address, tuple(args), timetag))


def _string(buf: bytes, i: int, end: int) -> tuple[str, int]:
    """A NUL-terminated, 4-byte padded UTF-8 string at `i` → (text, where the next field starts)."""
    nul = buf.find(b"\x00", i, end)
    if nul < 0:
        raise OscRefused("malformed", "a string without its end")
    return buf[i:nul].decode("utf-8"), nul + 4 - ((nul - i) % 4)


# -- one port, one thread ------------------------------------------------------------------------------
class Receiver:
    """One UDP port: a socket and a thread that never dies.

    Each datagram from an admitted sender goes to `handle(data, host time, sender)`; a sender not on the
    allow-list goes to `refused("not_allowed", host)` instead. Whatever `handle` raises is counted in
    `errors` and dropped: nothing a sender does stops the thread.
    """

    def __init__(
        self,
        bind: Bind | str,
        handle: Callable[[bytes, float, tuple[str, int]], None],
        allow: Iterable[str] = (),
        what: str = "OSC",
        refused: Callable[[str, str], None] | None = None,
        rcvbuf: int | None = None,
        priority: int | None = None,
        name: str = "copilot-osc",
    ) -> None:
        self.bind = bind if isinstance(bind, Bind) else Bind.parse(bind)
        self.allow = AllowList(allow)
        check_bind(self.bind, self.allow, what)
        self.what = what
        self.handle = handle
        self.refused = refused
        self.rcvbuf = rcvbuf
        self.priority = priority  # a real-time priority for the thread (bridge.dispatch), or None
        self.name = name
        self.port = self.bind.port
        self.datagrams = 0
        self.not_allowed = 0
        self.errors = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = False

    def open(self) -> None:
        """Bind the port now (the listener can say where it listens before it starts). OSError says why not."""
        if self._sock is not None:
            return
        family = socket.AF_INET6 if ":" in self.bind.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if self.rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.bind((self.bind.host, self.bind.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot listen for {self.what} on {self.bind}: {exc.strerror or exc}") from None
        sock.settimeout(0.1)  # how soon close() is noticed
        self._sock = sock
        self.port = sock.getsockname()[1]

    def start(self) -> None:
        self.open()
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-{self.port}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Is the receiving thread running? (Nothing a sender does may stop it; tests and benches ask.)"""
        return self._thread is not None and self._thread.is_alive()

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        """A reply from this port (the sender went away: the datagram is dropped, nothing raised)."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.sendto(data, to)

    def close(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _run(self) -> None:
        if self.priority is not None:
            from .dispatch import make_realtime

            make_realtime(self.priority)
        sock = self._sock
        assert sock is not None
        while self._running:
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if self._running:
                    log.exception("%s: the socket failed", self.what)
                break
            t = host_time()
            self.datagrams += 1
            sender = (str(addr[0]), int(addr[1]))
            try:
                if not self.allow.admits(sender[0]):
                    self.not_allowed += 1
                    if self.refused is not None:
                        self.refused("not_allowed", sender[0])
                    continue
                self.handle(data, t, sender)
            except Exception:  # one datagram never ends the listener
                self.errors += 1
                log.exception("%s: a datagram from %s could not be handled", self.what, sender[0])


# -- intents ----------------------------------------------------------------------------------------------
@dataclass
class OscCounters:
    received: int = 0
    accepted: int = 0
    refused: int = 0
    not_allowed: int = 0
    malformed: int = 0  # not OSC, an address pattern, a bundle of several, an unknown address, bad arguments
    errors: int = 0  # a handler failed where it should have refused: a bug (logged), never a stop
    by_address: dict[str, int] = field(default_factory=dict)


class IntentServer:
    """Listens for intents over UDP and hands them to `submit` (the session's `submit_soon`).

    `submit(intent)` returns the decision, or a Future of it (a LOAD still being looked up): the sender
    hears the decision when it is made, and the server never waits for it.
    """

    def __init__(
        self,
        submit: Callable[[Intent], Any],
        bind: str = DEFAULT_BIND,
        allow: Iterable[str] = (),
        reply: bool = True,
    ) -> None:
        from .dispatch import HELPER_PRIORITY

        self.submit = submit
        self.reply = reply
        self.counters = OscCounters()
        self._count_lock = threading.Lock()  # decisions may come back on the library worker
        self._handlers: dict[str, Callable[[tuple[str, int], str, tuple[Any, ...]], None]] = {
            "/copilot/intent": self._on_text,
            "/copilot/intent/json": self._on_json,
            "/copilot/panic": self._on_bare(IntentKind.PANIC),
            "/copilot/confirm": self._on_bare(IntentKind.CONFIRM),
            "/copilot/cancel": self._on_bare(IntentKind.CANCEL),
        }
        self.receiver = Receiver(bind, self._on_datagram, allow, "OSC intents", self._on_refused,
                                 priority=HELPER_PRIORITY, name="copilot-osc-intents")
        self.receiver.open()
        self.host, self.port = self.receiver.bind.host, self.receiver.port

    def start(self) -> None:
        self.receiver.start()

    def close(self) -> None:
        self.receiver.close()

    # -- receiving (the receiver's thread) -------------------------------------------------------------
    def _on_refused(self, reason: str, host: str) -> None:
        self._count("received", "not_allowed")

    def _on_datagram(self, data: bytes, t: float, client: tuple[str, int]) -> None:
        self._count("received")
        try:
            (msg,) = decode(data, limit=1)
        except OscRefused as exc:
            self._count("malformed")
            log.debug("OSC intents from %s refused: %s", client[0], exc)
            return
        handler = self._handlers.get(msg.address)
        if handler is None:
            self._count("malformed")
            return
        with self._count_lock:
            self.counters.by_address[msg.address] = self.counters.by_address.get(msg.address, 0) + 1
        try:
            handler(client, msg.address, msg.args)
        except Exception:  # a bug: logged and counted; a bad packet must not stop the server
            self._count("errors")
            log.exception("OSC %s from %s could not be handled", msg.address, client[0])
            self._reply(client, "refused", "copilot could not handle that; nothing was done")

    def _on_text(self, client: tuple[str, int], address: str, args: tuple[Any, ...]) -> None:
        words = [a for a in args if isinstance(a, str)]
        if not words:
            self._count("malformed")
            self._reply(client, "refused", f"{address} takes the command as a string")
            return
        result = parse(" ".join(words), Source.REMOTE)
        if result.intent is None:
            self._count("refused")
            self._reply(client, "refused", result.reason)
            return
        self._submit(client, result.intent)

    def _on_json(self, client: tuple[str, int], address: str, args: tuple[Any, ...]) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            self._count("malformed")
            self._reply(client, "refused", f"{address} takes one JSON string")
            return
        if len(args[0]) > MAX_JSON:
            self._count("malformed")
            self._reply(client, "refused", f"an intent as JSON is at most {MAX_JSON} characters")
            return
        try:
            data = json.loads(args[0])
            if not isinstance(data, dict):
                raise IntentError("the JSON must be an object")
            # Whatever it claims, a sender on the network is a remote: never the performer's voice or the planner.
            data["source"] = Source.REMOTE.value
            intent = Intent.from_dict(data)
        except (ValueError, IntentError, TypeError, KeyError, RecursionError) as exc:  # RecursionError: [[[[…
            self._count("malformed")
            self._reply(client, "refused", f"not an intent: {exc}")
            return
        self._submit(client, intent)

    def _on_bare(self, kind: IntentKind) -> Callable[[tuple[str, int], str, tuple[Any, ...]], None]:
        def handler(client: tuple[str, int], address: str, args: tuple[Any, ...]) -> None:
            self._submit(client, Intent(kind, source=Source.REMOTE, text=address))

        return handler

    # -- deciding and answering --------------------------------------------------------------------------
    def _submit(self, client: tuple[str, int], intent: Intent) -> None:
        outcome = self.submit(intent)
        if isinstance(outcome, cf.Future):
            outcome.add_done_callback(lambda f: self._answer_done(client, f))
        else:
            self._answer(client, outcome)

    def _answer_done(self, client: tuple[str, int], future: cf.Future[Any]) -> None:
        """A LOAD's decision once its lookup ended — or why there is none: never an exception out of a
        future's callback (concurrent.futures prints those as a raw traceback)."""
        if future.cancelled():  # the session stopped while the LOAD waited for the library
            self._count("refused")
            self._reply(client, "refused", "the session stopped before this was decided; nothing was done")
            return
        error = future.exception()
        if error is not None:  # a bug in deciding: logged and counted, as for a handler
            self._count("errors")
            log.error("OSC intent from %s could not be decided: %r", client[0], error)
            self._reply(client, "refused", "copilot could not handle that; nothing was done")
            return
        self._answer(client, future.result())

    def _answer(self, client: tuple[str, int], decision: Any) -> None:
        verdict = getattr(decision, "verdict", None)
        verdict_text = getattr(verdict, "value", str(verdict))
        self._count("refused" if verdict_text == "refused" else "accepted")
        self._reply(client, verdict_text, getattr(decision, "reason", ""))

    def _reply(self, client: tuple[str, int], verdict: str, reason: str) -> None:
        if not self.reply:
            return
        from pythonosc.osc_message_builder import OscMessageBuilder

        builder = OscMessageBuilder("/copilot/decision")
        builder.add_arg(str(verdict))
        builder.add_arg(str(reason))
        self.receiver.send(builder.build().dgram, client)

    def _count(self, *names: str) -> None:
        with self._count_lock:
            for name in names:
                setattr(self.counters, name, getattr(self.counters, name) + 1)


# -- out ----------------------------------------------------------------------------------------------------
class OscSender:
    """OSC out over UDP: plain messages, or bundles with a timetag for a peer that schedules itself."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._wall_offset = time.time() - host_time()  # host time → wall clock, for NTP timetags

    def send(self, address: str, *args: Any) -> None:
        from pythonosc.osc_message_builder import OscMessageBuilder

        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        self._sock.sendto(builder.build().dgram, self.address)

    def send_at(self, at: float, address: str, *args: Any) -> None:
        """A bundle due at host time `at` (converted to the wall-clock timetag OSC peers expect)."""
        from pythonosc.osc_bundle_builder import OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        bundle = OscBundleBuilder(at + self._wall_offset)
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        bundle.add_content(builder.build())
        self._sock.sendto(bundle.build().dgram, self.address)

    def close(self) -> None:
        self._sock.close()
