"""Capture through a real PortAudio input on the JACK dummy server, and the ring/framer it uses."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from copilot.tests.fixtures_voice import say, silence
from copilot.voice.capture import Framer, Ring
from copilot.voice.vad import FRAME, RATE

PROBE = Path(__file__).with_name("voice_jack_probe.py")


def test_ring_hands_over_everything_in_order_and_counts_overruns() -> None:
    ring = Ring(seconds=1.0, rate=100)  # 100 samples
    buf = ring.buf
    for value in range(250):  # what the cfunc does, sample by sample
        buf[4 + value % 100] = value
        buf[0] = value + 1
        if value == 149:
            assert list(ring.take()) == list(range(150))[-100:]  # 50 lost while nobody read
            assert ring.dropped == 50
    assert list(ring.take()) == list(range(150, 250))
    assert ring.take().size == 0


def test_framer_resamples_to_16k_frames_stamped_with_capture_time() -> None:
    frames: list[tuple[np.ndarray, float]] = []
    framer = Framer(48000, lambda f, at: frames.append((f.copy(), at)))
    t = np.arange(48000) / 48000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    for k in range(10):  # 0.1 s blocks, the last sample of block k captured at k * 0.1 + 0.1
        framer.push(tone[k * 4800:(k + 1) * 4800], (k + 1) * 0.1)
    total = sum(f.size for f, _ in frames)
    assert all(f.size == FRAME for f, _ in frames)
    assert abs(total - RATE) <= FRAME + 200  # one second in, about one second out (less the filter delay)
    stamps = [at for _, at in frames]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert abs(stamps[-1] - 1.0) < 0.05
    spectrum = np.abs(np.fft.rfft(frames[10][0]))
    assert abs(np.argmax(spectrum) * RATE / FRAME - 440) < RATE / FRAME  # still a 440 Hz tone


@pytest.mark.jack
def test_commands_played_into_a_jack_input_are_captured_and_understood(jack_server, tmp_path: Path) -> None:
    import soundfile as sf

    wav = tmp_path / "commands.wav"
    audio = np.concatenate([silence(0.5), say("loop eight on deck A"), silence(1.0), say("sync deck B"),
                            silence(1.2)])
    sf.write(wav, audio, RATE)
    client = f"copilot-voice-probe-{os.getpid()}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, str(PROBE), client, str(wav), "12"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    intents = [h["intent"] for h in result["heard"]]
    assert intents == [{"kind": "LOOP", "deck": "A", "args": {"beats": 8.0}},
                       {"kind": "SYNC", "deck": "B", "args": {}}]
    assert result["frames_written"] >= 0.9 * 48000 * audio.size / RATE  # the cfunc ring saw it all
    assert result["status"]["dropped_samples"] == 0
    assert all(h["latency_ms"] < 2000 for h in result["heard"])
