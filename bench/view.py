"""The stage view's cost and accuracy, side by side in one run.

    python bench/view.py            # 6 rounds of 15 s per condition, then 30 s with a browser
    python bench/view.py --quick    # 3 rounds of 6 s, then 15 s with a browser

Everything runs inside a private network namespace (the bench re-starts itself there), so the session's
Link clock finds no one and sends nothing beyond the machine. A real session — Link clock at 124 BPM,
the midi-monitor target on "Copilot Out" of its own JACK dummy server, the stage view in its own
process — is driven like a set: motion moves the filter at 100 Hz (a CC stream) and a performer thread
presses hot cues and syncs twice a second.

1. Dispatch lateness (send time − due time, every send) in alternating windows: no view at all (a
   session without one, first), the view with 0 clients, the view with 4 clients (4 Server-Sent Events
   readers in another process, reading everything as a phone's browser would). Goal: p99 with 4 clients
   within 0.1 ms of the p99 with none.
2. With one headless Chromium (Debian's) showing the page:
   - event → paint: a decision's clock time → the page's next animation frame after the decision event
     arrived (wall clocks of the same machine; p95 goal ≤ 50 ms);
   - the wheel's phase against Link: for every animation frame, the beat the page drew against the beat
     Link's clock gives for that instant (p95 |error| goal ≤ 5 ms).
3. The view's CPU: its process, and the publisher threads in the session's process, as a share of one
   core, with 0 and with 4 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TEMPO = 124.0
MOVE_HZ = 100.0
PRESS_EVERY = 0.5
SETTLE = 1.0  # seconds at the start of each window left out (clients connecting, caches)


# -- 4 phones: SSE readers in a process of their own -------------------------------------------------------
def sse_clients(port: int, n: int, token: str) -> None:
    """Open `n` streams and read every byte until killed; print how many events each got."""
    sel = selectors.DefaultSelector()
    counts = {}
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET /events?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
                  .encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        counts[i] = 0
    try:
        while True:
            for key, _ in sel.select(1.0):
                data = key.fileobj.recv(1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                counts[key.data] += data.count(b"\r\n\r\n")
    except KeyboardInterrupt:
        pass
    finally:
        print(json.dumps(counts), flush=True)


# -- the set ------------------------------------------------------------------------------------------------
@dataclass
class Driven:
    session: Any
    sends: list[tuple[float, float]] = field(default_factory=list)  # (due, lateness)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)


def start_set(view: bool) -> Driven:
    from copilot.bridge.config import Config
    from copilot.bridge.host import TargetHost
    from copilot.bridge.session import Session, SessionOptions
    from copilot.plugins import midi_monitor
    from copilot.view import plugin as view_plugin

    options = SessionOptions(target="midi-monitor", link=True, tempo=TEMPO, osc=None, midi_api="jack",
                             view="127.0.0.1:0" if view else None, log=None)
    session = Session(options, Config(), host=TargetHost(plugins=[midi_monitor, view_plugin], entry_points=False),
                      report=lambda m: None)
    driven = Driven(session)
    session.dispatcher.listeners.append(lambda s: driven.sends.append((s.due, s.lateness)))
    session.start()
    if view and not [i for i in session.inputs if i.name == "view"]:
        raise SystemExit("the stage view did not start")
    for fn in (motion, performer):
        t = threading.Thread(target=fn, args=(driven,), daemon=True)
        t.start()
        driven.threads.append(t)
    return driven


def motion(d: Driven) -> None:
    from copilot.bridge.dispatch import HELPER_PRIORITY, make_realtime
    from copilot.intents.schema import Deck, Source

    make_realtime(HELPER_PRIORITY)  # as the motion input's threads
    i = 0
    while not d.stop.wait(1.0 / MOVE_HZ):
        i += 1
        d.session.move("filter", 0.5 + 0.3 * np.sin(i / 25.0), Deck.A, Source.MOTION)


def performer(d: Driven) -> None:
    from copilot.bridge.dispatch import HELPER_PRIORITY, make_realtime
    from copilot.intents.schema import Deck, Intent, IntentKind, Source

    make_realtime(HELPER_PRIORITY)
    n = 0
    while not d.stop.wait(PRESS_EVERY):
        n += 1
        if n % 2:
            d.session.submit(Intent(IntentKind.HOTCUE, Deck.A, {"n": 1 + n % 8}, Source.PAD))
        else:
            d.session.submit(Intent(IntentKind.SYNC, Deck.B, source=Source.PAD))


def end_set(d: Driven) -> None:
    d.stop.set()
    for t in d.threads:
        t.join(2.0)
    d.session.stop()


# -- measuring -------------------------------------------------------------------------------------------------
def stats(values: Any) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
            "p99": float(np.percentile(v, 99)), "max": float(v.max())}


def row(name: str, s: dict[str, float], unit: str = "ms") -> None:
    if not s.get("n"):
        print(f"  {name:40s} no samples")
        return
    print(f"  {name:40s} n={s['n']:6d}  p50 {s['p50']:7.3f}  p95 {s['p95']:7.3f}  p99 {s['p99']:7.3f}  "
          f"max {s['max']:8.3f} {unit}")


def cpu_seconds(pid: int, tids: list[int] | None = None) -> float:
    """utime + stime of a process (or of some of its threads), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    paths = [f"/proc/{pid}/stat"] if tids is None else [f"/proc/{pid}/task/{t}/stat" for t in tids]
    total = 0
    for path in paths:
        try:
            with open(path) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def view_threads() -> list[int]:
    return [t.native_id for t in threading.enumerate() if t.name.startswith("copilot-view") and t.native_id]


