"""Underflows of the full two-deck graph streaming on JACK (dummy driver, 48 kHz / 64 frames) with the
other core loaded and a Python thread hogging the GIL (goal: 0 over 10 minutes).

    python bench/engine_underflows.py [--quick] [--seconds S]

Baseline in the same run, under the same load: a plain Python sounddevice callback that only copies
a prepared block (what the engine would be without its numba cfunc).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import SR, full_graph, machine, summary

from copilot.bridge.clock import InternalClock
from copilot.engine.layout import TIMES
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


def run_engine(device: int, seconds: float) -> dict[str, float]:
    eng = full_graph(seconds + 10)
    stream = EngineStream(eng, InternalClock(124.0), device=device, blocksize=64)
    stream.open()
    with Load():
        time.sleep(seconds)
    stream.close()
    stats = eng.stats()
    n = min(int(eng.state["stats"][7]), TIMES)
    times = eng.state["times"].reshape(TIMES, 3)[:n, 1] / 1000.0
    return {"callbacks": stats["callbacks"], "underflows": stats["underflows"], "times": times}


def run_python_callback(device: int, seconds: float) -> dict[str, float]:
    import sounddevice as sd

    block = np.zeros((64, 2), np.float32)
    count = {"callbacks": 0, "underflows": 0}

    def callback(outdata, frames, time_info, status) -> None:  # type: ignore[no-untyped-def]
        count["callbacks"] += 1
        if status.output_underflow:
            count["underflows"] += 1
        outdata[:] = block[:frames]

    with sd.OutputStream(samplerate=SR, blocksize=64, device=device, channels=2, dtype="float32",
                         latency="low", callback=callback), Load():
        time.sleep(seconds)
    return count


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
        eng = run_engine(device, seconds)
        base_seconds = min(seconds, 30.0)
        py = run_python_callback(device, base_seconds)
        per_min = eng["underflows"] / seconds * 60
        py_per_min = py["underflows"] / base_seconds * 60
        print(f"engine (numba cfunc)   {seconds:6.0f} s: {eng['callbacks']:7d} callbacks, "
              f"{eng['underflows']} underflows ({per_min:.2f}/min)")
        print(f"  callback µs          {summary(eng['times'])}")
        print(f"python callback        {base_seconds:6.0f} s: {py['callbacks']:7d} callbacks "
              f"(of {base_seconds * SR / 64:.0f} due), {py['underflows']} underflows ({py_per_min:.2f}/min)")
        ratio = (py_per_min / per_min) if per_min else float("inf")
        print(f"underflows/min python ÷ engine: {ratio:.1f}x   goal 0 over the run: "
              f"{'met' if eng['underflows'] == 0 else 'NOT met'}")
    finally:
        import sounddevice as sd

        sd._terminate()
        stop_jack(server)


if __name__ == "__main__":
    main()
