"""The master chain (HPF → tilt → bus compressor → true-peak limiter), loudness matching and the
loudness meter, judged from rendered audio (generated tracks with known loudness)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

import copilot.engine as engine_pkg
from copilot.engine.config import engine_settings
from copilot.engine.engine import Engine
from copilot.engine.files import Track
from copilot.engine.state import EngineSettings, MasterSettings
from copilot.intents.schema import Deck, IntentKind
from copilot.phrase_db.loudness import integrated_lufs

from .test_engine_offline import SR, render, sample_of, session_for, submit, write_track

TARGET = -14.0


def music(seconds: float, lufs: float, seed: int = 0) -> np.ndarray:
    """Band-limited noise with a kick on every beat (120 BPM), scaled to an integrated loudness."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    noise = signal.sosfilt(signal.butter(2, [80, 6000], "bandpass", fs=SR, output="sos"), rng.standard_normal((n, 2)),
                           axis=0)
    kt = np.arange(int(0.15 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kt * 30)) * kt) * np.exp(-kt * 20)
    for b in range(0, n - kick.size, SR // 2):
        noise[b:b + kick.size] += 3 * noise.std() * kick[:, None]
    return noise * 10 ** ((lufs - integrated_lufs(noise, SR)) / 20)


def true_peak_db(x: np.ndarray) -> float:
    up = signal.resample_poly(x, 8, 1, axis=0)
    return float(20 * np.log10(np.max(np.abs(up))))


def plain_engine(audio: np.ndarray, **settings) -> Engine:
    eng = Engine(EngineSettings(samplerate=SR, keylock=False, **settings))
    eng.set_clock_map(0, 0.0, 2.0 / SR)
    eng.load(0, Track(Path("x"), np.ascontiguousarray(audio, np.float32), SR, 120.0))
    eng.control("crossfader", 0.0)
    eng.play(0)
    return eng


def run(eng: Engine, seconds: float, block: int = 64) -> np.ndarray:
    return np.concatenate([eng.render(block).copy() for _ in range(int(seconds * SR) // block)]).reshape(-1, 2)


@pytest.mark.parametrize(("analysed", "sidecar"), [(-20.0, True), (-8.0, True), (-20.0, False)])
def test_tracks_meet_at_the_loudness_target(tmp_path: Path, analysed: float, sidecar: bool) -> None:
    """Tracks analysed at −20 and −8 LUFS (and one measured on load) each play within ±1 LU of −14."""
    crate = tmp_path / "crate"
    crate.mkdir()
    path = write_track(crate, "t", music(12.0, analysed), bpm=120.0)
    if sidecar:  # the analysis's figure, as the phrase database's LOAD answer carries it
        path.with_suffix(".json").write_text(f'{{"title": "t", "bpm": 120.0, "beats": [0.0], "lufs": {analysed}}}')
    session, said = session_for(tmp_path, 120.0)
    session.start()
    submit(session, IntentKind.LOAD, Deck.A, query="t")
    submit(session, IntentKind.PLAY, Deck.A, at=4.0)
    session.targets[0].engine.control("crossfader", 0.0)  # deck A alone, full on
    out = render(session, 12.0)
    start = int(sample_of(session, 4.0)) + SR
    assert abs(integrated_lufs(out[start:], SR) - TARGET) <= 1.0
    assert any(f"to meet {TARGET:g} LUFS" in line for line in said)
    meter = session.targets[0].health()["short_term_lufs"]
    assert meter is not None and abs(meter - TARGET) <= 1.0  # what the stage view reads
    assert true_peak_db(out) <= -1.0


def test_the_chain_never_exceeds_minus_one_dbtp() -> None:
    hot = music(6.0, -2.0, seed=3)  # far too loud, with inter-sample overs
    out = run(plain_engine(hot, master=MasterSettings(tilt_db=3.0)), 6.0)
    assert true_peak_db(out) <= -1.0


def test_the_meter_reads_what_a_reference_meter_reads() -> None:
    audio = music(6.0, -16.0, seed=5)
    eng = plain_engine(audio, master=MasterSettings(enabled=False))
    out = run(eng, 5.0, block=512)
    reference = integrated_lufs(out[-3 * SR:], SR)  # the last 3 s: a short-term window, ungated on steady noise
    assert abs(eng.meters()["short_term_lufs"] - reference) <= 0.3
    assert abs(eng.meters()["momentary_lufs"] - integrated_lufs(out[-int(0.4 * SR):], SR)) <= 1.0


def test_hpf_tilt_and_compressor_do_their_jobs() -> None:
    t = np.arange(4 * SR) / SR

    def level(freq: float, amp: float, master: MasterSettings) -> float:
        tone = amp * np.sin(2 * np.pi * freq * t)
        out = run(plain_engine(np.stack([tone, tone], 1), master=master), 3.0)[-SR:, 0]
        return float(20 * np.log10(np.sqrt(np.mean(out**2)) / (amp / np.sqrt(2))))

    quiet = 0.05  # −29 dBFS RMS: under the compressor
    assert level(12.0, quiet, MasterSettings()) < -8.0  # subsonic: gone
    assert abs(level(100.0, quiet, MasterSettings())) < 0.3  # the music: untouched
    assert abs(level(12.0, quiet, MasterSettings(enabled=False))) < 0.3  # bypassed: nothing happens
    assert level(8000.0, quiet, MasterSettings(tilt_db=3.0)) > 2.0  # brighter above the pivot
    assert level(60.0, quiet, MasterSettings(tilt_db=3.0, hpf_hz=0.0)) < -2.0  # darker below it
    # 10 dB over a −20 dB threshold at 2:1, past the knee: 5 dB down (the limiter stays out of it)
    comp = MasterSettings(threshold_db=-20.0, knee_db=2.0, hpf_hz=0.0)
    assert abs(level(200.0, 10 ** (-10 / 20) * np.sqrt(2), comp) + 5.0) < 0.5


def test_panic_leaves_the_master_chain_alone() -> None:
    """PANIC resets the decks' FX and filters; the master chain (HPF, tilt, compressor, meter) runs on
    untouched, so a mix with nothing to reset sounds exactly as it would without the PANIC."""
    audio = music(4.0, -6.0, seed=7)
    master = MasterSettings(tilt_db=2.0, threshold_db=-20.0)
    a, b = plain_engine(audio, master=master), plain_engine(audio, master=master)
    first_a, first_b = run(a, 1.5), run(b, 1.5)
    assert np.array_equal(first_a, first_b)
    assert a.meters()["compressor_db"] < -1.0  # the compressor is working when PANIC comes
    b.panic()
    # PANIC splits the next sub-blocks where its (neutral) filter ramps end, and the compressor's gain
    # steps once per sub-block: a difference of the order of float32 rounding, 100 dB under the music
    assert np.max(np.abs(run(a, 1.0) - run(b, 1.0))) < 1e-5
    assert b.stats()["panics"] == 1
    ma, mb = a.meters(), b.meters()
    assert abs(ma["compressor_db"] - mb["compressor_db"]) < 1e-3
    assert abs(ma["short_term_lufs"] - mb["short_term_lufs"]) < 1e-3


def test_bad_settings_are_named_and_the_rest_kept() -> None:
    settings, problems = engine_settings({"keylock": "yes", "master": {"tilt_db": 9, "ratio": 3, "wobble": 1},
                                          "loudness": {"target_lufs": -12}})
    assert settings.master.tilt_db == 0.0 and settings.master.ratio == 3.0 and settings.target_lufs == -12.0
    assert settings.keylock is True
    assert problems == [
        "[targets.standalone] keylock = 'yes': must be true or false; kept the default",
        "[targets.standalone.master] tilt_db = 9: must be a number from -6 to 6 dB; kept the default",
        "[targets.standalone.master] has no setting 'wobble' (known: enabled, hpf_hz, tilt_db, tilt_hz, compressor, "
        "threshold_db, ratio, knee_db, attack_ms, release_ms, rms_ms, makeup_db)",
    ]


def test_the_master_table_names_every_setting() -> None:
    from dataclasses import fields

    from copilot.engine.config import MASTER

    assert set(MASTER) == {f.name for f in fields(MasterSettings)}


def test_kernel_sources_name_every_compiled_module() -> None:
    """The numba cache is dropped when these change: a module compiled into the kernels must be listed."""
    here = Path(engine_pkg.__file__).parent
    compiled = set()
    for path in here.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
                {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        if path.name != "__init__.py" and names & {"njit", "cfunc", "intrinsic"}:
            compiled.add(path.name)
    assert compiled <= set(engine_pkg.KERNEL_SOURCES), compiled


def test_layout_imports_nothing_of_the_engine() -> None:
    """layout.py holds the numbers everything else reads; an import from dsp, state or kernel would make
    a circle again (issue 11: layout ↔ dsp)."""
    tree = ast.parse((Path(engine_pkg.__file__).parent / "layout.py").read_text())
    relative = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    named = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith(
        "copilot.engine")]
    assert relative == [] and named == []
