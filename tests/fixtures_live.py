"""Real parts for the Live and Strudel tests.

`AbletonOscServer` is a real UDP server speaking AbletonOSC's documented addresses and reply rule
(answers go to port `reply_port` of the sender's address, with the request's own address), processing
one message at a time like Live's tick. Live itself cannot run here; this is its wire, not a mock of
our code. It can be slow (`delay`) or spit garbage (`garbage`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
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
    listen_port: int = 0  # 0: ephemeral; 11000 in a private network namespace, where AbletonOSC listens
    clips: dict[tuple[int, int], str] = field(default_factory=dict)  # (track, slot) → clip name
    playing: dict[int, int] = field(default_factory=dict)  # track → playing slot index (-1: none)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.listen_port))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._running = True
        self._lock = threading.Lock()
        self._beat_listener: threading.Thread | None = None
        self._beat_stop = threading.Event()
        self._slot_listeners: set[int] = set()
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
        if address == "/live/track/start_listen/playing_slot_index":
            track = int(args[0])
            with self._lock:
                self._slot_listeners.add(track)
            self.set_playing(track, self.playing.get(track, -1))  # AbletonOSC sends the current value at once
            return None
        if address == "/live/track/stop_listen/playing_slot_index":
            with self._lock:
                self._slot_listeners.discard(int(args[0]))
            return None
        if address == "/live/clip/get/name":
            return (*args[:2], self.clips.get((int(args[0]), int(args[1])), ""))
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

    def set_playing(self, track: int, slot: int) -> None:
        """A clip starts (slot ≥ 0) or the track stops (-1) in 'Live': listeners hear it, like Live's tick."""
        self.playing[track] = slot
        with self._lock:
            listening = track in self._slot_listeners
        if listening:
            address = "/live/track/get/playing_slot_index"
            self.push(osc_bytes(address, track, slot))

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


# -- Link: LinkHut (an independent peer) and a copilot peer, each in the test's network namespace ----------
@dataclass(frozen=True)
class HutRow:
    """One status line of LinkHut: enabled | peers | quantum | start stop sync [state] | tempo | beats."""

    t: float  # host time we read it
    enabled: bool
    peers: int
    quantum: float
    sync: bool
    playing: bool
    tempo: float
    beats: float

    @classmethod
    def parse(cls, t: float, line: str) -> HutRow | None:
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 6 or cells[0] not in ("yes", "no"):
            return None
        try:
            return cls(t, cells[0] == "yes", int(cells[1]), float(cells[2]), cells[3].startswith("yes"),
                       "[playing]" in cells[3], float(cells[4]), float(cells[5]))
        except ValueError:
            return None


class LinkHut:
    """Debian's LinkHut (ableton-link-utils) driven through stdin, its status lines parsed as they come."""

    def __init__(self, ns: Any, jack: Any) -> None:
        import shutil

        if shutil.which("LinkHut") is None:
            pytest.skip("LinkHut is not installed (Debian package ableton-link-utils); .ci/run installs it")
        before = set(jack.ports())
        env = dict(os.environ, JACK_DEFAULT_SERVER=jack.name)
        self.proc = ns.popen(["LinkHut"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=False, bufsize=0, env=env)
        self.rows: list[HutRow] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 10
        self.client = ""
        while time.monotonic() < deadline and not self.client:
            new = [p for p in set(jack.ports()) - before if p.endswith(":out_1")]
            self.client = new[0].rsplit(":", 1)[0] if new else ""
            time.sleep(0.05)
        if not self.client:
            raise RuntimeError("LinkHut did not register its JACK ports")
        self.wait(lambda r: True, 5)

    def _read(self) -> None:
        buf = b""
        out = self.proc.stdout
        while True:
            chunk = out.read1(4096) if hasattr(out, "read1") else out.read(4096)
            if not chunk:
                return
            now = host_time()
            buf += chunk
            *lines, buf = buf.replace(b"\r", b"\n").split(b"\n")
            for line in lines:
                row = HutRow.parse(now, line.decode(errors="replace"))
                if row is not None:
                    with self._lock:
                        self.rows.append(row)

    def keys(self, keys: str, gap: float = 0.1) -> None:
        """Type keys, one every `gap` s: LinkHut applies a tempo key on its next audio callback, reading the
        tempo again each time, so keys typed faster than that collapse into one."""
        for i, key in enumerate(keys):
            if i:
                time.sleep(gap)
            self.proc.stdin.write(key.encode())
            self.proc.stdin.flush()

    def latest(self) -> HutRow | None:
        with self._lock:
            return self.rows[-1] if self.rows else None

    def since(self, t: float) -> list[HutRow]:
        with self._lock:
            return [r for r in self.rows if r.t >= t]

    def wait(self, pred: Callable[[HutRow], bool], timeout: float = 5.0) -> HutRow:
        """The first status line from now on that satisfies `pred` (LinkHut prints one every 10 ms)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            seen = len(self.rows)
        while time.monotonic() < deadline:
            with self._lock:
                rows = self.rows[seen:]
                seen = len(self.rows)
            for row in rows:
                if pred(row):
                    return row
            time.sleep(0.01)
        raise AssertionError(f"LinkHut never showed what was expected; last: {self.latest()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.keys("q")
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class CopilotPeer:
    """`python -m copilot.tests.link_live_peer` in the namespace: JSON lines out, commands in."""

    def __init__(self, ns: Any, *args: str) -> None:
        self.started = host_time()
        self.proc = ns.popen(ns.python("-m", "copilot.tests.link_live_peer", *args), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import json

        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                data["_read"] = host_time()
                with self._lock:
                    self.lines.append(data)

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            with self._lock:
                lines = self.lines[seen:]
                seen = len(self.lines)
            for line in lines:
                if pred(line):
                    return line
            if self.proc.poll() is not None and seen == len(self.lines):
                raise AssertionError(f"copilot peer exited: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.01)
        raise AssertionError(f"copilot peer never printed what was expected; last: {self.lines[-3:]}")

    def of(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return [line for line in self.lines if key in line]

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.send("quit")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- Strudel in Node ---------------------------------------------------------------------------------------
NODE_DIR = Path(__file__).with_name("node")


class StrudelNode:
    """The real @strudel/core, @strudel/mini and @strudel/transpiler, evaluated by `node eval_snippet.mjs`."""

    def evaluate(self, code: str, samples: list[dict[str, Any]], timeout: float = 60) -> dict[str, Any]:
        import json

        out = subprocess.run(["node", "eval_snippet.mjs"], cwd=NODE_DIR, input=json.dumps(
            {"code": code, "samples": samples}), capture_output=True, text=True, timeout=timeout)
        result = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
        if out.returncode != 0 or not result:
            raise AssertionError(f"Strudel could not evaluate the snippet:\n{out.stderr[-3000:]}")
        return json.loads(result[-1][len("RESULT "):])


@pytest.fixture(scope="session")
def strudel_node() -> StrudelNode:
    """Node 20 with the pinned Strudel packages (`npm ci` into tests/node on first use; never vendored)."""
    import shutil

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the Strudel test (Debian packages nodejs, npm)")
    if not (NODE_DIR / "node_modules" / "@strudel" / "core").is_dir():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"npm ci in {NODE_DIR} failed:\n{done.stderr[-3000:]}")
    return StrudelNode()
