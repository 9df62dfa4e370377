"""Analysis throughput per core (goal ≥ 30× real time), against plain librosa in the same run.

    python bench/phrase_analysis.py            # 4 generated tracks of ~3½ minutes
    python bench/phrase_analysis.py --quick    # 1 track of ~1½ minutes

One process, one thread (BLAS/OpenMP pinned to 1): seconds of audio analysed per second of CPU is
the per-core figure; `copilot db analyze` runs one such worker per core. Each track goes through the
whole of `analyze_file` (decode, resample, beatgrid, key, phrases, LUFS, embeddings, tags).
Baseline, same audio: librosa's own beat tracker plus CQT chroma (what one would write first),
with its tempo error next to ours.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from copilot.engine.example_crate import write_track  # noqa: E402
from copilot.engine.example_synth import DEFAULT_SECTIONS, Section, TrackSpec  # noqa: E402
from copilot.phrase_db.analysis import analyze_file  # noqa: E402
from copilot.phrase_db.audio import load_audio, resample  # noqa: E402


def librosa_baseline(path: Path) -> tuple[float, float]:
    """(seconds, bpm) for librosa.beat.beat_track + chroma_cqt on the same file."""
    import librosa

    started = time.process_time()
    _, sr, mono = load_audio(path)
    y = resample(mono, sr, 22050)
    tempo, _ = librosa.beat.beat_track(y=y, sr=22050)
    librosa.feature.chroma_cqt(y=y, sr=22050, hop_length=4096)
    return time.process_time() - started, float(np.atleast_1d(tempo)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one short track")
    args = ap.parse_args()
    bpms = [121.37] if args.quick else [118.0, 122.5, 126.7, 127.93]
    sections = (Section("intro", 8), Section("drop", 16), Section("break", 8), Section("outro", 8)) \
        if args.quick else DEFAULT_SECTIONS
    folder = Path(tempfile.mkdtemp(prefix="phrase-bench-"))
    tracks = []
    for i, bpm in enumerate(bpms):
        spec = TrackSpec(f"Bench {i}", "bench", bpm, ("A", "F", "C", "G")[i % 4], ("minor", "major")[i % 2],
                         seed=900 + i, sections=sections)
        path = folder / f"{i}.flac"
        tracks.append((path, write_track(path, spec)))

    analyze_file(tracks[0][0])  # warm-up: imports, filter banks
    librosa_baseline(tracks[0][0])  # warm-up: numba compiles the beat tracker

    ours, theirs, ratios, errors, base_errors = [], [], [], [], []
    for path, truth in tracks:
        started = time.process_time()
        result = analyze_file(path)
        cpu = time.process_time() - started
        ours.append(cpu)
        ratios.append(truth["duration"] / cpu)
        errors.append(abs(result.grid.bpm - truth["bpm"]))
        base_cpu, base_bpm = librosa_baseline(path)
        theirs.append(base_cpu)
        base_errors.append(abs(base_bpm - truth["bpm"]))

    audio = sum(t["duration"] for _, t in tracks)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"tracks: {len(tracks)}, {audio:.0f} s of audio, one thread")
    print(f"copilot analyze_file: CPU s per track median {np.median(ours):.2f}, p99 {np.percentile(ours, 99):.2f}; "
          f"real time per core median {np.median(ratios):.0f}×, worst {min(ratios):.0f}× (goal ≥ 30×)")
    print(f"   tempo error max {max(errors):.4f} BPM")
    print(f"baseline librosa beat_track + chroma_cqt: CPU s per track median {np.median(theirs):.2f}, "
          f"p99 {np.percentile(theirs, 99):.2f}; tempo error max {max(base_errors):.3f} BPM")
    print(f"ratio baseline/copilot CPU time: {np.median(theirs) / np.median(ours):.2f}")


if __name__ == "__main__":
    main()
