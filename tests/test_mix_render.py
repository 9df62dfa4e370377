"""A bass swap heard in the rendered audio: `copilot run --out mix.wav --crate DIR --script set.txt` with two
generated tracks whose bass lines sit at different pitches (55 Hz and 82.4 Hz) and whose high signature
tones differ too. Judged from the WAV by band-limited analysis, never from copilot's own log: the swap
lands on a bar line, the two basses never sound together for more than one beat, and the outgoing
track is gone by the end of the 16 bars it was given."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from copilot.tests.fixtures_mix import BassTrack, band_levels, write_bass_track

TEMPO = 120.0
BEAT = 60.0 / TEMPO
ON = -20.0  # dB below a tone's loudest frame: above this it is sounding
GONE = -40.0
A = BassTrack("Low Roller", 55.0, 880.0, key="A minor", camelot="8A")
B = BassTrack("High Stepper", 82.41, 1300.0, key="E minor", camelot="9A")
SET = """\
0    load low roller to A
0    load high stepper to B
0.5  play A
2    bass swap into B in 16
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int, str]:
    folder = tmp_path_factory.mktemp("mix-render")
    crate = folder / "crate"
    crate.mkdir()
    for spec in (A, B):
        write_bass_track(crate, spec)
    (folder / "set.txt").write_text(SET)
    env = {**os.environ, "COPILOT_TRANSITIONS": str(folder / "learned"),
           "XDG_DATA_HOME": str(folder / "data")}  # no phrase database: the crate's sidecars
    done = subprocess.run([sys.executable, "-m", "copilot", "run", "--out", "mix.wav", "--crate", "crate",
                           "--script", "set.txt", "--duration", "56",
                           "--log", "session.jsonl"], cwd=folder, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    audio, sr = sf.read(folder / "mix.wav")
    return audio, sr, done.stdout


def test_the_bass_swap_lands_on_a_bar_line_and_the_basses_never_double(rendered) -> None:
    audio, sr, said = rendered
    assert "bass swap A→B over 16 bars" in said, said
    times, level = band_levels(audio, sr, {"a": A.bass_hz, "b": B.bass_hz}, hop=0.01)
    a_on, b_on = level["a"] > ON, level["b"] > ON
    # A's bass plays first, alone; B's bass comes in once, and from then on A's is gone
    first_b = times[np.argmax(b_on)]
    assert b_on.any() and not a_on[times > first_b + BEAT].any()
    assert a_on[(times > 4.0) & (times < first_b - BEAT)].all()
    # the swap: B's bass arrives within the first beat after a bar line (bars of 4 beats from beat 0)
    beat = first_b / BEAT
    bar_line = np.floor(beat / 4) * 4
    assert 0.0 <= beat - bar_line <= 1.0, f"B's bass arrived on beat {beat:.2f}, not just after a bar line"
    last_a = times[a_on].max()
    assert last_a < (bar_line + 1) * BEAT, "A's bass held on past the swap's beat"
    # both basses together for at most one beat (the window of the analysis counts against us)
    together = (a_on & b_on).sum() * 0.01
    assert together <= BEAT, f"both basses sounded together for {together / BEAT:.2f} beats"


def test_the_outgoing_track_is_gone_by_the_end_of_the_stated_bars(rendered) -> None:
    audio, sr, _ = rendered
    times, level = band_levels(audio, sr, {"bass": A.bass_hz, "signature": A.signature_hz,
                                           "in": B.signature_hz}, hop=0.01)
    # B becomes audible at all (50 dB down: the crossfader has barely left A) within two beats of the start
    b_heard = times[np.argmax(level["in"] > -50.0)] / BEAT
    start = round(b_heard / 4) * 4
    assert abs(b_heard - start) <= 2.0, f"B was first heard on beat {b_heard:.2f}, not at a bar line"
    end = (start + 16 * 4) * BEAT
    after = times > end + 0.1  # the analysis window reaches 85 ms back
    assert after.any()
    assert (level["bass"][after] < GONE).all() and (level["signature"][after] < GONE).all()
    # … and it was still there, fading, in the last four bars: gone by the end, not long before
    fading = (times > end - 8 * BEAT) & (times < end - 4 * BEAT)
    assert (level["signature"][fading] > GONE).any()
