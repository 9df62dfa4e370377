"""A copilot Link peer for tests and benches, run as its own process (inside a network namespace).

    python -m copilot.tests.link_live_peer --tempo 90 --every 0.05 [--sync] [--clicks LinkHut:out_1]

Prints JSON lines on stdout: {"ready": …} once Link is enabled, then the clock every `--every`
seconds ({"t", "beat", "tempo", "peers", "playing"}), and with `--clicks PORT` one line per audio click
heard on that JACK port: {"click": host time the click sounds, "beat": copilot's beat at that time}.
Reads commands on stdin: `start` (quantized start; prints {"started": beat, "at": time}), `stop`,
`tempo BPM`, `quit`.

Click times are read back the way LinkHut placed them (see ClickListener).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import queue
import sys
import threading
import time
from typing import Any

from copilot.bridge.clock import host_time
from copilot.bridge.link import LinkClock

_print_lock = threading.Lock()


def emit(**fields: Any) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


class _LatencyRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]


FILTER_POINTS = 512  # Link's HostTimeFilter: a linear regression over the last 512 audio callbacks


class ClickListener:
    """A JACK client whose input follows `source` and reports every click onset in host time.

    LinkHut puts a click where its sample clock, mapped to host time by Link's HostTimeFilter, says
    the beat falls. The JACK dummy driver's sample clock is irregular (bursts of several ms), so the
    click's sample index only means something through that same mapping. We rebuild it from our own
    callbacks in the same cycles (a regression of callback host time on frame count over the last 512
    cycles, as Link's examples do) and read the onset back through it: the dummy driver's irregularity
    cancels, what remains is the two peers' Link timelines plus the wake-up skew between LinkHut's
    callback and ours in one cycle (a few tens of µs, late on our side).
    """

    THRESHOLD = 0.5  # LinkHut's click starts at full scale (cos(0) = 1) out of digital silence

    def __init__(self, source: str, name: str = "copilot-click-probe") -> None:
        import jack
        import numpy as np

        self._np = np
        self._raw: queue.Queue[tuple[int, int, Any, Any]] = queue.Queue()
        self.client = jack.Client(name, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.rate = float(self.client.samplerate)
        self._xs = np.zeros(FILTER_POINTS)
        self._ys = np.zeros(FILTER_POINTS)
        self._n = 0
        self._last = 0.0
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.client.connect(source, self.port)
        lib = ctypes.CDLL(ctypes.util.find_library("jack"))
        lib.jack_port_by_name.restype = ctypes.c_void_p
        lib.jack_port_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.jack_port_get_latency_range.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_LatencyRange)]
        client_ptr = ctypes.c_void_p(int(jack._ffi.cast("uintptr_t", self.client._ptr)))
        rng = _LatencyRange()
        lib.jack_port_get_latency_range(lib.jack_port_by_name(client_ptr, source.encode()), 1,  # 1 = playback
                                        ctypes.byref(rng))
        self.latency = rng.max / self.rate  # LinkHut adds its port's playback latency to the click time

    def _process(self, frames: int) -> None:
        now = host_time()
        k = self._n % FILTER_POINTS
        self._xs[k] = self.client.last_frame_time
        self._ys[k] = now
        self._n += 1
        buf = self.port.get_array()
        hits = self._np.flatnonzero(buf > self.THRESHOLD)
        prev_last, self._last = self._last, float(buf[-1])
        if hits.size == 0 or self._n < FILTER_POINTS:
            return
        i = int(hits[0])
        prev = float(buf[i - 1]) if i > 0 else prev_last
        if abs(prev) > 1e-6:
            return  # inside a click, not its onset
        self._raw.put((int(self._xs[k]), i, self._xs.copy(), self._ys.copy()))

    def drain(self) -> list[tuple[float, float]]:
        """(onset host time, wake residual) of the clicks heard since the last call; the regression runs
        here, not in JACK. The residual is how far our callback woke, in the click's cycle, from the
        fitted line: large ones mark cycles where the dummy driver's clock stumbled."""
        out = []
        while not self._raw.empty():
            frame, i, xs, ys = self._raw.get()
            x0, y0 = xs.min(), ys.min()
            slope, icpt = self._np.polyfit(xs - x0, ys - y0, 1)
            cycle_start = y0 + icpt + slope * (frame - x0)
            woke = ys[self._np.argmax(xs)]  # the click's own cycle is the newest point
            out.append((cycle_start + i / self.rate + self.latency, woke - cycle_start))
        return out

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--quantum", type=float, default=4.0)
    ap.add_argument("--sync", action="store_true", help="Link start/stop sync")
    ap.add_argument("--join-delay", type=float, default=0.5)
    ap.add_argument("--every", type=float, default=0.05, help="seconds between clock lines (0 = none)")
    ap.add_argument("--clicks", default="", help="JACK port whose clicks to time (e.g. LinkHut:out_1)")
    ap.add_argument("--duration", type=float, default=600.0)
    args = ap.parse_args(argv)

    t_start = host_time()
    clock = LinkClock(tempo=args.tempo, quantum=args.quantum, start_stop_sync=args.sync,
                      join_delay=args.join_delay)
    clock.wait_enabled()
    emit(ready=True, t=host_time(), since_start=host_time() - t_start, tempo=clock.tempo, peers=clock.peers)
    clicks = ClickListener(args.clicks) if args.clicks else None
    if clicks is not None:
        emit(listening=args.clicks, latency=clicks.latency)

    commands: queue.Queue[str] = queue.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("quit")

    threading.Thread(target=read_stdin, daemon=True).start()
    deadline = host_time() + args.duration
    next_line = host_time()
    try:
        while host_time() < deadline:
            try:
                cmd = commands.get(timeout=0.005)
            except queue.Empty:
                cmd = ""
            if cmd == "quit":
                break
            if cmd == "start":
                beat = clock.start()
                emit(started=beat, at=clock.time_at_beat(beat))
            elif cmd == "stop":
                clock.stop()
                emit(stopped=True)
            elif cmd.startswith("tempo "):
                clock.set_tempo(float(cmd.split()[1]))
            for t, residual in clicks.drain() if clicks is not None else ():
                emit(click=t, beat=clock.beat_at_time(t), tempo=clock.tempo, wake_residual=residual)
            if args.every > 0 and host_time() >= next_line:
                a = clock.anchor
                emit(t=a.time, beat=a.beat, tempo=a.tempo, peers=clock.peers, playing=clock.playing)
                next_line += args.every
    finally:
        if clicks is not None:
            clicks.close()
        clock.close()
    time.sleep(0.05)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
