"""Sensor packet in → CC out on the port: the motion path's latency, end to end with real parts.

    python bench/motion_latency.py            # 200 jolts per configuration
    python bench/motion_latency.py --quick    # 30

A phone (ZIG SIM format) streams "still" at 100 Hz over real UDP into `copilot run`'s session
(motion input → engine → mapper → safety scheduler → dispatcher → midi-monitor → "Copilot Out" on its
own JACK dummy server). Every ~0.7 s it jolts (2 g for 30 ms). Per jolt, from the host time just
before the first jolt datagram is sent:
  control    the engine hands fx_depth to the scheduler (session.move)
  on port    the dispatcher puts the CC on the port (VirtualOut.send returns)
  captured   a JACK client receives it (adds JACK's 64-frame period, ~1.3 ms)
Two scheduler settings: the default move_lead (1.5 ms: controls are stamped that far ahead so the
dispatcher sends them on time, jitter-free) and the 4 ms lead controls had before (the discrete
actions' min_lead). Baseline in the same run: the raw JACK MIDI path (send a CC now → captured), the
floor under any of this.
Goal (issue 7): packet in → CC out on the port p95 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import threading
import time

import numpy as np

from copilot.bridge.clock import host_time
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.motion import synth
from copilot.plugins import midi_monitor, motion_input
from copilot.tests.fixtures import MidiCapture, free_udp_port, start_jack, stop_jack

FX = (0xB0, midi_monitor.CCS["fx_depth"])  # deck A


def pct(name: str, ms: np.ndarray, base: float | None = None) -> dict[str, float]:
    row = {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
           "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}
    ratio = f"  {row['p50'] / base:5.1f}× the raw port" if base else ""
    print(f"  {name:10s} n={ms.size:4d}  p50 {row['p50']:6.2f}  p95 {row['p95']:6.2f}  p99 {row['p99']:6.2f}  "
          f"max {row['max']:7.2f} ms{ratio}")
    return row


def raw_port(trials: int) -> np.ndarray:
    from copilot.bridge.ports import MidiPorts

    ports = MidiPorts("jack", watchdog_period=0)
    out = ports.output("Raw Out")
    cap = MidiCapture("Raw Out", "copilot-bench-raw")
    lat = []
    try:
        time.sleep(0.2)
        for i in range(trials):
            t0 = host_time()
            out.send(bytes((0xB0, 1, i % 128)))
            got = cap.collect(1, timeout=1.0)
            if got:
                lat.append(got[0][0] - t0)
            time.sleep(0.01)
    finally:
        cap.close()
        ports.close()
    return np.asarray(lat) * 1000


def run(trials: int, move_lead: float | None) -> dict[str, np.ndarray]:
    osc_port = free_udp_port()
    data: dict[str, object] = {"motion": {"deck": "A"}}
    if move_lead is not None:
        data["safety"] = {"move_lead": move_lead}
    config = Config(data)
    options = SessionOptions(target="midi-monitor", link=False, osc=None, midi_api="jack",
                             motion_osc=f"127.0.0.1:{osc_port}", log=None)
    host = TargetHost(config.targets(), plugins=[midi_monitor, motion_input], entry_points=False)
    session = Session(options, config, host=host, report=lambda m: None)
    controls: list[float] = []
    sends: list[float] = []
    move = session.move

    def timed_move(param, value, deck=None, source=None):  # type: ignore[no-untyped-def]
        if param == "fx_depth":
            controls.append(host_time())
        return move(param, value, deck, source)

    session.move = timed_move  # type: ignore[method-assign]
    session.dispatcher.listeners.append(lambda s: sends.append(s.sent) if s.payload.data[:2] == bytes(FX) else None)
    session.start()
    cap = MidiCapture("Copilot Out", f"copilot-bench-motion-{move_lead}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = ("127.0.0.1", osc_port)
    still = synth.phone_datagrams("zigsim", "BENCH", (0.0, 0.0, 1.0), (0.0, 0.0, 1.0), (0.0, 0.0, 0.0))[0]
    jolt = synth.phone_datagrams("zigsim", "BENCH", (0.0, 0.0, 3.0), (0.0, 0.0, 1.0), (0.0, 0.0, 0.0))[0]
    stop = threading.Event()
    jolts: list[float] = []
    jolting = threading.Event()

    def phone() -> None:
        tick = 0.01
        next_t = time.perf_counter()
        while not stop.is_set():
            if jolting.is_set():
                jolts.append(host_time())
                for _ in range(3):
                    sock.sendto(jolt, dest)
                    next_t += tick
                    time.sleep(max(0.0, next_t - time.perf_counter()))
                jolting.clear()
            sock.sendto(still, dest)
            next_t += tick
            time.sleep(max(0.0, next_t - time.perf_counter()))

    sender = threading.Thread(target=phone, daemon=True)
    sender.start()
    out = {"control": [], "on port": [], "captured": []}
    try:
        time.sleep(1.5)  # the phone is known and at rest
        cap.collect(timeout=0.2)
        for _ in range(trials):
            n_c, n_s = len(controls), len(sends)
            jolting.set()
            first = None
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:  # until fx_depth is back at 0 and quiet
                got = cap.collect(timeout=0.25)
                fx = [(t, d) for t, d in got if d[:2] == bytes(FX)]
                if first is None and fx:
                    first = fx[0][0]
                if (fx and fx[-1][1][2] == 0) or (first is not None and not got):
                    break
            while jolting.is_set():
                time.sleep(0.001)
            t0 = jolts[-1]
            if first is None or len(controls) == n_c or len(sends) == n_s:
                continue
            out["control"].append(controls[n_c] - t0)
            out["on port"].append(sends[n_s] - t0)
            out["captured"].append(first - t0)
            time.sleep(0.15)
    finally:
        stop.set()
        sender.join(1)
        sock.close()
        cap.close()
        session.stop()
    return {k: np.asarray(v) * 1000 for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trials", type=int)
    args = ap.parse_args()
    trials = args.trials or (30 if args.quick else 200)
    print(f"motion_latency: {platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, {trials} jolts per setting, JACK dummy 48 kHz / 64")
    server = start_jack(f"copilot-bench-motion-{os.getpid()}")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        base = raw_port(max(50, trials))
        print("baseline: raw JACK MIDI (send → captured)")
        floor = pct("raw port", base)["p50"]
        results = {}
        for lead in (None, 0.004):
            name = "default move_lead (1.5 ms)" if lead is None else "move_lead 4 ms (the old lead)"
            print(f"packet in → … ({name})")
            r = run(trials, lead)
            results[name] = {k: pct(k, v, floor if k == "captured" else None) for k, v in r.items() if v.size}
        for name, r in results.items():
            p95 = r.get("on port", {}).get("p95", float("nan"))
            print(f"goal: packet → CC on the port p95 ≤ 5 ms with {name}: {p95:.2f} ms "
                  f"({'met' if p95 <= 5 else 'MISSED'})")
    finally:
        stop_jack(server)


if __name__ == "__main__":
    main()
