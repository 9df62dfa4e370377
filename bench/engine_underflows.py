"""Underflows of the full two-deck graph streaming on JACK (dummy driver, 48 kHz / 64 frames) with the
other core loaded and a Python thread hogging the GIL (goal: 0 over 10 minutes).

    python bench/engine_underflows.py [--quick] [--seconds S]

Baseline in the same run, under the same load: a plain Python sounddevice callback that only copies
a prepared block (what the engine would be without its numba cfunc).

Who caused an underflow. PortAudio reports every JACK xrun to the callback as an output underflow,
and on this VM JACK's dummy driver flags an xrun whenever its own timer wakes a few µs late (seen
with no client connected at all). So the bench counts, over the same window:
- engine overruns: blocks whose render took longer (wall clock, the kernel's own) than the audio
  they hold (`stats["overruns"]`): the engine's compute, or its thread preempted mid-render — the
  only underflows the engine can be blamed for;
- driver xruns: "JackTimedDriver::Process XRun" lines in jackd's log (the timer woke late);
- "client not finished" lines, per JACK client: a cycle in which a client had not returned in
  time — its own fault, or the knock-on of the driver's late wake-up in that cycle;
- late starts: callbacks that began more than a period after the previous one (the kernel logs
  each start): PortAudio's thread was not run on time, however fast the engine then was.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import SR, full_graph, machine, summary

from copilot.bridge.clock import InternalClock
from copilot.engine.layout import S_TIME_IDX, TIMES
from copilot.engine.stream import EngineStream, warm_up
from copilot.tests.fixtures import start_jack, stop_jack


def jack_device() -> int:
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
    for api in sd.query_hostapis():
        if "JACK" in api["name"] and api["default_output_device"] >= 0:
            return int(api["default_output_device"])
    raise SystemExit("PortAudio sees no JACK host API")


class Load:
    """The other core busy (a separate process) and this process's GIL hogged (a thread)."""

    def __enter__(self) -> Load:
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._hog, daemon=True)
        self.thread.start()
        return self

    def _hog(self) -> None:
        x = 0
        while not self.stop.is_set():
            for _ in range(100_000):
                x += 1

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.proc.terminate()
        self.proc.wait(5)


class JackLog:
    """XRun lines jackd wrote to its log since the last mark."""

    DRIVER = "JackTimedDriver::Process XRun"
    CLIENT = re.compile(r"JackEngine::XRun: client = (.+?) was not finished")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = len(self._text())

    def since_mark(self) -> tuple[int, dict[str, int]]:
        """(driver xruns, {client: cycles it had not finished}) since `mark()`."""
        new = self._text()[self.offset:]
        clients: dict[str, int] = {}
        for name in self.CLIENT.findall(new):
            clients[name] = clients.get(name, 0) + 1
        return new.count(self.DRIVER), clients

    def _text(self) -> str:
        try:
            return self.path.read_text(errors="replace")
        except OSError:
            return ""


class StartWatch:
    """Callbacks that started late, from the kernel's own log of start times (polled; the log holds
    the last 5 s): a gap of more than two periods between two starts means PortAudio's thread
    was not run on time, whatever the callback then did."""

    def __init__(self, eng: Any) -> None:
        self.eng = eng
        self.seen = 0
        self.late = 0
        self.longest = 0.0

    def poll(self) -> None:
        times = self.eng.state["times"].reshape(TIMES, 3)
        end = int(self.eng.state["stats"][S_TIME_IDX])
        first = max(self.seen - 1, end - TIMES + 1, 0)
        starts = times[np.arange(first, end) % TIMES, 0].astype(np.float64)
        if starts.size > 1:
            gaps = np.diff(starts) / 1e3
            self.late += int(np.count_nonzero(gaps > 2 * 64 / SR * 1e6))
            self.longest = max(self.longest, float(gaps.max()))
        self.seen = end


