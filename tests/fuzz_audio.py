"""Fuzzing the front door for audio files: random, truncated, bit-flipped, header-poisoned and mislabelled
bytes into the decoder and both fronts behind it (the phrase DB's `analyze_file`, the engine's
`load_track`). Every input must end in a result or in one clear line (`CorruptFile`, `AnalysisError`,
`TrackError`: one line that names the file), never another exception and never a hang.

    python -m copilot.tests.fuzz_audio --count 10000 --seed 1     # prints one JSON report line

Run as its own process so a hang is a timeout the caller sees, not a frozen test run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".mp3", ".wave", ".oga", ".aif")
SLOW_SUFFIXES = (".m4a",)  # decoded by ffmpeg: a few of them only
RATE = 44100


def seeds(rng: np.random.Generator, seconds: float = 0.6) -> dict[str, bytes]:
    """Valid files of every format libsndfile writes here (short ones stop the analysis early; a few
    `seconds`=6 ones go all the way through the beat grid and the phrases)."""
    t = np.arange(int(seconds * RATE)) / RATE
    beats = np.zeros_like(t)
    burst = np.sin(2 * np.pi * 300 * t[:2000]) * np.hanning(2000)
    for start in range(0, len(t) - 2000, RATE // 2):  # a kick-like burst every beat at 120 BPM
        beats[start:start + 2000] += 0.8 * burst
    audio = np.stack([0.1 * np.sin(2 * np.pi * 220 * t) + beats, beats + 0.02 * rng.standard_normal(len(t))], axis=1)
    out = {}
    for name, fmt, subtype in (("wav16", "WAV", "PCM_16"), ("wav24", "WAV", "PCM_24"), ("wavf", "WAV", "FLOAT"),
                               ("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"), ("aiff", "AIFF", "PCM_16"),
                               ("mp3", "MP3", "MPEG_LAYER_III")):
        buf = io.BytesIO()
        try:
            sf.write(buf, audio.astype(np.float32), RATE, format=fmt, subtype=subtype)
        except Exception:  # noqa: BLE001 - a libsndfile without this format: fuzz the others
            continue
        out[name] = buf.getvalue()
    return out


def _wav_header(rate: int, channels: int, bits: int, frames: int, fmt: int = 1) -> bytes:
    data = frames * channels * bits // 8
    return (b"RIFF" + struct.pack("<I", (36 + data) & 0xFFFFFFFF) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, fmt, channels & 0xFFFF, rate & 0xFFFFFFFF, (rate * channels * bits // 8) & 0xFFFFFFFF,
        (channels * bits // 8) & 0xFFFF, bits & 0xFFFF) + b"data" + struct.pack("<I", data & 0xFFFFFFFF))


def inputs(rng: np.random.Generator, count: int, base: dict[str, bytes]) -> Iterator[tuple[str, bytes]]:
    """(suffix, bytes) × count: each kind of damage in turn."""
    names = sorted(base)
    extremes = (0, 1, 7, 44100, 65535, 0x7FFFFFFF, 0xFFFFFFFF)

    def pick() -> bytes:
        return base[names[int(rng.integers(len(names)))]]

    kinds: list[Callable[[], bytes]] = [
        lambda: rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes(),  # noise
        lambda: (b := pick())[: int(rng.integers(0, len(b)))],  # truncated anywhere
        lambda: (b := pick())[: int(rng.integers(0, min(len(b), 256)))],  # truncated in the header
        lambda: _flip(rng, pick(), int(rng.integers(1, 16))),  # bit flips
        lambda: _flip(rng, pick(), int(rng.integers(1, 8)), header=64),  # bit flips in the header
        lambda: _splice(rng, pick()),  # a chunk cut out or doubled
        lambda: _wav_header(int(rng.choice(extremes)), int(rng.choice((0, 1, 2, 3, 255, 65535))),
                            int(rng.choice((0, 1, 8, 16, 24, 32, 64, 65535))), int(rng.choice(extremes)),
                            int(rng.choice((1, 3, 0xFFFE, 0, 7, 0x55)))) + rng.integers(
            0, 256, int(rng.integers(0, 2048)), dtype=np.uint8).tobytes(),  # poisoned WAV header
        lambda: pick() + rng.integers(0, 256, int(rng.integers(1, 512)), dtype=np.uint8).tobytes(),  # trailing junk
        lambda: b"",  # empty
    ]
    for i in range(count):
        data = kinds[i % len(kinds)]()
        suffix = SUFFIXES[int(rng.integers(len(SUFFIXES)))]  # mislabelled more often than not
        yield suffix, data


def _flip(rng: np.random.Generator, data: bytes, n: int, header: int | None = None) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    span = min(len(b), header or len(b))
    for _ in range(n):
        at = int(rng.integers(span))
        b[at] ^= 1 << int(rng.integers(8))
    return bytes(b)


def _splice(rng: np.random.Generator, data: bytes) -> bytes:
    if len(data) < 8:
        return data
    a, b = sorted(int(x) for x in rng.integers(0, len(data), 2))
    return data[:a] + data[b:] if rng.random() < 0.5 else data[:b] + data[a:b] + data[b:]


def check(path: Path, reasons: Counter[str] | None = None) -> tuple[str, float]:
    """The decoder, then (for what decodes) both fronts behind it: ('ok'|'refused', seconds). Raises on
    anything that is not one clear line; counts the refusals' reasons (numbers and names left out)."""
    from copilot.engine.files import TrackError, load_track
    from copilot.phrase_db.analysis import analyze_file
    from copilot.phrase_db.audio import CorruptFile, read_audio
    from copilot.phrase_db.beatgrid import AnalysisError

    t0 = time.perf_counter()
    fronts = [lambda: analyze_file(path), lambda: load_track(path, 48000)]
    try:
        read_audio(path)
    except CorruptFile as exc:
        _one_line(path, exc, reasons)  # what both fronts say too (they read through it): no need to decode again
        return "refused", time.perf_counter() - t0
    outcome = "ok"
    for front in fronts:
        try:
            front()
        except (CorruptFile, AnalysisError, TrackError) as exc:
            _one_line(path, exc, reasons)
            outcome = "refused"
    return outcome, time.perf_counter() - t0


