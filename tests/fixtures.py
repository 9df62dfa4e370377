"""Real parts for tests: a JACK dummy server, a private Link network namespace, an OSC socket pair.

Every later test uses these instead of mocks (ARCHITECTURE: "Testing with real parts").
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


def die_with_parent() -> None:
    """For child servers: end with the test process even if it crashes (a leaked jackd holds one of
    JACK's few server slots for good)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# -- JACK ---------------------------------------------------------------------------------------------
@dataclass
class JackServer:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    rate: int = 48000
    period: int = 64

    def ports(self, *flags: str) -> list[str]:
        argv = ["jack_lsp", "-s", self.name, *flags]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:  # the server still reaping a client killed by the test before: again
            out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]

    def connect(self, source: str, dest: str) -> None:
        subprocess.run(["jack_connect", "-s", self.name, source, dest], check=True, timeout=10,
                       capture_output=True)

    def xruns(self) -> int:
        """Cycles the server has said it could not finish so far (its log's XRun lines). MIDI of such a
        cycle is lost inside JACK itself: a test counting every message can tell that loss from ours."""
        try:
            return self.log.read_text(errors="replace").count("XRun")
        except OSError:
            return 0


def start_jack(name: str, rate: int = 48000, period: int = 64, timeout: float = 10.0) -> JackServer:
    """Start `jackd -d dummy` under its own server name and wait until it answers.

    Real-time scheduling (-R) when the machine allows it: without it a busy machine starves JACK's
    client threads, JACK skips their cycles and MIDI events are lost in the graph.
    """
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (Debian package jackd2); .ci/run installs it")
    log = Path(tempfile.gettempdir()) / f"{name}.log"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")  # probes never spawn one
    last = ""
    give_up = time.monotonic() + 120.0
    modes = [["-R", "-P", "70"], ["--no-realtime"]]
    while modes:
        mode = modes[0]
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                ["jackd", *mode, "-n", name, "-d", "dummy", "-r", str(rate), "-p", str(period)],
                stdout=fh, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last = log.read_text(errors="replace")[-2000:]
                break
            ok = subprocess.run(["jack_lsp", "-s", name], capture_output=True, timeout=5, env=env)
            if ok.returncode == 0:
                return JackServer(name, proc, log, rate, period)
            time.sleep(0.1)
        else:
            proc.terminate()  # SIGTERM: a SIGKILLed jackd never gives its server slot back
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            last = f"did not come up in {timeout} s: " + log.read_text(errors="replace")[-2000:]
        if "Too many servers" in last and time.monotonic() < give_up:
            reclaim_jack_slots()
            time.sleep(2.0)  # JACK allows a few servers per machine; wait for another test run's to end
            continue
        modes.pop(0)
    raise RuntimeError(f"jackd failed: {last}")


JACK_REGISTRY = Path("/dev/shm/jack-shm-registry")
JACK_HEADER, JACK_SLOT, JACK_SLOTS = 24, 264, 8  # jack_shm_header_t: 8 × {pid_t pid; char name[257]} (padded)


def reclaim_jack_slots() -> list[str]:
    """Free the server slots of JACK servers that died without signing out (a test run killed hard).

    jackd reclaims a dead server's slot only for a server of the *same* name; test servers are named per
    process, so every hard kill costs one of the machine's eight slots for good and, after eight, no test
    can start a server ("Too many servers already active"). A slot whose process is gone is zeroed."""
    import mmap
    import struct

    freed: list[str] = []
    try:
        fd = os.open(JACK_REGISTRY, os.O_RDWR)
    except OSError:
        return freed
    try:
        with mmap.mmap(fd, JACK_HEADER + JACK_SLOT * JACK_SLOTS) as shm:
            for i in range(JACK_SLOTS):
                at = JACK_HEADER + JACK_SLOT * i
                (pid,) = struct.unpack_from("<i", shm, at)
                if pid <= 0:
                    continue
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    freed.append(shm[at + 4:at + JACK_SLOT].split(b"\0", 1)[0].decode(errors="replace"))
                    shm[at:at + JACK_SLOT] = bytes(JACK_SLOT)
                except PermissionError:
                    pass  # alive, someone else's
    except (OSError, ValueError):
        pass
    finally:
        os.close(fd)
    return freed


def stop_jack(server: JackServer) -> None:
    # PortAudio keeps a JACK client open while initialised; with its server gone it asserts at exit.
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        with contextlib.suppress(Exception):
            sd._terminate()
    server.process.terminate()
    try:
        server.process.wait(5)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def jack_server() -> Iterator[JackServer]:
    """A JACK dummy server (48 kHz / 64 frames) for this test session; clients find it by env var."""
    with serving_jack(f"copilot-test-{os.getpid()}") as server:
        yield server


@contextlib.contextmanager
def serving_jack(name: str) -> Iterator[JackServer]:
    """A JACK dummy server that every client started meanwhile finds by env var (names ≤ 20 characters:
    libjack aborts on longer ones)."""
    server = start_jack(name)
    old = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"  # a client must never spawn a second server by accident
    try:
        yield server
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        stop_jack(server)


