"""Decision → audible on the live engine (JACK dummy, 48 kHz / 64 frames): from the scheduler
accepting an intent to the first changed sample reaching the speaker, excluding any wait for the
beat (goal: ≤ one block + output latency).

    python bench/engine_latency.py [--quick] [--trials N]

Measured through the whole session: Session.submit / Session.control → scheduler → router →
dispatcher thread → StandaloneTarget.send → command ring → the cfunc callback, which notes the
sample where the command took effect. Its speaker time is the audio clock's time of that sample
plus PortAudio's output latency plus the limiter's look-ahead. Baseline in the same run: the bound
itself, one block + output latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import SR, machine, summary

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.engine.stream import clock_offset
from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.plugins import standalone
from copilot.tests.fixtures import start_jack, stop_jack


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 trials of each")
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    trials = 20 if args.quick else args.trials
    server = start_jack(f"copilot-bench-latency-{os.getpid()}")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
    device = next(int(a["default_output_device"]) for a in sd.query_hostapis() if "JACK" in a["name"])
    config = Config({"targets": {"standalone": {"device": device, "blocksize": 64, "autopilot": False}}})
    options = SessionOptions(target="standalone", link=False, tempo=124.0, osc=None, log=Path(os.devnull))
    host = TargetHost(config.targets(), plugins=[standalone], entry_points=False)
    session = Session(options, config, host=host, report=lambda _m: None)
    session.start()
    target = session.targets[0]
    engine, stream = target.engine, target.runner
    try:
        time.sleep(1.0)
        results: dict[str, list[float]] = {"control": [], "panic": []}
        for i in range(trials):
            for kind in ("control", "panic"):
                before = engine.stats()["applied_sample"]
                t0 = session.clock.now()
                if kind == "control":
                    session.move("volume", 0.5 + 0.4 * (i % 2), Deck.A)
                else:
                    session.submit(Intent(IntentKind.PANIC))
                deadline = time.monotonic() + 0.5
                while engine.stats()["applied_sample"] == before and time.monotonic() < deadline:
                    time.sleep(0.0005)
                time.sleep(0.02)
                applied = engine.stats()["applied_sample"]
                offset = clock_offset(engine)
                if applied == before or offset is None:
                    continue
                speaker = offset + (applied + engine.latency_samples) / SR + stream.latency
                results[kind].append((speaker - t0) * 1000.0)
        bound = (64 / SR + stream.latency + engine.latency_samples / SR) * 1000.0
        print(f"JACK dummy 48 kHz / 64 frames; PortAudio output latency {stream.latency * 1000:.2f} ms, "
              f"limiter look-ahead {engine.latency_samples / SR * 1000:.2f} ms   [{machine()}]")
        print(f"bound: one block + output latency (incl. look-ahead) = {bound:.2f} ms")
        for kind, values in results.items():
            v = np.array(values)
            print(f"  {kind:8s} ms  {summary(v)}   median/bound {np.median(v) / bound:.2f}  (n={v.size})")
        print("  (control adds the scheduler's move_lead and the engine target's send-ahead on purpose: "
              "its ramp starts on a promised beat, sample-exact)")
    finally:
        session.stop()
        sd._terminate()
        stop_jack(server)


if __name__ == "__main__":
    main()
