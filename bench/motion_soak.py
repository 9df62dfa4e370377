"""Four phones at 100 Hz for ten minutes: no memory growth, no valid frame dropped.

    python bench/motion_soak.py                 # 10 minutes (the issue's measure)
    python bench/motion_soak.py --minutes 2
    python bench/motion_soak.py --quick         # 1 minute

Four devices in four wire formats (ZIG SIM, GyrOSC, Sensors2OSC, the generic /copilot/motion), each
at 100 Hz with its own beat-locked movement, sent from a separate process over real UDP into
`copilot run`'s session (motion input → scheduler → dispatcher → midi-monitor on a JACK dummy
server). Every 10 s: process RSS (/proc), Python heap (tracemalloc), readings sent vs accepted,
frames, CCs out. At the end:
growth of RSS and heap from the first minute's level to the end, and drops of any kind.
Baseline in the same run: the same senders into a bare UDP socket that only counts (what the
machine itself delivers), for the first 20 s.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import socket
import threading
import time
import tracemalloc
from typing import Any

import numpy as np

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.motion import synth
from copilot.plugins import midi_monitor, motion_input
from copilot.tests.fixtures import MidiCapture, free_udp_port, start_jack, stop_jack

RATE = 100.0
PHONES = (("zigsim", "SOAK1", "right_hand", 1), ("gyrosc", "", "right_hand", 2),
          ("sensors2osc", "", "right_hand", 2), ("copilot", "bob", "left_hand", 1))  # (format, id, limb, datagrams)
READINGS_PER_TICK = 3 + 2 + 2 + 2  # zigsim accel+gravity+gyro, gyrosc 2, sensors2osc 2, generic accel+gyro


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Phones:
    """Four phones in their own process (like real phones: not competing for this process's GIL),
    each tick sent on a 10 ms grid (sleep-then-send, like an app). Counters are shared values."""

    def __init__(self, port: int) -> None:
        ctx = mp.get_context("spawn")
        self._ticks = ctx.Value("q", 0)
        self._sent = ctx.Value("q", 0)
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=_phones, args=(port, self._stop, self._ticks, self._sent), daemon=True)

    @property
    def ticks(self) -> int:
        return int(self._ticks.value)

    @property
    def sent_datagrams(self) -> int:
        return int(self._sent.value)

    def start(self) -> None:
        self._proc.start()

    def stop(self) -> None:
        self._stop.set()
        self._proc.join(5)


def _phones(port: int, stop: Any, ticks: Any, sent: Any) -> None:
    dest = ("127.0.0.1", port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.perf_counter()
    n = 0
    while not stop.is_set():
        t = n / RATE
        for k, (fmt, dev, limb, _) in enumerate(PHONES):
            ph = 2 * math.pi * (2.0 * t + k / 4)
            amp = 0.5 + 0.5 * math.sin(2 * math.pi * t / 16)
            accel = (0.05 * math.sin(ph), 0.2 * amp * math.sin(ph), 1.0 + amp * math.cos(ph))
            for data in synth.phone_datagrams(fmt, dev, accel, (0.0, 0.0, 1.0), (amp * math.sin(ph), 0, 0), limb):
                sock.sendto(data, dest)
                sent.value += 1
        n += 1
        ticks.value = n
        delay = start + n / RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    sock.close()


def baseline(seconds: float) -> tuple[int, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    phones = Phones(sock.getsockname()[1])
    got = 0
    phones.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sock.recvfrom(65536)
            got += 1
        except TimeoutError:
            pass
    phones.stop()
    time.sleep(0.1)
    while True:
        try:
            sock.recvfrom(65536)
            got += 1
        except (TimeoutError, OSError):
            break
    sock.close()
    return phones.sent_datagrams, got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one minute")
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    minutes = 1.0 if args.quick else args.minutes
    print(f"motion_soak: {platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"4 phones × 100 Hz for {minutes:g} min")
    sent, got = baseline(min(20.0, minutes * 60 / 3))
    print(f"baseline: bare UDP socket received {got}/{sent} datagrams ({sent - got} lost by the machine)")

    # a 24-character server name makes libjack's clients abort in malloc (jack_lsp included): keep it short
    server = start_jack(f"copilot-soak-{os.getpid()}")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    osc_port = free_udp_port()
    config = Config({"motion": {"deck": "A"}})
    options = SessionOptions(target="midi-monitor", link=False, osc=None, midi_api="jack",
                             motion_osc=f"127.0.0.1:{osc_port}", log=None)
    host = TargetHost(config.targets(), plugins=[midi_monitor, motion_input], entry_points=False)
    session = Session(options, config, host=host, report=lambda m: None)
    session.start()
    cap = MidiCapture("Copilot Out", "copilot-bench-soak-capture")
    received = [0]
    stop_drain = threading.Event()

    def drain() -> None:  # keep the capture queue from growing: count and forget
        while not stop_drain.is_set():
            received[0] += len(cap.collect(count=500, timeout=0.2))

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    motion = session.inputs[0]
    tracemalloc.start()
    phones = Phones(osc_port)
    phones.start()
    samples = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < minutes * 60:
            time.sleep(10)
            st = motion.status()
            heap = tracemalloc.get_traced_memory()[0] / 2**20
            samples.append((time.monotonic() - t0, rss_mb(), heap, st["counts"]["accepted"], phones.ticks,
                            st["engine"]["frames"], received[0]))
            el, rss, hp, acc, ticks, frames, ccs = samples[-1]
            print(f"  {el:6.0f} s  RSS {rss:7.1f} MB  heap {hp:6.2f} MB  readings {acc}/{ticks * READINGS_PER_TICK}  "
                  f"frames {frames}  CCs {ccs}  frame p99 {st['engine']['frame_us_p99']:.0f} µs")
    finally:
        phones.stop()
        time.sleep(0.5)
        final = motion.status()
        stop_drain.set()
        drainer.join(1)
        cap.close()
        session.stop()
        stop_jack(server)
    counts = dict(final["counts"])
    accepted = counts.pop("accepted")
    expected = phones.ticks * READINGS_PER_TICK
    datagrams = sum(x["datagrams"] for x in final["listeners"])
    settled = [s for s in samples if s[0] >= min(60.0, minutes * 20)] or samples  # after the warm-up
    first = settled[0]
    arr = np.asarray(settled)
    slope_rss = np.polyfit(arr[:, 0], arr[:, 1], 1)[0] * 60 if len(arr) > 2 else float("nan")
    print(f"datagrams: sent {phones.sent_datagrams}, received {datagrams}; readings: expected {expected}, "
          f"accepted {accepted}, dropped {counts or 'none'}")
    print(f"memory: RSS {first[1]:.1f} → {samples[-1][1]:.1f} MB (trend {slope_rss:+.3f} MB/min), "
          f"Python heap {first[2]:.2f} → {samples[-1][2]:.2f} MB")
    ok_frames = accepted == expected and not counts
    ok_mem = samples[-1][2] - first[2] < 1.0 and samples[-1][1] - first[1] < 8.0
    print(f"goal: no dropped valid frames ({'met' if ok_frames else 'MISSED'}), no memory growth "
          f"({'met' if ok_mem else 'MISSED'})")


if __name__ == "__main__":
    main()
