"""What the fuzz tests share: a decide path with real parts on a manual clock, and a real-UDP blaster.

`Decider` is what an OSC intent reaches in a session — the safety scheduler, the router, the
midi-monitor target's rendering and the dispatcher (pumped on virtual time) — with every decision kept.
`blast` sends datagrams over real UDP to a live listener, paced so loopback never drops one.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from copilot.bridge.clock import ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.router import Router
from copilot.bridge.scheduler import Decision, SafetyScheduler
from copilot.bridge.state import HostState
from copilot.plugins.midi_monitor import MidiMonitor

FUZZ_INPUTS = 10_000  # per surface in the test suite (bench/fuzz_live.py sends a million)
VALID_EVERY = 100  # one well-formed packet among this many


class Decider:
    def __init__(self) -> None:
        self.clock = ManualClock(124.0)
        self.state = HostState()
        self.dispatcher = Dispatcher(self.clock, realtime=False)
        self.router = Router([MidiMonitor()], self.dispatcher, self.state, self.clock, lambda _m: None)
        self.scheduler = SafetyScheduler(self.clock, self.state, self.router)
        self.decisions: list[Decision] = []

    def submit(self, intent: Any) -> Decision:
        decision = self.scheduler.submit(intent)
        self.decisions.append(decision)
        return decision

    def tick(self, seconds: float = 0.01) -> None:
        """Virtual time moves on: what was due is rendered and sent, the queues drain."""
        self.clock.advance(seconds)
        self.dispatcher.pump(self.clock.now())


def share(surface: str, n: int = 1500, every: int = 50, seed: int = 3) -> list[bytes]:
    """The real-UDP share of a fuzz test: `n` hostile datagrams with a well-formed one every `every`."""
    from copilot.tests.fuzz_corpus import corpus, valid

    out: list[bytes] = []
    for i, data in enumerate(corpus(surface, n, seed=seed)):
        out.append(data)
        if i % every == 0:
            out.append(valid(surface, i))
    return out


def blast(port: int, datagrams: Iterable[bytes], received: Callable[[], int], window: int = 64,
          sock: socket.socket | None = None) -> int:
    """Send every datagram to 127.0.0.1:`port`, never more than `window` ahead of what the listener has
    counted (`received()`): loopback drops nothing. Returns how many were sent."""
    own = sock is None
    sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    base = received()
    sent = 0
    try:
        for data in datagrams:
            deadline = time.monotonic() + 5.0
            while sent - (received() - base) >= window and time.monotonic() < deadline:
                time.sleep(0.0005)
            try:
                sock.sendto(data, ("127.0.0.1", port))
            except OSError:  # larger than a datagram may be: not sent, not counted
                continue
            sent += 1
        deadline = time.monotonic() + 5.0
        while received() - base < sent and time.monotonic() < deadline:
            time.sleep(0.001)
    finally:
        if own:
            sock.close()
    return sent


def errors_logged(records: list[logging.LogRecord]) -> list[str]:
    """Exceptions a safety net caught (log.exception / errors): each one is a bug the fuzzer found."""
    return [f"{r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.ERROR]
