"""The engine on a real PortAudio stream (JACK dummy server, 48 kHz / 64 frames): the cfunc callback
survives a Python thread hogging the GIL for a whole minute, and its beat map follows the clock."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from copilot.bridge.clock import InternalClock
from copilot.engine.engine import Engine
from copilot.engine.files import Track
from copilot.engine.layout import K_B0, S_TIME_IDX, TIMES
from copilot.engine.state import EngineSettings
from copilot.engine.stream import EngineStream, clock_offset

SR = 48000
SECONDS = float(os.environ.get("COPILOT_ENGINE_RT_SECONDS", "60"))
BUDGET_US = 64 / SR * 1e6  # one 64-frame period


def reinit_portaudio(jack: bool) -> None:
    """PortAudio reads JACK's server name once, at initialisation; JACK may go away before exit."""
    import sounddevice as sd

    sd._terminate()
    if jack:
        sd._initialize()
        return
    # Leave PortAudio initialised but without a JACK client: its exit handler would otherwise
    # assert when the fixture has already stopped the server.
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = "copilot-no-such-server"
    try:
        sd._initialize()
    finally:
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved


def jack_output_device() -> int:
    import sounddevice as sd

    reinit_portaudio(jack=True)  # it was initialised before the fixture pointed it at our server
    for api in sd.query_hostapis():
        if "JACK" in api["name"] and api["default_output_device"] >= 0:
            return int(api["default_output_device"])
    pytest.skip("PortAudio has no JACK host API here (libportaudio2 built without JACK)")
    raise AssertionError


def driver_xruns(log: Path) -> int:
    """XRuns the JACK server itself reported (its dummy driver logs each late wake-up)."""
    try:
        return log.read_text(errors="replace").count("XRun")
    except OSError:
        return 0


class CallbackWatch:
    """Every callback's duration and the longest gap between callback starts, from the kernel's own log
    (polled often enough that its ring never laps)."""

    def __init__(self, eng: Engine) -> None:
        self.eng = eng
        self.seen = 0
        self.durations: list[np.ndarray] = []
        self.gap = 0.0

    def poll(self) -> None:
        times = self.eng.state["times"].reshape(TIMES, 3)
        end = int(self.eng.state["stats"][S_TIME_IDX])
        idx = np.arange(max(self.seen, end - TIMES + 1), end) % TIMES
        if idx.size > 1:
            self.durations.append(times[idx, 1] / 1e3)
            self.gap = max(self.gap, float(np.diff(times[idx, 0]).max()) / 1e3)
        self.seen = end

    def us(self) -> np.ndarray:
        return np.concatenate(self.durations) if self.durations else np.zeros(1)

    def report(self) -> str:
        us = self.us()
        return (f"callbacks p99 {np.percentile(us, 99):.0f} µs, p99.9 {np.percentile(us, 99.9):.0f} µs, "
                f"longest {us.max():.0f} µs, "
                f"over half the budget {int(np.sum(us > 0.5 * BUDGET_US))}; "
                f"longest gap between callbacks {self.gap:.0f} µs")


def full_graph() -> Engine:
    """Two decks playing with every stage busy: varispeed, loop, EQ, filter, echo, reverb, limiter."""
    eng = Engine(EngineSettings(samplerate=SR))
    rng = np.random.default_rng(1)
    t = np.arange(SR * 20) / SR
    for d, bpm in enumerate((118.0, 126.0)):
        x = 0.3 * np.sin(2 * np.pi * (110 + 50 * d) * t) + 0.1 * rng.standard_normal(t.size)
        eng.load(d, Track(Path(f"deck{d}"), np.stack([x, x], axis=1).astype(np.float32), SR, bpm))
        eng.play(d)
        eng.fx(d, "echo" if d == 0 else "reverb", 0.5)
        eng.control("fx_send", 0.3, d)
        eng.control("eq_low", 0.2, d)
    eng.loop(1, 4.0)
    eng.control("room", 0.2)
    return eng


