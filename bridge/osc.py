"""OSC in and out.

In: intents from phones, pads and other machines —
    /copilot/intent "loop 4 on deck A"      words, through the same grammar as scripts and voice
    /copilot/intent/json "{...}"            an Intent as JSON (Lamport stamp merged), machine to machine
    /copilot/panic   /copilot/confirm   /copilot/cancel
Each gets a reply `/copilot/decision <verdict> <reason>` to the sender. The server binds 127.0.0.1
unless configured; a LAN bind needs an allow-list of sender addresses. Garbage is counted, never raised.

Out: `OscSender` sends messages, or bundles with timetags for remote peers that schedule themselves.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from copilot.intents.parser import parse
from copilot.intents.schema import Intent, IntentError, IntentKind, Source

from .clock import host_time

log = logging.getLogger(__name__)
DEFAULT_BIND = "127.0.0.1:9100"


def parse_hostport(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """"9100" → ("127.0.0.1", 9100); "0.0.0.0:9100" → ("0.0.0.0", 9100). Clear error otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = default_host, text
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"expected [HOST:]PORT, got {text!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port must be 0..65535, got {number}")
    return host or default_host, number


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class OscCounters:
    received: int = 0
    accepted: int = 0
    refused: int = 0
    not_allowed: int = 0
    malformed: int = 0
    by_address: dict[str, int] = field(default_factory=dict)


class IntentServer:
    """Listens for intents over UDP and hands them to `submit` (the session)."""

    def __init__(
        self,
        submit: Callable[[Intent], Any],
        bind: str = DEFAULT_BIND,
        allow: Iterable[str] = (),
        reply: bool = True,
    ) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_packet import OscPacket, ParseError
        from pythonosc.osc_server import BlockingOSCUDPServer

        self.submit = submit
        self.reply = reply
        self.counters = OscCounters()
        host, port = parse_hostport(bind)
        self.allow = {str(ipaddress.ip_address(a)) for a in allow}
        if not is_loopback(host) and not self.allow:
            raise ValueError(
                f"binding OSC intents to {host} would let anyone on the network drive the decks; "
                "give an allow-list of sender addresses (--allow 192.168.1.20) or bind 127.0.0.1"
            )
        dispatcher = Dispatcher(strict_timing=False)  # never sleep in the handler for future bundles
        dispatcher.map("/copilot/intent", self._guard(self._on_text), needs_reply_address=True)
        dispatcher.map("/copilot/intent/json", self._guard(self._on_json), needs_reply_address=True)
        for name, kind in (("panic", IntentKind.PANIC), ("confirm", IntentKind.CONFIRM),
                           ("cancel", IntentKind.CANCEL)):
            dispatcher.map(f"/copilot/{name}", self._guard(self._on_bare(kind)), needs_reply_address=True)
        dispatcher.set_default_handler(self._on_unknown, needs_reply_address=True)
        server = self

        class _Server(BlockingOSCUDPServer):
            def verify_request(self, request: Any, client_address: Any) -> bool:
                server.counters.received += 1
                if not server._allowed(client_address[0]):
                    server.counters.not_allowed += 1
                    return False
                if not super().verify_request(request, client_address):
                    server.counters.malformed += 1
                    return False
                try:  # python-osc would swallow a broken packet silently: count it here
                    OscPacket(request[0])
                except ParseError:
                    server.counters.malformed += 1
                    return False
                return True

            def handle_error(self, request: Any, client_address: Any) -> None:
                server.counters.malformed += 1

        self._server = _Server((host, port), dispatcher)
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    def _allowed(self, address: str) -> bool:
        return is_loopback(address) or address in self.allow

    def _guard(self, handler: Callable[..., None]) -> Callable[..., None]:
        def guarded(client: tuple[str, int], address: str, *args: Any) -> None:
            self.counters.by_address[address] = self.counters.by_address.get(address, 0) + 1
            try:
                handler(client, address, *args)
            except Exception as exc:  # noqa: BLE001 - a bad packet must not stop the server
                self.counters.malformed += 1
                log.warning("OSC %s from %s: %s", address, client[0], exc)
                self._reply(client, "error", f"{type(exc).__name__}: {exc}")

        return guarded

    def _on_text(self, client: tuple[str, int], address: str, *args: Any) -> None:
        words = [a for a in args if isinstance(a, str)]
        if not words:
            self.counters.malformed += 1
            self._reply(client, "refused", f"{address} takes the command as a string")
            return
        result = parse(" ".join(words), Source.REMOTE)
        if result.intent is None:
            self.counters.refused += 1
            self._reply(client, "refused", result.reason)
            return
        self._submit(client, result.intent)

    def _on_json(self, client: tuple[str, int], address: str, *args: Any) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            self.counters.malformed += 1
            self._reply(client, "refused", f"{address} takes one JSON string")
            return
        try:
            data = json.loads(args[0])
            if not isinstance(data, dict):
                raise IntentError("the JSON must be an object")
            data.setdefault("source", Source.REMOTE.value)
            intent = Intent.from_dict(data)
        except (ValueError, IntentError, TypeError, KeyError) as exc:
            self.counters.malformed += 1
            self._reply(client, "refused", f"not an intent: {exc}")
            return
        self._submit(client, intent)

    def _on_bare(self, kind: IntentKind) -> Callable[..., None]:
        def handler(client: tuple[str, int], address: str, *args: Any) -> None:
            self._submit(client, Intent(kind, source=Source.REMOTE, text=address))

        return handler

    def _on_unknown(self, client: tuple[str, int], address: str, *args: Any) -> None:
        self.counters.malformed += 1

    def _submit(self, client: tuple[str, int], intent: Intent) -> None:
        decision = self.submit(intent)
        verdict = getattr(decision, "verdict", None)
        verdict_text = getattr(verdict, "value", str(verdict))
        if verdict_text == "refused":
            self.counters.refused += 1
        else:
            self.counters.accepted += 1
        self._reply(client, verdict_text, getattr(decision, "reason", ""))

    def _reply(self, client: tuple[str, int], verdict: str, reason: str) -> None:
        if not self.reply:
            return
        from pythonosc.osc_message_builder import OscMessageBuilder

        builder = OscMessageBuilder("/copilot/decision")
        builder.add_arg(str(verdict))
        builder.add_arg(str(reason))
        with contextlib.suppress(OSError):  # the sender went away; the decision stands
            self._server.socket.sendto(builder.build().dgram, client)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="copilot-osc-intents", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from .dispatch import HELPER_PRIORITY, make_realtime

        make_realtime(HELPER_PRIORITY)
        self._server.serve_forever(poll_interval=0.1)

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(2.0)
            self._thread = None
        self._server.server_close()


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
