"""Intent → queued action latency: parse + schedule + route + render + queue, as a voice/OSC intent takes.

    python bench/spine_intent.py [--n 20000]

The chain is the session's own (scheduler → router → midi-monitor render → dispatcher queue). Time is
virtual (a manual clock) and moves half a beat between intents, as in a busy set, with the dispatcher
pumped so queues stay as long as a real set keeps them; only the decision path is timed. Baseline in
the same run: the parser alone on the same texts.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from copilot.bridge.clock import ManualClock
from copilot.bridge.dispatch import Dispatcher
from copilot.bridge.host import TargetHost
from copilot.bridge.router import Router
from copilot.bridge.safety import SafetyConfig
from copilot.bridge.scheduler import SafetyScheduler
from copilot.bridge.state import HostState
from copilot.intents.parser import parse
from copilot.plugins import midi_monitor

TEXTS = [
    "loop 4 on deck A", "play B", "drop in 8", "echo fifty percent on deck B", "filter down on A",
    "hot cue 3 on deck A", "exit loop on deck A", "sync B", "tempo plus one", "load dubby 118 to deck B",
    "reverb off on deck B", "cue A", "fx off on A", "loop 1/4 on deck B", "filter up 30 percent on B",
]


def stats(name: str, seconds: list[float]) -> dict[str, float]:
    us = np.asarray(seconds) * 1e6
    row = {"p50": float(np.percentile(us, 50)), "p99": float(np.percentile(us, 99)), "max": float(us.max())}
    print(f"{name:40s} p50 {row['p50']:8.1f} µs  p99 {row['p99']:8.1f} µs  max {row['max']:9.1f} µs")
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    clock = ManualClock(124.0)
    state = HostState()
    host = TargetHost(plugins=[midi_monitor], entry_points=False)
    target = host.get("midi-monitor")  # no port: sends are counted, not written
    dispatcher = Dispatcher(clock)
    router = Router([target], dispatcher, state, clock, lambda m: None)
    # no rate limits, so every intent takes the whole path instead of an early refusal
    sched = SafetyScheduler(clock, state, router, SafetyConfig(rate_limits={"loop": 0.0, "fx": 0.0}, decks=4))
    parse_only, full = [], []
    for i in range(args.n):
        text = TEXTS[i % len(TEXTS)]
        t0 = time.perf_counter()
        parse(text)
        t1 = time.perf_counter()
        parse_only.append(t1 - t0)
        t0 = time.perf_counter()
        result = parse(text)
        sched.submit(result.intent)
        t1 = time.perf_counter()
        full.append(t1 - t0)
        clock.advance(0.5 * 60.0 / 124.0)
        dispatcher.pump(clock.now())
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; {args.n} intents")
    b = stats("baseline: parse only", parse_only)
    f = stats("intent → queued action (parse+schedule)", full)
    print(f"{'ratio full / parse':40s} p50 {f['p50'] / b['p50']:8.1f}x   p99 {f['p99'] / b['p99']:8.1f}x")
    print(f"goal p99 ≤ 1 ms → {'MET' if f['p99'] <= 1000 else 'NOT MET'}")


if __name__ == "__main__":
    main()
