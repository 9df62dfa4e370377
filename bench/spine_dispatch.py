"""Dispatch lateness of MIDI sends against the Link grid: 16th notes at 174 BPM, the other core busy.

    python bench/spine_dispatch.py            # 10 minutes (the issue's measure)
    python bench/spine_dispatch.py --quick    # 30 seconds

Runs its own JACK dummy server (48 kHz / 64 frames, real-time where allowed) and a Link clock. Every
16th goes out through the real path — midi-monitor render → Dispatcher → "Copilot Out" — and is
received by a JACK capture. Lateness = send time − the Link grid time of its beat (at the dispatcher),
and arrival time at the capture − grid time (adds JACK's period). Baseline in the same run: a naive
scheduler that just sleeps until each deadline, over a fifth of the duration.

The heap is frozen once everything is up, as `copilot run` does (`--no-freeze`: as before), and every
garbage collection during the dispatcher's run is timed: a full collection holds the GIL, and with it
the dispatch thread.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import time

import numpy as np

from copilot.bridge.actions import Action, ActionKind
from copilot.bridge.dispatch import HELPER_PRIORITY, Dispatcher, freeze_heap, make_realtime
from copilot.bridge.link import LinkClock
from copilot.bridge.midi import to_cc7
from copilot.bridge.ports import MidiPorts
from copilot.bridge.state import HostState
from copilot.intents.schema import Deck
from copilot.plugins.midi_monitor import MidiMonitor
from copilot.tests.fixtures import MidiCapture, start_jack, stop_jack

TEMPO = 174.0
STEP = 0.25  # 16ths


def summary(name: str, late_s: np.ndarray) -> dict[str, float]:
    ms = late_s * 1000.0
    row = {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "max": float(ms.max()),
           "n": int(ms.size)}
    print(f"{name:38s} n={row['n']:7d}  p50 {row['p50']:7.3f} ms  p99 {row['p99']:7.3f} ms  max {row['max']:7.3f} ms")
    return row


class CollectionTimer:
    """How long each garbage collection held the GIL, by generation."""

    def __init__(self) -> None:
        self.longest = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        g = info["generation"]
        self.count[g] += 1
        self.longest[g] = max(self.longest[g], time.perf_counter() - self._t0)

    def line(self) -> str:
        return "garbage collections " + ", ".join(
            f"gen {g}: {n} (longest {ms * 1e3:.2f} ms)" for g, (n, ms) in enumerate(zip(self.count, self.longest,
                                                                                      strict=True)))


def match_arrivals(arrivals: list[tuple[float, bytes]], beats: list[float], clock: LinkClock) -> np.ndarray:
    """Arrival − grid for each captured message, matched to its beat by value (the CC value is the
    16th's place in the bar), so one message lost on the way does not shift every later pairing."""
    by_value: dict[int, np.ndarray] = {}
    for value in {to_cc7((b % 4) / 4) for b in beats}:
        grid = np.array([clock.time_at_beat(b) for b in beats if to_cc7((b % 4) / 4) == value])
        by_value[value] = grid
    late = []
    for at, data in arrivals:
        grid = by_value.get(data[2])
        if grid is None:
            continue
        i = int(np.searchsorted(grid, at + 0.005)) - 1  # the latest beat of that value due by then
        if i >= 0:
            late.append(at - grid[i])
    return np.asarray(late)


def busy_core() -> subprocess.Popen:
    """The machine's other core busy: a separate process spinning at normal priority."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run_dispatcher(clock: LinkClock, out_port, seconds: float) -> tuple[np.ndarray, list[float]]:
    """The real path. Returns dispatcher lateness and the beat of every message, for the capture side."""
    target = MidiMonitor()
    target._out = out_port
    dispatcher = Dispatcher(clock)
    state = HostState()
    dispatcher.start()
    make_realtime(HELPER_PRIORITY)  # this loop plays the session's main loop (it feeds the queue)
    start = clock.beat + 4.0
    end = start + seconds * TEMPO / 60.0
    beats: list[float] = []
    beat = start
    try:
        while beat < end:
            horizon = clock.beat + 4.0  # keep ~one bar queued, like a session's envelopes
            while beat < min(horizon, end):
                action = Action(ActionKind.CONTROL, Deck.A, beat, params={"param": "energy", "value": (beat % 4) / 4})
                items = target.render(action, state)  # one CC per 16th (7-bit)
                dispatcher.schedule(target, items)
                beats.append(beat)
                beat += STEP
            time.sleep(0.05)
        time.sleep(2 * 60.0 / TEMPO)
    finally:
        dispatcher.stop()
    return dispatcher.stats.values(), beats


def run_naive(clock: LinkClock, out_port, seconds: float) -> np.ndarray:
    """Baseline: sleep until each deadline, send, no spin, normal priority."""
    late = []
    beat = clock.beat + 2.0
    end = beat + seconds * TEMPO / 60.0
    while beat < end:
        t = clock.time_at_beat(beat)
        wait = t - clock.now()
        if wait > 0:
            time.sleep(wait)
        now = clock.now()
        out_port.send(bytes([0xBF, 19, 64]))
        late.append(now - clock.time_at_beat(beat))
        beat += STEP
    return np.asarray(late)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="30 seconds instead of --minutes")
    ap.add_argument("--no-load", action="store_true", help="leave the other core idle")
    ap.add_argument("--no-freeze", action="store_true", help="leave the heap unfrozen (before copilot froze it)")
    args = ap.parse_args()
    seconds = 30.0 if args.quick else args.minutes * 60.0

    jack = start_jack(f"copilot-bench-{os.getpid()}")
    os.environ["JACK_DEFAULT_SERVER"] = jack.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    load = None if args.no_load else busy_core()
    try:
        clock = LinkClock(TEMPO)
        clock.wait_enabled()
        ports = MidiPorts("jack")
        out = ports.output("Copilot Out")
        capture = MidiCapture("Copilot Out", "bench-capture")
        print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
              f"{time.strftime('%Y-%m-%d')}; {seconds:.0f} s at {TEMPO} BPM 16ths; other core "
              f"{'idle' if args.no_load else 'busy'}")
        base = run_naive(clock, out, seconds / 5)
        capture.collect(timeout=0.3)  # drop the baseline's messages
        if not args.no_freeze:
            freeze_heap()
        collections = CollectionTimer()
        gc.callbacks.append(collections)
        late, beats = run_dispatcher(clock, out, seconds)
        gc.callbacks.remove(collections)
        arrivals = capture.collect(timeout=0.5)
        arrival_late = match_arrivals(arrivals, beats, clock)
        print(f"heap {'left unfrozen' if args.no_freeze else 'frozen'}; {collections.line()}")
        print(f"sent {len(beats)}, captured {len(arrivals)}")
        print()
        b = summary("baseline: sleep until due (naive)", base)
        d = summary("dispatcher: send − Link grid", late)
        summary("arrival at JACK capture − Link grid", arrival_late)
        print(f"{'ratio naive / dispatcher':38s}        p50 {b['p50'] / max(d['p50'], 1e-6):7.1f}x     "
              f"p99 {b['p99'] / max(d['p99'], 1e-6):7.1f}x      max {b['max'] / max(d['max'], 1e-6):7.1f}x")
        print(f"goal: p50 ≤ 0.2 ms, p99 ≤ 1 ms, max ≤ 2 ms → "
              f"{'MET' if d['p50'] <= 0.2 and d['p99'] <= 1 and d['max'] <= 2 else 'NOT MET'}")
        capture.close()
        ports.close()
        clock.close()
    finally:
        if load is not None:
            load.kill()
        stop_jack(jack)


if __name__ == "__main__":
    main()