class MidiCapture:
    """A real JACK MIDI input connected to a port; collects (arrival time, bytes).

    Arrival times are the wire's, frame-exact: the recorder (tests/jack_recorder.py) is a native JACK
    client that stamps each message with its cycle's start plus its frame offset, on Link's clock. (An
    rtmidi input stamps a whole cycle with the moment its callback ran: blind to where in a cycle a
    message sits, which the native sender, bridge/jack_midi.py, makes exact.) A thread moves what was
    recorded into `messages` as (read at, wire time, bytes); `collect` gives (wire time, bytes). It reads
    every `poll` seconds, not more often: the wire time is the recorder's, and a test thread taking the GIL
    thousands of times a second can be preempted holding it, which stalls the set under test.
    """

    def __init__(self, source_port: str, client_name: str = "copilot-test-capture", poll: float = 0.005) -> None:
        from copilot.tests.jack_recorder import JackRecorder

        self.messages: queue.Queue[tuple[float, float, bytes]] = queue.Queue()  # (read at, wire time, bytes)
        self._recorder = JackRecorder(source_port, client_name)
        self._poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from copilot.bridge.clock import host_time

        while not self._stop.is_set():
            got = self._recorder.messages()
            if not got:
                time.sleep(self._poll)
                continue
            at = host_time()
            for wire, data in got:
                self.messages.put((at, wire, data))

    def collect(self, count: int | None = None, timeout: float = 2.0) -> list[tuple[float, bytes]]:
        """Up to `count` messages (or all that arrive within `timeout` of each other)."""
        raw: list[tuple[float, float, bytes]] = []
        deadline = time.monotonic() + timeout
        while count is None or len(raw) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                raw.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
            if count is None:
                deadline = time.monotonic() + timeout
        return [(wire, data) for _, wire, data in raw]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self._recorder.close()


@pytest.fixture
def midi_capture(jack_server: JackServer) -> Iterator[Any]:
    """Factory: midi_capture("Copilot Out") → a MidiCapture listening to that JACK port."""
    # The recorder's callback compiles on import (about a second): here, before the test starts its set,
    # not between a set's start and its play (a script's lines then all came due at once, late).
    import copilot.tests.jack_recorder  # noqa: F401

    made: list[MidiCapture] = []
    names = itertools.count()

    def factory(port: str) -> MidiCapture:
        cap = MidiCapture(port, f"copilot-test-capture-{next(names)}")
        made.append(cap)
        return cap

    yield factory
    for cap in made:
        cap.close()


# -- Link network namespace -----------------------------------------------------------------------------
_netns_ids = itertools.count()


@dataclass
class Netns:
    """A private network namespace with loopback up and a multicast route, so Link stays inside it."""

    name: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[str]:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        kw.setdefault("preexec_fn", die_with_parent)
        proc = subprocess.Popen(self.command(argv), **kw)
        self.processes.append(proc)
        return proc

    def run(self, argv: Sequence[str], timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout, **kw)

    def python(self, *args: str) -> list[str]:
        """argv for this interpreter (the project's venv) inside the namespace."""
        return [sys.executable, *args]


def make_netns() -> Netns:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 ('ip') is not installed; .ci/run installs it")
    name = f"copilot-{os.getpid()}-{next(_netns_ids)}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this kernel/user cannot create network namespaces: {made.stderr.strip()}")
    for argv in (["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(["ip", "netns", "exec", name, *argv], check=True, capture_output=True)
    return Netns(name)


def remove_netns(ns: Netns) -> None:
    for proc in ns.processes:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
    subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)


@pytest.fixture
def link_netns() -> Iterator[Netns]:
    """A fresh private network namespace: Link peers started in it see only each other."""
    ns = make_netns()
    try:
        yield ns
    finally:
        remove_netns(ns)


# -- OSC --------------------------------------------------------------------------------------------------
class OscPair:
    """A real UDP OSC server on 127.0.0.1 (ephemeral port) plus a client aimed at it."""

    def __init__(self) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer
        from pythonosc.udp_client import SimpleUDPClient

        self.received: queue.Queue[tuple[str, tuple[Any, ...], float]] = queue.Queue()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._on_message, needs_reply_address=False)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)  # one thread: datagrams in arrival order
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self.client = SimpleUDPClient(self.host, self.port)

    def _on_message(self, address: str, *args: Any) -> None:
        from copilot.bridge.clock import host_time

        self.received.put((address, args, host_time()))

    def send(self, address: str, *args: Any) -> None:
        self.client.send_message(address, list(args))

    def collect(self, count: int, timeout: float = 2.0) -> list[tuple[str, tuple[Any, ...], float]]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            try:
                out.append(self.received.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def osc_pair() -> Iterator[OscPair]:
    pair = OscPair()
    try:
        yield pair
    finally:
        pair.close()


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