@pytest.mark.jack
@pytest.mark.slow
def test_a_minute_of_the_full_graph_at_64_frames_with_the_gil_hogged_causes_no_underflow(jack_server) -> None:
    device = jack_output_device()
    eng = full_graph()
    clock = InternalClock(124.0)
    stream = EngineStream(eng, clock, device=device, blocksize=64)
    stop = threading.Event()

    def hog() -> None:  # pure Python: holds the GIL except at the interpreter's switch points
        x = 0
        while not stop.is_set():
            for _ in range(100_000):
                x += 1

    driver_xruns_before = driver_xruns(jack_server.log)
    stream.open()
    hogger = threading.Thread(target=hog, daemon=True)
    hogger.start()
    try:
        t_end = time.monotonic() + SECONDS
        sweep = 0
        watch = CallbackWatch(eng)
        beats_error = []
        while time.monotonic() < t_end:  # the dispatch side keeps writing automation meanwhile
            beat = clock.beat + 1.0
            eng.envelope("filter", [(beat, 0.5), (beat + 2.0, 0.2 + 0.6 * (sweep % 2))], sweep % 2)
            sweep += 1
            time.sleep(0.25)
            watch.poll()
            # the kernel's beat against the clock's, at the speaker, four times a second all minute long
            # against the block's start on the audio clock (the earliest callbacks' line, what the
            # feeder maps) and against the moment its callback really started (late on a stalled VM)
            offset = clock_offset(eng)
            i = int(eng.state["stats"][S_TIME_IDX]) - 1
            t_ns, _dur, first = eng.state["times"].reshape(TIMES, 3)[i % TIMES]
            b0 = eng.state["beat"][K_B0]
            if int(eng.state["stats"][S_TIME_IDX]) - 1 == i and offset is not None:
                ahead = stream.latency + eng.latency_samples / SR
                beats_error.append((b0 - clock.beat_at_time(offset + first / SR + ahead),
                                    b0 - clock.beat_at_time(t_ns * 1e-9 + ahead)))
    finally:
        stop.set()
        hogger.join(2)
        stream.close()
        reinit_portaudio(jack=False)
    stats = eng.stats()
    expected = SECONDS * SR / 64
    assert stats["callbacks"] > 0.97 * expected  # the stream really ran the whole time
    # JACK's dummy driver flags a cycle as an xrun when its own timer wakes even 3 µs late (seen on
    # this VM with no client at all), and PortAudio reports every such xrun as an output underflow.
    # So: the engine never comes near its 1,333 µs budget, and every underflow is one the driver
    # itself reported — none is ours. On a machine with an exact timer that means 0.
    # Durations are wall clock: on a shared VM a render can be preempted mid-way (seen: one 1.5 ms
    # render among 45,000 of ~5 µs; on a busy CI host 12 over half the budget and a p99.9 of 191 µs, with
    # the driver itself 12.9 ms late). The engine's own cost is the distribution: its p99 must stay far
    # inside the budget and at most one render in a thousand (the preempted ones) may stand out. A
    # callback that waited for the hog's GIL would wait a switch interval (5 ms) every time, not 0.1 %.
    xruns = driver_xruns(jack_server.log) - driver_xruns_before
    us = watch.us()
    assert us.size > 0.9 * stats["callbacks"], (us.size, stats)  # the watch saw (nearly) every render
    assert np.percentile(us, 99) < 0.1 * BUDGET_US, (stats, watch.report())
    preempted = int(np.sum(us > 0.5 * BUDGET_US))
    assert preempted <= max(5, us.size // 1000), (stats, watch.report())
    assert stats["overruns"] <= preempted, (stats, watch.report())
    assert stats["underflows"] <= xruns + stats["overruns"], (stats, f"driver xruns {xruns}", watch.report())
    assert stats["nonfinite"] == 0 and stats["ring_dropped"] == 0
    # The map follows the clock all minute. Measured from when a callback started, a stalled VM's late
    # callbacks read as the map lagging (seen on CI: 13 ms for the last 0.2 s of a run), so the map is
    # judged against the audio clock's own line, and against the start only for never leading.
    ms = np.array(beats_error) * 60.0 / clock.tempo * 1000.0
    on_audio_clock, at_start = np.abs(ms[:, 0]), ms[:, 1]
    assert len(ms) > SECONDS, len(ms)  # (four a second, less the ones a callback raced)
    # centred (a wrong latency or look-ahead term shifts every block by ≥ 1.3 ms) and tight (measured
    # on a quiet run: median 0.001 ms, p95 0.7 ms, the rest the kernel's slew toward a moved map)
    spread = np.percentile(on_audio_clock, [50, 90, 95, 99, 100])
    assert spread[0] < 0.5 and spread[1] < 2.0, spread
    # a late callback makes its block sound late, never early: the map does not lead the clock
    assert abs(np.median(at_start)) < 0.5 and at_start.max() < 2.0, np.percentile(at_start, [0, 1, 50, 99, 100])
