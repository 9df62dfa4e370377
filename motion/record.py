"""Takes: motion sessions recorded to a file and played back, byte for byte.

A take stores the raw datagrams (OSC or mocopi) as they arrived, so playing it back exercises every
parser, guard and filter again, faults included. The file is JSON Lines, one object per line:

    {"format": "copilot-motion-take", "version": 1, "created": "…", "tempo": 120.0, "quantum": 4.0,
     "note": "…"}                                                     ← header, first line
    {"t": 0.0123, "beat": 16.02, "kind": "osc", "from": "127.0.0.1:53211", "data": "<base64>"}
    …                                                                  ← one line per datagram

`t` is seconds since the take started (host time), `beat` the session clock's beat at arrival (for
calibration against the beat), `kind` which listener got it. A broken line is reported with its line
number; nothing else in the take is lost.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

FORMAT = "copilot-motion-take"
VERSION = 1
KINDS = ("osc", "mocopi")


class TakeError(ValueError):
    """A take file that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Datagram:
    t: float
    kind: str
    data: bytes
    sender: tuple[str, int] = ("127.0.0.1", 0)
    beat: float | None = None

    def to_json(self) -> str:
        d: dict[str, Any] = {"t": round(self.t, 6), "kind": self.kind, "from": f"{self.sender[0]}:{self.sender[1]}",
                             "data": base64.b64encode(self.data).decode("ascii")}
        if self.beat is not None:
            d["beat"] = round(self.beat, 6)
        return json.dumps(d, separators=(",", ":"))


@dataclass
class Take:
    tempo: float = 120.0
    quantum: float = 4.0
    note: str = ""
    created: str = ""
    datagrams: list[Datagram] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # lines that could not be read (with reasons)

    @property
    def duration(self) -> float:
        return self.datagrams[-1].t if self.datagrams else 0.0

    def header(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "created": self.created or _now(), "tempo": self.tempo,
                "quantum": self.quantum, "note": self.note}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("w") as fh:
            fh.write(json.dumps(self.header()) + "\n")
            for d in self.datagrams:
                fh.write(d.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path, strict: bool = False) -> Take:
        """Read a take. Unreadable datagram lines are skipped and listed in `skipped` (or raise, if strict)."""
        path = Path(path)
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TakeError(f"{path}: cannot read the take ({exc})") from None
        if not lines:
            raise TakeError(f"{path}: empty file, not a motion take")
        try:
            head = json.loads(lines[0])
        except json.JSONDecodeError:
            raise TakeError(f"{path}:1: not a motion take (the first line is not JSON)") from None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            found = head.get("format") if isinstance(head, dict) else head
            raise TakeError(f"{path}:1: not a motion take (format is {found!r}, expected {FORMAT!r})")
        if int(head.get("version", 0)) > VERSION:
            raise TakeError(f"{path}:1: take version {head['version']} is newer than this copilot reads ({VERSION})")
        take = cls(float(head.get("tempo", 120.0)), float(head.get("quantum", 4.0)), str(head.get("note", "")),
                   str(head.get("created", "")))
        last = 0.0
        for n, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                take.datagrams.append(_datagram(line, last))
                last = take.datagrams[-1].t
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                if strict:
                    raise TakeError(f"{path}:{n}: {exc}") from None
                take.skipped.append(f"line {n}: {exc}")
        return take


def _datagram(line: str, last: float) -> Datagram:
    d = json.loads(line)
    t = float(d["t"])
    if not t >= last:  # also refuses NaN
        raise ValueError(f"time {d['t']} goes backwards")
    kind = d["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    host, _, port = str(d.get("from", "127.0.0.1:0")).rpartition(":")
    beat = d.get("beat")
    return Datagram(t, kind, base64.b64decode(d["data"], validate=True), (host or "127.0.0.1", int(port or 0)),
                    float(beat) if beat is not None else None)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Recorder:
    """Appends admitted datagrams to a take file as they arrive (a listener's `tap`). Thread-safe."""

    def __init__(self, path: str | Path, clock: Any = None, tempo: float | None = None, note: str = "") -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._fh: IO[str] | None = self.path.open("w")
        self._t0: float | None = None
        self.count = 0
        take = Take(tempo=tempo or (clock.tempo if clock is not None else 120.0),
                    quantum=getattr(clock, "quantum", 4.0), note=note)
        self._fh.write(json.dumps(take.header()) + "\n")
        self._fh.flush()

    def start_at(self, t: float) -> None:
        self._t0 = t

    def tap(self, kind: str, data: bytes, t: float, sender: tuple[str, int]) -> None:
        beat = self.clock.beat_at_time(t) if self.clock is not None else None
        with self._lock:
            if self._fh is None:
                return
            if self._t0 is None:
                self._t0 = t
            self._fh.write(Datagram(max(0.0, t - self._t0), kind, data, sender, beat).to_json() + "\n")
            self.count += 1
            if self.count % 256 == 0:
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def play(datagrams: Iterable[Datagram], targets: dict[str, tuple[str, int]], speed: float = 1.0,
         stop: threading.Event | None = None, on_send: Callable[[Datagram, float], None] | None = None) -> int:
    """Send datagrams over real UDP with their recorded spacing (÷ speed). Returns how many went."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    from copilot.bridge.clock import host_time

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    try:
        start = host_time()
        first: float | None = None
        for d in datagrams:
            dest = targets.get(d.kind)
            if dest is None:
                continue
            if first is None:
                first = d.t
            due = start + (d.t - first) / speed
            while True:
                left = due - host_time()
                if left <= 0:
                    break
                if stop is not None and stop.is_set():
                    return sent
                time.sleep(min(left, 0.05) if left > 0.002 else 0)
            if stop is not None and stop.is_set():
                return sent
            t = host_time()
            sock.sendto(d.data, dest)
            sent += 1
            if on_send is not None:
                on_send(d, t)
    finally:
        sock.close()
    return sent


def iter_offline(take: Take, start: float = 0.0) -> Iterator[tuple[float, Datagram]]:
    """(virtual host time, datagram) pairs for feeding a take through sources with a manual clock."""
    for d in take.datagrams:
        yield start + d.t, d
