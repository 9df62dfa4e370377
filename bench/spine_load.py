"""Decide, then send: does a slow LOAD lookup delay any other decision or send?

    python bench/spine_load.py            # two runs of 30 s each
    python bench/spine_load.py --quick    # 8 s each
    python bench/spine_load.py --lookup sleep   # the lookup waits on "I/O" instead of holding the GIL

A real session (midi-monitor target on "Copilot Out" of its own JACK dummy server, internal clock at
120 BPM) is driven like a set: motion moves the filter at 100 Hz (a CC stream) and a performer thread
presses hot cues and syncs twice a second (beat-quantized notes). The same load runs twice:
  baseline   nothing else;
  LOADs      also a LOAD every 1.5 s, each looked up in a library that takes `--seconds` (1 s) — by
             default pure Python work that holds the GIL between switches, the harsh case for the
             dispatch thread (a real lookup mixes SQLite, which lets go of the GIL, and Python scoring).
Per run: the lateness of every send (dispatcher send time − its due time), over all sends and, in the
LOAD run, over the sends due while a lookup was running (and between lookups: a baseline from the same
minutes of a shared machine); and how long `session.move` took to decide (it waits for the scheduler's
lock: before the lookup moved off that lock, it waited up to a second behind a first LOAD).
Goal (issue 11): p99 lateness during lookups within 1 ms of the baseline's p99.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from copilot.bridge.clock import host_time
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost, hookimpl
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import Deck, Intent, IntentKind, Source
from copilot.plugins import midi_monitor
from copilot.tests.fixtures import start_jack, stop_jack

TEMPO = 120.0
MOVE_HZ = 100.0
PRESS_EVERY = 0.5  # seconds
LOAD_EVERY = 1.5  # seconds


class SlowLibrary:
    """A library whose every lookup takes `seconds`: Python work holding the GIL, or a wait."""

    name = "slow library"

    def __init__(self, seconds: float, how: str) -> None:
        self.seconds, self.how = seconds, how
        self.busy: list[tuple[float, float]] = []  # (start, end) host time of every lookup

    def resolve(self, query: str) -> dict[str, Any]:
        start = host_time()
        if self.how == "sleep":
            time.sleep(self.seconds)
        else:
            words = query.split() * 8
            score = 0
            while host_time() - start < self.seconds:  # scoring titles, in Python: holds the GIL
                score += sum(len(w) * i for i, w in enumerate(words))
        self.busy.append((start, host_time()))
        return {"path": f"/music/{query}.flac", "title": query.title(), "bpm": 120.0, "why": "bench"}


class LibraryPlugin:
    def __init__(self, library: SlowLibrary) -> None:
        self.library = library

    @hookimpl
    def copilot_library(self, options: dict[str, Any]) -> SlowLibrary:
        return self.library


@dataclass
class Run:
    sends: list[tuple[float, float]] = field(default_factory=list)  # (due, lateness)
    move_decisions: list[float] = field(default_factory=list)  # seconds session.move took
    loads: int = 0
    lookups: list[tuple[float, float]] = field(default_factory=list)


def run(seconds: float, lookup: float | None, how: str) -> Run:
    library = SlowLibrary(lookup or 0.0, how)
    plugins: list[Any] = [midi_monitor] + ([LibraryPlugin(library)] if lookup else [])
    options = SessionOptions(target="midi-monitor", link=False, tempo=TEMPO, osc=None, midi_api="jack", log=None)
    session = Session(options, Config(), host=TargetHost(plugins=plugins, entry_points=False),
                      report=lambda m: None)
    out = Run()
    session.dispatcher.listeners.append(lambda s: out.sends.append((s.due, s.lateness)))
    session.start()
    stop = threading.Event()

    def motion() -> None:
        i = 0
        while not stop.wait(1.0 / MOVE_HZ):
            i += 1
            t = host_time()
            session.move("filter", 0.5 + 0.3 * np.sin(i / 25.0), Deck.A, Source.MOTION)
            out.move_decisions.append(host_time() - t)

    def performer() -> None:
        n = 0
        while not stop.wait(PRESS_EVERY):
            n += 1
            if n % 2:
                session.submit(Intent(IntentKind.HOTCUE, Deck.A, {"n": 1 + n % 8}, Source.PAD))
            else:
                session.submit(Intent(IntentKind.SYNC, Deck.B, source=Source.PAD))

    def loader() -> None:
        n = 0
        while not stop.wait(LOAD_EVERY):
            n += 1
            session.submit_soon(Intent(IntentKind.LOAD, Deck.C, {"query": f"track {n}"}, Source.VOICE))
            out.loads += 1

    threads = [threading.Thread(target=f, daemon=True) for f in (motion, performer, *([loader] if lookup else []))]
    try:
        for t in threads:
            t.start()
        time.sleep(seconds)
    finally:
        stop.set()
        for t in threads:
            t.join(2.0)
        time.sleep(lookup or 0.0)
        session.stop()
    out.lookups = list(library.busy)
    return out


def stats(name: str, values_s: np.ndarray) -> dict[str, float]:
    ms = np.asarray(values_s) * 1000.0
    row = {"n": int(ms.size), "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
           "max": float(ms.max())}
    print(f"  {name:44s} n={row['n']:6d}  p50 {row['p50']:7.3f} ms  p99 {row['p99']:7.3f} ms  max {row['max']:8.3f} ms")
    return row


def during(sends: list[tuple[float, float]], spans: list[tuple[float, float]]) -> np.ndarray:
    return np.array([late for due, late in sends if any(a <= due <= b for a, b in spans)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0, help="how long one lookup takes")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    ap.add_argument("--quick", action="store_true", help="8 s per run")
    ap.add_argument("--lookup", choices=("cpu", "sleep"), default="cpu")
    args = ap.parse_args()
    duration = 8.0 if args.quick else args.duration

    jack = start_jack(f"cp-load-{os.getpid()}")
    os.environ["JACK_DEFAULT_SERVER"] = jack.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
              f"{time.strftime('%Y-%m-%d')}; {duration:.0f} s per run at {TEMPO:g} BPM; moves at {MOVE_HZ:g} Hz, "
              f"a press every {PRESS_EVERY:g} s; lookups of {args.seconds:g} s ({args.lookup}) every {LOAD_EVERY:g} s")
        print("baseline (no LOAD):")
        base = run(duration, None, args.lookup)
        b_all = stats("send lateness", np.array([late for _, late in base.sends]))
        stats("session.move decided in", np.array(base.move_decisions))
        print("with LOADs looked up meanwhile:")
        loaded = run(duration, args.seconds, args.lookup)
        stats("send lateness, all", np.array([late for _, late in loaded.sends]))
        d = stats("send lateness, due during a lookup", during(loaded.sends, loaded.lookups))
        stats("send lateness, due between lookups", np.array(
            [late for due, late in loaded.sends if not any(a <= due <= b for a, b in loaded.lookups)]))
        stats("session.move decided in", np.array(loaded.move_decisions))
        busy = sum(b - a for a, b in loaded.lookups)
        print(f"  {loaded.loads} LOADs, {len(loaded.lookups)} lookups, library busy {busy:.1f} s of {duration:.0f} s")
        gap = d["p99"] - b_all["p99"]
        print(f"goal: p99 during lookups within 1 ms of the baseline's: {d['p99']:.3f} − {b_all['p99']:.3f} = "
              f"{gap:+.3f} ms → {'MET' if gap <= 1.0 else 'NOT MET'}")
    finally:
        stop_jack(jack)


if __name__ == "__main__":
    main()
