"""Joining a running Link session: how fast copilot adopts its tempo, and whether it ever resets it.

    python bench/link_join.py [--joins 20] [--quick]

LinkHut (Debian's ableton-link-utils) runs a session at 123 BPM inside a private network namespace. A
copilot peer (copilot.tests.link_live_peer) starts there `--joins` times, each time asking for a
different tempo (90 + i BPM), and quits. Measured per join: seconds from Link enabled to the session's
tempo on copilot's clock, seconds from building the clock (and from process launch) to the same, and
whether LinkHut ever showed a tempo other than 123 (a reset). Goal (issue 5): adopted within 1 s, zero
resets in 20 joins.

Baseline, measured in the same run: the same joins with `--join-delay 0` (Link enabled the moment the
peer is built, what a naive client does).
"""

from __future__ import annotations

import argparse
import json
import time

from link_rig import machine, rig, stats

from copilot.bridge.clock import host_time
from copilot.tests.fixtures_live import CopilotPeer

SESSION_BPM = 123.0


def join_once(r, tempo: float, join_delay: float) -> dict:  # type: ignore[no-untyped-def]
    launched = host_time()
    peer = CopilotPeer(r.ns, "--tempo", f"{tempo:g}", "--every", "0.005", "--join-delay", str(join_delay),
                       "--duration", "6")
    try:
        ready = peer.wait(lambda d: d.get("ready"), 15)
        adopted = peer.wait(lambda d: d.get("peers", 0) >= 1 and abs(d.get("tempo", 0) - SESSION_BPM) < 0.01, 5)
        time.sleep(0.3)
    finally:
        peer.close()
    shown = {row.tempo for row in r.hut.since(launched)}
    return {"from_enable": adopted["t"] - ready["t"], "from_launch": adopted["t"] - launched,
            "from_clock": ready["since_start"] + adopted["t"] - ready["t"],
            "reset": shown != {SESSION_BPM}, "shown": sorted(shown)}


def run(r, joins: int, join_delay: float) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(joins):
        result = join_once(r, 90.0 + i, join_delay)
        if result["reset"]:  # put the session back for the next join
            r.hut.keys("w" if max(result["shown"]) > SESSION_BPM else "e")
        while abs(r.hut.latest().tempo - SESSION_BPM) > 0.01:
            r.hut.keys("e" if r.hut.latest().tempo < SESSION_BPM else "w")
            time.sleep(0.2)
        out.append(result)
        time.sleep(0.5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--joins", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="5 joins each")
    args = ap.parse_args()
    joins = 5 if args.quick else args.joins
    with rig("join") as r:
        r.hut.keys("eee")
        r.hut.wait(lambda row: abs(row.tempo - SESSION_BPM) < 0.01)
        time.sleep(1.0)
        copilot = run(r, joins, 0.5)
        naive = run(r, joins, 0.0)
    print(f"joining a running Link session at {SESSION_BPM:g} BPM (LinkHut), {joins} joins each, {machine()}")
    summary = {}
    for name, rows in (("copilot (join delay 0.5 s)", copilot), ("baseline (join delay 0)", naive)):
        e, launch = stats([x["from_enable"] for x in rows]), stats([x["from_launch"] for x in rows])
        built = stats([x["from_clock"] for x in rows])
        resets = sum(x["reset"] for x in rows)
        summary[name] = {"from_enable_s": e, "from_clock_s": built, "from_launch_s": launch, "resets": resets}
        print(f"  {name:28s} adopted after enabling: median {e['median'] * 1000:.0f} ms, p99 {e['p99'] * 1000:.0f} ms"
              f", max {e['max'] * 1000:.0f} ms; after the clock was built: median {built['median']:.2f} s, "
              f"max {built['max']:.2f} s; after process launch: median {launch['median']:.2f} s; "
              f"tempo resets {resets}/{len(rows)}")
    c, b = summary["copilot (join delay 0.5 s)"], summary["baseline (join delay 0)"]
    print(f"  ratio copilot/baseline (median after enabling): "
          f"{c['from_enable_s']['median'] / b['from_enable_s']['median']:.2f}; goal ≤ 1 s and 0 resets: "
          f"{'met' if c['from_clock_s']['max'] <= 1.0 and c['resets'] == 0 else 'NOT met'}")
    print(json.dumps({"bench": "link_join", "joins": joins, **summary}))


if __name__ == "__main__":
    main()