def _one_line(path: Path, exc: Exception, reasons: Counter[str] | None) -> None:
    message = str(exc)
    if not message or "\n" in message or "Traceback" in message:
        raise AssertionError(f"{path.name}: not one clear line: {message!r}") from None
    if reasons is not None:
        reasons[re.sub(r"[\d.]+", "N", message.replace(path.name, "FILE"))[:70]] += 1


def run(count: int, seed: int, slow: int = 20, deep: int = 40) -> dict[str, object]:
    """`count` inputs from short seeds, `slow` of them again as .m4a (ffmpeg), `deep` from 6-s seeds."""
    rng = np.random.default_rng(seed)
    base = seeds(rng)
    long = {k: v for k, v in seeds(rng, 6.0).items() if k in ("wav16", "flac")}
    folder = Path(tempfile.mkdtemp(prefix="copilot-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures: list[str] = []
    slowest = (0.0, "")
    started = time.perf_counter()
    try:
        cases = list(inputs(rng, count, base))
        cases += [(SLOW_SUFFIXES[0], data) for _, data in cases[:slow]]  # the ffmpeg path, a few times
        cases += [case for i, case in enumerate(inputs(rng, 9 * deep, long)) if i % 9 in (1, 3, 5, 7)][:deep]
        for i, (suffix, data) in enumerate(cases):
            path = folder / f"case{i}{suffix}"
            path.write_bytes(data)
            try:
                outcome, seconds = check(path, reasons)
            except Exception as exc:  # noqa: BLE001 - the finding itself
                failures.append(f"case {i} ({suffix}, {len(data)} bytes): {type(exc).__name__}: {exc}"[:300])
                outcome, seconds = "failed", 0.0
            outcomes[outcome] += 1
            slowest = max(slowest, (seconds, f"case {i}{suffix}"))
            path.unlink()
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    return {"inputs": len(cases), "outcomes": dict(outcomes), "failures": failures[:20],
            "reasons": dict(reasons.most_common(12)),
            "slowest_s": round(slowest[0], 3), "slowest": slowest[1],
            "seconds": round(time.perf_counter() - started, 1), "formats": sorted(base)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(json.dumps(run(args.count, args.seed)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
