"""Helpers for the motion tests: real UDP senders, waiting on real listeners, random safe weights."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from copilot.motion.weights import CONTEXT, DS, EVIDENCE, FastWeights, H, default_weights


class UdpSender:
    """A plain UDP socket aimed at one port: what a phone or the mocopi app is to us."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.dest = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.dest)

    def send_all(self, datagrams: Iterable[bytes], gap: float = 0.0) -> None:
        for d in datagrams:
            self.send(d)
            if gap:
                time.sleep(gap)

    def close(self) -> None:
        self.sock.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 3.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def random_weights(seed: int, rho: float = 0.9, spread: float = 0.5, kappa: float = 0.1,
                   target: float = 0.9) -> FastWeights:
    """Random dense weights (not the structured defaults), then pulled inside the certified bound."""
    rng = np.random.default_rng(seed)
    D = default_weights().W1.shape[1]
    w = default_weights().copy()
    w.W1 = rng.standard_normal((H, D))
    w.W2 = rng.standard_normal((D, H))
    w.B = rng.standard_normal((H, EVIDENCE))
    w.V = rng.standard_normal((D, EVIDENCE))
    w.b1 = rng.standard_normal(H)
    w.c = rng.standard_normal(D)
    w.G = rng.standard_normal((D, CONTEXT))
    w.g0 = rng.standard_normal(D)
    w.s_lo = rng.uniform(0.3, 0.8, D)
    w.s_hi = w.s_lo + rng.uniform(0.0, spread, D)
    w.C = np.linalg.qr(rng.standard_normal((D, DS)))[0]
    w.kappa = kappa
    w.lam1 = float(rng.uniform(0, 0.1))
    w.lam2 = float(rng.uniform(0, 0.2))
    scale = rho / (np.linalg.norm(w.W1, 2) * np.linalg.norm(w.W2, 2))
    w.W2 = w.W2 * scale  # deliberately too strong for the step box; make_safe must fix it
    return w.make_safe(target)
