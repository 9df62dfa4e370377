"""Adornments: one-shots from a folder land on the grid — an impact on the phrase downbeat, a riser
ending exactly on it — gain-staged under the limiter; junk files are skipped with a message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from copilot.bridge.actions import Action, ActionKind
from copilot.bridge.clock import ManualClock
from copilot.engine.adorn import Adorner
from copilot.engine.control import EngineCmd
from copilot.engine.engine import Engine
from copilot.engine.offline import render_offline
from copilot.engine.state import EngineSettings

SR = 48000
TEMPO = 125.0


def folder_of_one_shots(tmp_path: Path, impact: bool = True, name: str = "fx") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    if impact:
        n = SR // 2
        hit = np.cos(2 * np.pi * 80 * np.arange(n) / SR) * np.exp(-np.arange(n) / 4000)  # starts at full level
        sf.write(folder / "Impact 01.wav", np.stack([hit, hit], axis=1) * 0.5, SR)
    sweep = np.linspace(0.05, 0.8, SR) * np.sin(2 * np.pi * 3000 * np.arange(SR) / SR)
    riser = np.stack([sweep, sweep], axis=1)
    sf.write(folder / "riser-long.wav", riser, 44100)  # another rate: resampled on load
    (folder / "broken.wav").write_bytes(b"not audio at all")
    return folder


def test_impacts_land_on_the_phrase_downbeat_and_risers_end_on_it(tmp_path: Path) -> None:
    said: list[str] = []
    engine = Engine(EngineSettings(samplerate=SR))
    clock = ManualClock(TEMPO)
    clock.advance(20 * 60 / TEMPO)  # beat 20: the next phrase starts on beat 32
    adorner = Adorner(engine, clock, folder_of_one_shots(tmp_path), said.append, {"gain_db": -6.0})
    assert any("broken.wav" in m for m in said)  # skipped, and said so
    assert sorted(adorner.samples) == ["impact 01", "riser-long"]

    def advance(until: float) -> None:
        clock.advance(max(0.0, until - clock.now()))
        adorner.tick()

    t0 = clock.now()
    out = render_offline(engine, clock, 14 * 60 / TEMPO, advance, block=256)
    x = out[:, 0]
    # the same run without the impact: the difference is the impact alone
    engine2 = Engine(EngineSettings(samplerate=SR))
    clock = ManualClock(TEMPO)
    clock.advance(20 * 60 / TEMPO)
    adorner = Adorner(engine2, clock, folder_of_one_shots(tmp_path, impact=False, name="risers"), said.append,
                      {"gain_db": -6.0})
    impact_only = x - render_offline(engine2, clock, 14 * 60 / TEMPO, advance, block=256)[:, 0]
    downbeat = round((clock.time_at_beat(32.0) - t0) * SR)
    riser_len = round(SR * SR / 44100)  # 1 s at 44.1 kHz becomes this many samples at 48 kHz
    riser_start = downbeat - riser_len
    assert np.abs(x[: riser_start - 5]).max() < 1e-9  # nothing before the riser
    assert abs(int(np.flatnonzero(np.abs(x) > 1e-4)[0]) - riser_start) <= 2
    # just before the downbeat the riser is loud and high; at the downbeat the 80 Hz impact starts
    before = x[downbeat - 2400:downbeat]
    after = x[downbeat + 100:downbeat + 4900]
    spectrum = np.abs(np.fft.rfft(after))
    freqs = np.fft.rfftfreq(after.size, 1 / SR)
    assert spectrum[(freqs > 60) & (freqs < 100)].sum() > spectrum[(freqs > 2500) & (freqs < 3500)].sum()
    assert np.abs(before).max() > 0.1
    assert abs(int(np.flatnonzero(np.abs(impact_only) > 0.01)[0]) - downbeat) <= 1
    # gain-staged: −6 dB one-shots never push the master past the limiter's ceiling
    assert np.abs(out).max() <= 10 ** (-1.0 / 20)


def test_a_drop_routed_to_the_adornments_plays_the_impact_on_its_beat(tmp_path: Path) -> None:
    engine = Engine(EngineSettings(samplerate=SR))
    adorner = Adorner(engine, ManualClock(TEMPO), folder_of_one_shots(tmp_path), lambda _m: None,
                      {"pattern": False})
    items = adorner.render(Action(ActionKind.DROP, None, 64.0))
    assert len(items) == 1 and items[0].beat == 64.0
    cmd = items[0].payload
    assert isinstance(cmd, EngineCmd) and cmd.op == "oneshot"
    assert cmd.args[0] == adorner.samples["impact 01"][0]
    named = adorner.render(Action(ActionKind.FX, None, 65.0, params={"name": "riser", "amount": 0.5}))
    assert named[0].payload.args == (adorner.samples["riser-long"][0], adorner.gain * 0.5)
    assert adorner.render(Action(ActionKind.FX, None, 65.0, params={"name": "flanger", "amount": 1.0})) == []
