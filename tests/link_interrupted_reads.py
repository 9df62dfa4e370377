"""Run inside a Link namespace: a real LinkClock whose reads of Link's beat are made slow every
third time (as when another thread takes the GIL or the VM steals the core mid-read). Prints JSON:
how far each published anchor sits off the straight line of Link's own timeline, in ms.

    python -m copilot.tests.link_interrupted_reads
"""

from __future__ import annotations

import itertools
import json
import time

from copilot.bridge.link import LinkClock


class SlowBeat:
    """The real aalink Link, but every third `beat` read arrives 2 ms after it was asked for."""

    def __init__(self, link: object) -> None:
        self._link = link
        self._reads = itertools.count()

    def __getattr__(self, name: str) -> object:
        return getattr(self._link, name)

    @property
    def beat(self) -> float:
        beat = self._link.beat
        if next(self._reads) % 3 == 0:
            time.sleep(0.002)
        return beat


def main() -> None:
    clock = LinkClock(120.0, join_delay=0.0)
    clock.wait_enabled()
    time.sleep(0.1)
    truth = clock.anchor  # a clean read, before the slow reads start
    clock._link = SlowBeat(clock._link)
    anchors = []
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        a = clock.anchor
        if not anchors or a is not anchors[-1]:
            anchors.append(a)
        time.sleep(0.001)
    clock.close()
    off_ms = [abs(truth.time_at_beat(a.beat) - a.time) * 1000.0 for a in anchors]
    print(json.dumps({"anchors": len(anchors), "worst_ms": max(off_ms), "interrupted": clock.interrupted_reads}))


if __name__ == "__main__":
    main()