def run_engine(device: int, seconds: float, log: JackLog) -> dict[str, Any]:
    eng = full_graph(seconds + 10)
    stream = EngineStream(eng, InternalClock(124.0), device=device, blocksize=64)
    watch = StartWatch(eng)
    log.mark()
    stream.open()
    with Load():
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.5)
            watch.poll()
    stream.close()
    driver, clients = log.since_mark()
    stats = eng.stats()
    n = min(int(eng.state["stats"][S_TIME_IDX]), TIMES)
    times = eng.state["times"].reshape(TIMES, 3)[:n, 1] / 1000.0
    return {"callbacks": stats["callbacks"], "underflows": stats["underflows"], "times": times,
            "overruns": stats["overruns"], "longest": stats["longest_render_ns"] / 1000.0, "driver": driver,
            "clients": clients, "late": watch.late, "gap": watch.longest}


def run_python_callback(device: int, seconds: float, log: JackLog) -> dict[str, Any]:
    import sounddevice as sd

    block = np.zeros((64, 2), np.float32)
    count: dict[str, Any] = {"callbacks": 0, "underflows": 0, "overruns": 0}
    budget = 64 / SR

    def callback(outdata, frames, time_info, status) -> None:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        count["callbacks"] += 1
        if status.output_underflow:
            count["underflows"] += 1
        outdata[:] = block[:frames]
        if time.perf_counter() - t0 > budget:
            count["overruns"] += 1

    log.mark()
    with sd.OutputStream(samplerate=SR, blocksize=64, device=device, channels=2, dtype="float32",
                         latency="low", callback=callback), Load():
        time.sleep(seconds)
    count["driver"], count["clients"] = log.since_mark()
    return count


def clients_text(clients: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(clients.items())) or "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 s instead of 10 minutes")
    ap.add_argument("--seconds", type=float, default=600.0)
    args = ap.parse_args()
    seconds = 30.0 if args.quick else args.seconds
    server = start_jack(f"copilot-bench-engine-{os.getpid()}")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        print(f"warm-up {warm_up():.2f} s; JACK dummy 48 kHz / 64 frames   [{machine()}]")
        device = jack_device()
        log = JackLog(server.log)
        eng = run_engine(device, seconds, log)
        base_seconds = min(seconds, 30.0)
        py = run_python_callback(device, base_seconds, log)
        per_min = eng["underflows"] / seconds * 60
        py_per_min = py["underflows"] / base_seconds * 60
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (plus the bench's own busy core and GIL hog)")
        print(f"engine (numba cfunc)   {seconds:6.0f} s: {eng['callbacks']:7d} callbacks, "
              f"{eng['underflows']} underflows reported by PortAudio ({per_min:.2f}/min)")
        print(f"  engine overruns      {eng['overruns']} blocks spent longer than real time in the render "
              f"(longest {eng['longest']:.0f} µs of a {64 / SR * 1e6:.0f} µs block; compute or preempted mid-render)")
        print(f"  driver xruns         {eng['driver']} (the dummy driver's timer woke late); clients not "
              f"finished: {clients_text(eng['clients'])}")
        print(f"  late starts          {eng['late']} callbacks started more than a period late (longest gap "
              f"between starts {eng['gap'] / 1e3:.1f} ms): the thread was not run on time")
        print(f"  render µs            {summary(eng['times'])}")
        print(f"python callback        {base_seconds:6.0f} s: {py['callbacks']:7d} callbacks "
              f"(of {base_seconds * SR / 64:.0f} due), {py['underflows']} underflows ({py_per_min:.2f}/min), "
              f"{py['overruns']} callbacks slower than real time")
        print(f"  driver xruns         {py['driver']}; clients not finished: {clients_text(py['clients'])}")
        ratio = (py_per_min / per_min) if per_min else float("inf")
        print(f"underflows/min python ÷ engine: {ratio:.1f}x   goal 0 engine overruns over the run: "
              f"{'met' if eng['overruns'] == 0 else 'NOT met'}; PortAudio underflows {eng['underflows']} against "
              f"{eng['driver']} driver xruns and {eng['late']} late starts in the same window")
    finally:
        import sounddevice as sd

        sd._terminate()
        stop_jack(server)


if __name__ == "__main__":
    main()
