"""A Link peer for tests: prints its anchors as JSON lines; `tempo X` on stdin changes the tempo.

    python -m copilot.tests.link_peer --tempo 130 [--join-delay 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from copilot.bridge.clock import host_time
from copilot.bridge.link import LinkClock


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--quantum", type=float, default=4.0)
    ap.add_argument("--join-delay", type=float, default=0.5)
    ap.add_argument("--period", type=float, default=0.05)
    args = ap.parse_args()
    clock = LinkClock(args.tempo, args.quantum, join_delay=args.join_delay)
    clock.wait_enabled()

    def commands() -> None:
        for line in sys.stdin:
            word, _, value = line.strip().partition(" ")
            if word == "tempo":
                clock.set_tempo(float(value))
            elif word == "quit":  # leave the Link session cleanly, then end the whole process
                clock.close()
                time.sleep(0.3)  # Link says goodbye from its own thread: let it go out
                sys.stdout.flush()
                os._exit(0)  # sys.exit here would end only this thread

    threading.Thread(target=commands, daemon=True).start()
    while True:
        a = clock.anchor
        print(json.dumps({"t": a.time, "beat": a.beat, "tempo": a.tempo, "peers": clock.peers, "now": host_time()}),
              flush=True)
        time.sleep(args.period)


if __name__ == "__main__":
    main()