def in_window(sends: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [late * 1000.0 for due, late in sends if start + SETTLE <= due < end]


def dispatch_rounds(rounds: int, window: float) -> dict[str, Any]:
    """Lateness with no view (its own set), then the view with 0 and 4 clients in alternating windows."""
    from copilot.bridge.clock import host_time

    print(f"1. dispatch lateness, {rounds} rounds of {window:g} s per condition")
    plain = start_set(view=False)
    try:
        t0 = host_time()
        time.sleep(rounds * window / 2)
        t1 = host_time()
    finally:
        end_set(plain)
    no_view = in_window(plain.sends, t0, t1)

    d = start_set(view=True)
    stage = next(i for i in d.session.inputs if i.name == "view")
    cpu: dict[str, list[float]] = {"0": [], "4": []}
    lateness: dict[str, list[float]] = {"0": [], "4": []}
    received = []
    try:
        time.sleep(1.0)
        for _ in range(rounds):
            for clients in ("0", "4"):
                reader = None
                if clients == "4":
                    reader = subprocess.Popen([sys.executable, __file__, "--sse-clients", str(stage.port), "4",
                                               stage.token], stdout=subprocess.PIPE, text=True)
                    deadline = time.monotonic() + 5
                    while stage.publisher.clients < 4 and time.monotonic() < deadline:
                        time.sleep(0.02)
                w0, c0 = host_time(), cpu_seconds(stage.process.pid)
                p0 = cpu_seconds(os.getpid(), view_threads())
                time.sleep(window)
                w1, c1 = host_time(), cpu_seconds(stage.process.pid)
                p1 = cpu_seconds(os.getpid(), view_threads())
                lateness[clients] += in_window(d.sends, w0, w1)
                cpu[clients].append(((c1 - c0) / (w1 - w0), (p1 - p0) / (w1 - w0)))
                if reader is not None:
                    reader.send_signal(2)
                    out, _ = reader.communicate(10)
                    received.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        end_set(d)
    result = {"no_view": stats(no_view), "clients_0": stats(lateness["0"]), "clients_4": stats(lateness["4"])}
    row("no stage view (another set)", result["no_view"])
    row("stage view, 0 clients", result["clients_0"])
    row("stage view, 4 clients", result["clients_4"])
    per_client = [sum(r.values()) / max(1, len(r)) for r in received]
    print(f"  each client read {np.mean(per_client) / window:.1f} events/s on average")
    gap = result["clients_4"]["p99"] - result["clients_0"]["p99"]
    print(f"  goal: p99 with 4 clients within 0.1 ms of none: {result['clients_4']['p99']:.3f} − "
          f"{result['clients_0']['p99']:.3f} = {gap:+.3f} ms → {'MET' if gap <= 0.1 else 'NOT MET'}")
    result["cpu"] = {}
    print("3. the view's CPU, share of one core (its process; the publisher threads in the session's process)")
    for clients, samples in cpu.items():
        proc = float(np.mean([a for a, _ in samples])) * 100
        threads = float(np.mean([b for _, b in samples])) * 100
        result["cpu"][clients] = {"process_pct": proc, "publisher_pct": threads}
        print(f"  {clients} clients: view process {proc:5.2f} %, publisher threads {threads:5.2f} %, "
              f"together {proc + threads:5.2f} %")
    return result


def wall_minus_host() -> float:
    """time.time() − host time (CLOCK_MONOTONIC_RAW), from the tightest of many back-to-back reads."""
    from copilot.bridge.clock import host_time

    best = None
    for _ in range(200):
        a = host_time()
        w = time.time()
        b = host_time()
        if best is None or b - a < best[0]:
            best = (b - a, w - (a + b) / 2)
    return best[1]


def browser_run(seconds: float) -> dict[str, Any]:
    from copilot.intents.schema import Deck, Intent, IntentKind, Source
    from copilot.tests.fixtures_view import chrome, wait_js

    print(f"2. one headless Chromium on the page for {seconds:g} s")
    d = start_set(view=True)
    stage = next(i for i in d.session.inputs if i.name == "view")
    driver = None
    try:
        driver = chrome(1280, 1600)
        driver.get(stage.url)
        wait_js(driver, "window.stageView && window.stageView.states > 40", 30, "the page's first states")
        offset = wall_minus_host()
        began = driver.execute_script("return performance.now()")  # frames before this: the page still settling
        decisions = []
        frames: list[list[float]] = []

        def collect() -> None:  # the page keeps its last 1200 frames: fetch them every few seconds
            last = frames[-1][0] if frames else began
            frames.extend(driver.execute_script(f"return window.stageView.frames.filter(f => f[0] > {last})"))

        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            n += 1
            decision = d.session.submit(Intent(IntentKind.LOOP, Deck.C, {"beats": 1 if n % 2 else 2},
                                               source=Source.PAD))
            decisions.append(decision)
            time.sleep(0.37)
            if n % 12 == 0:
                collect()
        time.sleep(0.5)
        collect()
        view = driver.execute_script("return {origin: performance.timeOrigin, paints: window.stageView.paints}")
        lateness = [late * 1000 for _, late in d.sends]
    finally:
        if driver is not None:
            driver.quit()
        clock = d.session.clock
        end_set(d)
    origin = view["origin"]
    at = {dec.intent.id: dec.at for dec in decisions}
    paint = [((origin + p["painted"]) / 1000.0 - offset - at[p["id"]]) * 1000.0 for p in view["paints"]
             if p["id"] in at]
    arrive = [((origin + p["arrived"]) / 1000.0 - offset - at[p["id"]]) * 1000.0 for p in view["paints"]
              if p["id"] in at]
    tempo = clock.tempo
    phase = [abs(beat - clock.beat_at_time((origin + t) / 1000.0 - offset)) * 60000.0 / tempo for t, beat in frames]
    span = (frames[-1][0] - frames[0][0]) / 1000.0 if len(frames) > 1 else 0.0
    result = {"paint_ms": stats(paint), "arrival_ms": stats(arrive), "phase_ms": stats(phase),
              "fps": len(frames) / span if span else 0.0, "lateness_with_browser": stats(lateness)}
    row("event → paint", result["paint_ms"])
    row("  of which event → the page has it", result["arrival_ms"])
    row("wheel phase vs Link |error|", result["phase_ms"])
    print(f"  {result['fps']:.0f} frames/s over {span:.1f} s")
    row("dispatch lateness meanwhile", result["lateness_with_browser"])
    print(f"  goals: paint p95 ≤ 50 ms → {'MET' if result['paint_ms'].get('p95', 1e9) <= 50 else 'NOT MET'}; "
          f"phase p95 ≤ 5 ms → {'MET' if result['phase_ms'].get('p95', 1e9) <= 5 else 'NOT MET'}")
    return result


def inside(args: argparse.Namespace) -> None:
    from copilot.tests.fixtures import start_jack, stop_jack

    os.environ["JACK_NO_START_SERVER"] = "1"
    jack = start_jack(f"cp-view-{os.getpid()}")
    os.environ["JACK_DEFAULT_SERVER"] = jack.name
    load = os.getloadavg()
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load {load[0]:.1f}; Link clock (alone, in a private namespace) at "
          f"{TEMPO:g} BPM; moves at {MOVE_HZ:g} Hz, a press every {PRESS_EVERY:g} s")
    try:
        rounds, window, browse = (3, 6.0, 15.0) if args.quick else (args.rounds, args.window, 30.0)
        result = {"bench": "view", "dispatch": dispatch_rounds(rounds, window), "browser": browser_run(browse)}
    finally:
        stop_jack(jack)
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--window", type=float, default=15.0)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sse-clients", nargs=3, metavar=("PORT", "N", "TOKEN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sse_clients:
        sse_clients(int(args.sse_clients[0]), int(args.sse_clients[1]), args.sse_clients[2])
        return
    if args.inside:
        inside(args)
        return
    from copilot.tests.fixtures import make_netns, remove_netns

    ns = make_netns()
    try:
        argv = [a for a in sys.argv[1:]] + ["--inside"]
        code = subprocess.call(ns.command([sys.executable, os.path.abspath(__file__), *argv]))
    finally:
        remove_netns(ns)
    sys.exit(code)


if __name__ == "__main__":
    main()
