"""Real parts for the Live and Strudel tests.

`AbletonOscServer` is a real UDP server speaking AbletonOSC's documented addresses and reply rule
(answers go to port `reply_port` of the sender's address, with the request's own address), processing
one message at a time like Live's tick. Live itself cannot run here; this is its wire, not a mock of
our code. It can be slow (`delay`) or spit garbage (`garbage`).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from copilot.bridge.clock import host_time
from copilot.tests.fixtures import free_udp_port


def osc_bytes(address: str, *args: Any) -> bytes:
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


@dataclass
class AbletonOscServer:
    reply_port: int
    tempo: float = 120.0
    delay: float = 0.0  # seconds before each answer (Live's tick, or a busy Live)
    garbage: bool = False  # answer every query with junk first
    mins: dict[tuple[int, int], tuple[float, ...]] = field(default_factory=dict)
    maxs: dict[tuple[int, int], tuple[float, ...]] = field(default_factory=dict)
    received: list[tuple[str, tuple[Any, ...], float]] = field(default_factory=list)
    replies: queue.Queue[Any] = field(default_factory=queue.Queue)  # scripted answers to override defaults

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._running = True
        self._lock = threading.Lock()
        self._beat_listener: threading.Thread | None = None
        self._beat_stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._running:
            try:
                data, (host, _port) = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            for m in OscPacket(data).messages:
                msg = m.message
                with self._lock:
                    self.received.append((msg.address, tuple(msg.params), host_time()))
                answer = self._answer(msg.address, tuple(msg.params))
                if answer is None:
                    continue
                if self.delay:
                    time.sleep(self.delay)
                if self.garbage:
                    self.push(b"\x00\xffnot osc at all", host)
                    self.push(osc_bytes(msg.address, "garbage"), host)
                self.push(osc_bytes(msg.address, *answer), host)

    def _answer(self, address: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if address == "/live/song/start_listen/beat":
            self._start_beats()
            return None
        if address == "/live/song/stop_listen/beat":
            self._beat_stop.set()
            return None
        if "/get/" not in address and address != "/live/test":
            return None  # setters and launches: Live answers nothing
        with contextlib.suppress(queue.Empty):
            return tuple(self.replies.get_nowait())
        if address == "/live/test":
            return ("ok",)
        if address == "/live/song/get/tempo":
            return (self.tempo,)
        if address == "/live/device/get/parameters/min":
            return (*args[:2], *self.mins.get((int(args[0]), int(args[1])), ()))
        if address == "/live/device/get/parameters/max":
            return (*args[:2], *self.maxs.get((int(args[0]), int(args[1])), ()))
        return None

    def push(self, data: bytes, host: str = "127.0.0.1") -> None:
        self.sock.sendto(data, (host, self.reply_port))

    def _start_beats(self, period: float = 0.05) -> None:
        if self._beat_listener is not None:
            return

        def run() -> None:
            n = 0
            while not self._beat_stop.wait(period):
                self.push(osc_bytes("/live/song/get/beat", n))
                n += 1

        self._beat_listener = threading.Thread(target=run, daemon=True)
        self._beat_listener.start()

    def messages(self, skip: Callable[[str], bool] = lambda a: False) -> list[tuple[str, tuple[Any, ...]]]:
        with self._lock:
            return [(a, p) for a, p, _ in self.received if not skip(a)]

    def wait_for(self, count: int, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return
            time.sleep(0.005)

    def close(self) -> None:
        self._running = False
        self._beat_stop.set()
        self._thread.join(1.0)
        self.sock.close()


@pytest.fixture
def ableton_osc_server() -> Iterator[AbletonOscServer]:
    """An AbletonOSC-speaking UDP server on an ephemeral port, answering to an ephemeral reply port."""
    server = AbletonOscServer(reply_port=free_udp_port())
    try:
        yield server
    finally:
        server.close()
