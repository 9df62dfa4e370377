"""Fuzz a live session over real UDP: a million hostile datagrams per network surface, and the performer's
intents sent between them still decided on time?

    python bench/fuzz_live.py                   # 1,000,000 per surface
    python bench/fuzz_live.py --inputs 50000    # a quick look
    python bench/fuzz_live.py --surfaces intents --inputs 100000 --tracemalloc 8 --snap-every 20000
                                                # where the child's memory grows (slow: a measurement)

The session runs in a child process (so a crash is a crash, not a hidden exception): midi-monitor on
"Copilot Out" of its own JACK dummy server, internal clock, OSC intents, motion OSC and mocopi listeners,
and an AbletonOSC client's reply port with Live's beat listener on. This process sends, per surface
(intents, json, motion, mocopi, ableton), `--inputs` datagrams from tests/fuzz_corpus.py in bursts of
`--burst`, and after each burst one well-formed intent to the intent port, timing its decision
(/copilot/decision back). A baseline phase sends the same intents with no garbage at all.
Reported: thread deaths (every listener's thread alive at the end: goal 0), crashes (the child's exit:
goal 0), errors the listeners' safety nets caught, datagrams sent and received per surface, decision
round-trip p50/p99/max per phase against the baseline, and the child's RSS before and after.
Where memory goes (measurements, not production paths): every `--snap-every` datagrams the child prints
to stderr its RSS, glibc's heap in use and free-but-kept (mallinfo2), its mmapped blocks and Python's
block count; with `--tracemalloc FRAMES` it also traces Python's allocations and prints the biggest
growths since the first snapshot by traceback (slow: several times slower); `--trim` calls glibc's
malloc_trim after each report and gives RSS after it (it changes the later RSS figures).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from typing import Any

import numpy as np
from memory import rss_mb, rss_parts_mb

SURFACES = ("intents", "json", "motion", "mocopi", "ableton")
VALID = ("hot cue 2 on deck B", "sync A", "cue deck B", "loop 4 on deck A", "exit loop on deck A")


# -- the child: a live session with every network surface open ---------------------------------------------
def serve(trim: bool) -> None:
    from copilot.bridge.config import Config
    from copilot.bridge.host import TargetHost
    from copilot.bridge.session import Session, SessionOptions
    from copilot.plugins import midi_monitor, motion_input
    from copilot.plugins.ableton_osc import AbletonOSC
    from copilot.tests.fixtures import free_udp_port

    motion, mocopi = free_udp_port(), free_udp_port()
    config = Config({"motion": {"osc": f"127.0.0.1:{motion}", "mocopi": f"127.0.0.1:{mocopi}"}})
    session = Session(SessionOptions(target="midi-monitor", link=False, tempo=124.0, osc="127.0.0.1:0",
                                     midi_api="jack", log=None, motion_osc=f"127.0.0.1:{motion}", mocopi=mocopi),
                      config, host=TargetHost(plugins=[midi_monitor, motion_input], entry_points=False,
                                              settings=config.data),
                      report=lambda _line: None)
    session.start()
    live = AbletonOSC("127.0.0.1", free_udp_port(), free_udp_port())
    beats: list[int] = []
    live.start_beat_listener(lambda n, t: beats.append(n) if len(beats) < 1000 else None)
    live.open()
    motion_input_ = next(i for i in session.inputs if i.name == "motion")
    listeners = {"intents": session.osc_server.receiver, "ableton": live._receiver}
    for listener in motion_input_.live.listeners:
        listeners["motion" if listener.source.kind == "osc" else "mocopi"] = listener._receiver
    print(json.dumps({"ports": {k: r.port for k, r in listeners.items()}, "pid": os.getpid()}), flush=True)
    tracer = Tracer(trim)
    for line in sys.stdin:  # "count SURFACE" → datagrams that listener took so far; "snap LABEL"; "stop"
        words = line.split()
        if words == ["stop"]:
            break
        if words[:1] == ["count"]:
            print(listeners[words[1]].datagrams, flush=True)
        if words[:1] == ["snap"]:
            print(json.dumps(tracer.snap(" ".join(words[1:]))), flush=True)
    stats = {name: {"alive": r.alive, "datagrams": r.datagrams, "errors": r.errors, "not_allowed": r.not_allowed}
             for name, r in listeners.items()}
    other = {"dispatcher": session.dispatcher._thread is not None and session.dispatcher._thread.is_alive(),
             "midi_in": all(p._thread.is_alive() for p in session.ports.inputs.values())}
    osc = {k: v for k, v in vars(session.osc_server.counters).items() if k != "by_address"}
    report = {"listeners": stats, "threads": other, "osc": osc, "motion": motion_input_.live.registry.counts(),
              "ableton": live.stats.to_dict()}
    live.close()
    session.stop()
    print(json.dumps(report), flush=True)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


class Tracer:
    """Where the child's memory goes: RSS split into glibc's heap (in use / free but kept), its mmapped
    blocks, Python's own block count, and — when tracing — Python's allocations diffed by traceback
    against the first snapshot."""

    TOP = 12

    def __init__(self, trim: bool) -> None:
        self.first: tracemalloc.Snapshot | None = None
        self.trim = trim
        self.libc = ctypes.CDLL("libc.so.6")
        self.libc.mallinfo2.restype = _MallInfo2

    def snap(self, label: str) -> dict[str, Any]:
        mb = 2**-20
        info = self.libc.mallinfo2()
        report = {"label": label, **rss_parts_mb(),
                  "heap_in_use_mb": round(info.uordblks * mb, 1), "heap_free_kept_mb": round(info.fordblks * mb, 1),
                  "mmapped_mb": round(info.hblkhd * mb, 1), "python_blocks": sys.getallocatedblocks(),
                  "threads": threading.active_count()}
        if self.trim:
            self.libc.malloc_trim(0)  # measured, not a fix: how much of RSS is free memory glibc kept
            report["rss_after_malloc_trim_mb"] = round(rss_mb(), 1)
        if tracemalloc.is_tracing():
            report["traced_mb"] = round(tracemalloc.get_traced_memory()[0] * mb, 1)
        print(f"[snap] {json.dumps(report)}", file=sys.stderr, flush=True)
        if not tracemalloc.is_tracing():
            return report
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__),
             tracemalloc.Filter(False, "<frozen importlib._bootstrap*")])
        if self.first is None:
            self.first = snapshot
            return report
        for stat in snapshot.compare_to(self.first, "traceback")[: self.TOP]:
            if stat.size_diff <= 0:
                continue
            print(f"  {stat.size_diff * mb:+.2f} MB in {stat.count_diff:+d} blocks:", file=sys.stderr)
            for frame in stat.traceback.format()[-2 * min(len(stat.traceback), 6):]:
                print("    " + frame, file=sys.stderr)
        sys.stderr.flush()
        return report


# -- this process: the senders ----------------------------------------------------------------------------------
class Asker:
    """Well-formed intents to the intent port, each timed to its /copilot/decision."""

    def __init__(self, port: int) -> None:
        from copilot.tests.fuzz_corpus import osc

        self.osc = osc
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.n = 0

    def ask(self) -> float | None:
        self.n += 1
        t0 = time.perf_counter()
        self.sock.sendto(self.osc("/copilot/intent", VALID[self.n % len(VALID)]), ("127.0.0.1", self.port))
        try:
            self.sock.recvfrom(4096)
        except TimeoutError:
            return None
        return time.perf_counter() - t0


def stats(xs: list[float]) -> dict[str, Any]:
    a = np.array(xs) * 1e3
    if not a.size:
        return {"n": 0}
    return {"n": int(a.size), "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=1_000_000, help="hostile datagrams per surface")
    ap.add_argument("--burst", type=int, default=50, help="datagrams between two timed intents")
    ap.add_argument("--baseline", type=int, default=3000, help="timed intents with no garbage")
    ap.add_argument("--surfaces", default=",".join(SURFACES))
    ap.add_argument("--json", default=None)
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                    help="the child traces allocations (this many frames each) and reports growth by traceback")
    ap.add_argument("--trim", action="store_true", help="with --tracemalloc: malloc_trim after each snapshot")
    ap.add_argument("--snap-every", type=int, default=0, help="datagrams between two memory reports "
                    "(default: one per surface when --tracemalloc or --trim)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.trim)
        return
    from copilot.tests.fixtures import start_jack, stop_jack
    from copilot.tests.fuzz_corpus import corpus

    name = f"copilot-fuzz-{os.getpid()}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    server = start_jack(name)
    if args.tracemalloc:
        env["PYTHONTRACEMALLOC"] = str(args.tracemalloc)
    command = [sys.executable, __file__, "--serve", *(["--trim"] if args.trim else [])]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    result: dict[str, Any] = {"inputs_per_surface": args.inputs, "burst": args.burst}
    try:
        hello = json.loads(child.stdout.readline())
        ports, pid = hello["ports"], hello["pid"]
        asker = Asker(ports["intents"])
        time.sleep(2.0)  # the session settles (imports, the motion worker's first frames)
        rss = {"start": rss_parts_mb(pid)}
        result["baseline"] = stats([t for t in (asker.ask() for _ in range(args.baseline)) if t is not None])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent: dict[str, int] = {}

        def taken(listener: str) -> int:
            child.stdin.write(f"count {listener}\n")
            child.stdin.flush()
            return int(child.stdout.readline())

        def snap(label: str) -> None:
            if args.tracemalloc or args.snap_every or args.trim:
                child.stdin.write(f"snap {label}\n")
                child.stdin.flush()
                result.setdefault("snapshots", []).append(json.loads(child.stdout.readline()))

        snap("after-baseline")

        for surface in args.surfaces.split(","):
            listener = "intents" if surface == "json" else surface
            times, lost, n = [], 0, 0
            base, asked = taken(listener), asker.n
            started = time.perf_counter()
            for data in corpus(surface, args.inputs, seed=11):
                try:
                    sock.sendto(data, ("127.0.0.1", ports[listener]))
                except OSError:
                    continue
                n += 1
                if n % args.burst == 0:
                    t = asker.ask()
                    if t is None:
                        lost += 1
                    else:
                        times.append(t)
                    # never more than a few bursts ahead of the listener: the kernel drops nothing
                    own = asker.n - asked if listener == "intents" else 0  # the timed intents came in there too
                    while n - (taken(listener) - base - own) > 4 * args.burst:
                        time.sleep(0.0005)
                if args.snap_every and n % args.snap_every == 0:
                    snap(f"{surface}-{n}")
            result[surface] = {"sent": n, "seconds": round(time.perf_counter() - started, 1),
                               "decisions": stats(times), "unanswered": lost, "memory": rss_parts_mb(pid)}
            sent[surface] = n
            if not args.snap_every:
                snap(surface)
            print(surface, json.dumps(result[surface]), file=sys.stderr, flush=True)
        rss["end"] = rss_parts_mb(pid)
        result["memory"] = rss
        child.stdin.write("stop\n")
        child.stdin.flush()
        result["child"] = json.loads(child.stdout.readline())
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
        stop_jack(server)
    listeners = result["child"]["listeners"]
    result["thread_deaths"] = sum(not v["alive"] for v in listeners.values()) + \
        sum(not v for v in result["child"]["threads"].values())
    result["crashes"] = int(child.returncode != 0)
    result["received"] = {k: v["datagrams"] for k, v in listeners.items()}
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    result["date"] = time.strftime("%Y-%m-%d %H:%M")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
