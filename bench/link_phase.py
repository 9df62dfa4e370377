"""Copilot's Link clock against LinkHut's audible beat, over N minutes (default 10).

    python bench/link_phase.py [--minutes 10] [--quick]

LinkHut (Debian's ableton-link-utils, Link 3) plays its metronome on a JACK dummy server inside a private
network namespace; a copilot peer (copilot.tests.link_live_peer) in the same namespace hears every click on
JACK and reads the beat its own Link clock gives for that instant. The error of a click is how far that
beat is from a whole beat, in ms. Goal (issue 5): p99 |error| ≤ 0.5 ms; Link's own test plan allows 3 ms.

Baseline, measured in the same run: the same clicks read against copilot's *first* anchor only (no
re-anchoring) — what the clock would do if it stopped listening to Link after joining.
"""

from __future__ import annotations

import argparse
import json
import time

from link_rig import machine, rig, stats

from copilot.tests.fixtures_live import CopilotPeer

LINK_TEST_PLAN_MS = 3.0
GOAL_MS = 0.5
STEADY_S = 0.0005  # a JACK cycle whose callback woke within this of the sample-clock line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="30 seconds")
    args = ap.parse_args()
    seconds = 30.0 if args.quick else args.minutes * 60.0

    with rig("phase") as r:
        r.hut.keys(" ")  # play: a click on every beat
        r.hut.wait(lambda row: row.playing)
        peer = CopilotPeer(r.ns, "--every", "0", "--clicks", f"{r.hut.client}:out_1",
                           "--duration", str(seconds + 60))
        try:
            peer.wait(lambda d: d.get("ready"), 15)
            peer.wait(lambda d: "listening" in d, 10)
            time.sleep(1.0)  # the click listener's time filter fills
            skip = len(peer.of("click"))
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                time.sleep(min(10.0, max(0.0, t_end - time.monotonic())))
            clicks = peer.of("click")[skip:]
        finally:
            peer.close()

    if len(clicks) < 4:
        raise SystemExit("too few clicks heard: is LinkHut playing on the JACK server?")
    errors = [abs(c["beat"] - round(c["beat"])) * 60000.0 / c["tempo"] for c in clicks]
    first = clicks[0]
    frozen = []
    for c in clicks:
        beat = first["beat"] + (c["click"] - first["click"]) * first["tempo"] / 60.0
        frozen.append(abs(beat - round(beat)) * 60000.0 / first["tempo"])
    expected = round((clicks[-1]["click"] - first["click"]) * first["tempo"] / 60.0) + 1
    s, b = stats(errors), stats(frozen)
    print(f"copilot vs LinkHut beat phase, {seconds / 60:.1f} min, {s['n']} clicks "
          f"({expected - s['n']} not heard), {machine()}")
    print(f"  copilot (Link, re-anchored)   |error| median {s['median']:.3f} ms  p99 {s['p99']:.3f} ms  "
          f"max {s['max']:.3f} ms")
    print(f"  baseline (first anchor only)  |error| median {b['median']:.3f} ms  p99 {b['p99']:.3f} ms  "
          f"max {b['max']:.3f} ms")
    steady = [e for e, c in zip(errors, clicks, strict=True) if abs(c["wake_residual"]) <= STEADY_S]
    st = stats(steady)
    if st["n"]:
        print(f"  clicks in steady JACK cycles ({st['n']}, wake within {STEADY_S * 1000:g} ms of the fitted "
              f"line): |error| median {st['median']:.3f} ms  p99 {st['p99']:.3f} ms  max {st['max']:.3f} ms")
    within = sum(e <= GOAL_MS for e in errors) / len(errors)
    print(f"  {within:.1%} of clicks within {GOAL_MS} ms; the same outliers in both rows are the dummy driver's "
          "sample clock, not Link")
    print(f"  p99 ratio copilot/baseline {s['p99'] / b['p99']:.2f}; vs Link test plan {LINK_TEST_PLAN_MS} ms: "
          f"{s['p99'] / LINK_TEST_PLAN_MS:.2f}; goal {GOAL_MS} ms: {'met' if s['p99'] <= GOAL_MS else 'NOT met'}")
    print(json.dumps({"bench": "link_phase", "seconds": seconds, "copilot_ms": s, "baseline_ms": b, "steady_ms": st,
                      "not_heard": expected - s["n"]}))


if __name__ == "__main__":
    main()
