"""Intent accuracy of the voice path on the espeak-ng corpus, clean and over music.

    python bench/voice_accuracy.py            # full corpus (≈ 400 transcriptions)
    python bench/voice_accuracy.py --quick    # every 4th clip

Prints, for the shipped settings, for the same transcriptions understood from Whisper's readings
alone (no grammar-constrained rescue), and for a baseline measured in the same run (faster-whisper
as it comes: 30 s window, greedy, no prompt, same grammar): intent accuracy (kind + every slot
right) on commands, false accepts on non-commands, wrong accepts on commands (the dangerous kind of
error), ASR time median/p99, the time the constrained rescue adds when it runs, and the accuracy
per voice and per intent kind. `--snr` adds noise levels.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections import defaultdict

from copilot.tests import voice_corpus as corpus
from copilot.tests.fixtures_voice import TITLES, same_intent
from copilot.voice.asr import Transcriber
from copilot.voice.understand import understand

BINS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.01)


def run(transcriber: Transcriber, clips: list[corpus.Clip], snr: float | None,
        constrained: bool = True) -> dict:
    rows = []
    scored: list[tuple[float, bool]] = []  # (confidence, right) of every best reading, sent or not
    rescue_s: list[float] = []  # time the constrained rescue added, where it ran
    for n, clip in enumerate(clips):
        audio = corpus.audio_of(clip)
        if snr is not None:
            audio = corpus.mix_music(audio, snr, seed=n)
        transcript = transcriber.transcribe(audio)
        t0 = time.perf_counter()
        free = understand(transcript, titles=TITLES, threshold=0.0, constrained=False)
        t1 = time.perf_counter()
        unfiltered = understand(transcript, titles=TITLES, threshold=0.0, constrained=constrained)
        if constrained and free.confidence < 0.5:
            rescue_s.append(time.perf_counter() - t1 - (t1 - t0))
        result = unfiltered if unfiltered.confidence >= 0.5 else None
        got = result.to_dict()["intent"] if result is not None else None
        rows.append((clip, got, transcript.latency_s, transcript.text, unfiltered.confidence))
        if unfiltered.intent is not None:  # for the reliability table
            scored.append((unfiltered.confidence, same_intent(clip.expected, unfiltered.to_dict()["intent"])))
    commands = [r for r in rows if r[0].expected is not None]
    others = [r for r in rows if r[0].expected is None]
    right = [r for r in commands if same_intent(r[0].expected, r[1])]
    wrong = [r for r in commands if r[1] is not None and not same_intent(r[0].expected, r[1])]
    by_voice: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for clip, got, *_ in commands:
        ok = same_intent(clip.expected, got)
        by_voice[clip.voice][0] += ok
        by_voice[clip.voice][1] += 1
        by_kind[clip.group][0] += ok
        by_kind[clip.group][1] += 1
    asr = sorted(r[2] for r in rows)
    return {
        "accuracy": len(right) / max(1, len(commands)),
        "false_accepts": sum(r[1] is not None for r in others) / max(1, len(others)),
        "wrong_accepts": len(wrong) / max(1, len(commands)),
        "asr_p50_ms": statistics.median(asr) * 1000,
        "asr_p99_ms": asr[min(len(asr) - 1, int(0.99 * len(asr)))] * 1000,
        "by_voice": dict(by_voice),
        "by_kind": dict(by_kind),
        "n": (len(commands), len(others)),
        "wrong": [(r[0].text, r[3], r[1]) for r in wrong],
        "reliability": [(lo, hi, [ok for c, ok in scored if lo <= c < hi]) for lo, hi in itertools.pairwise(BINS)],
        "rescues": sorted(rescue_s),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every 4th clip")
    ap.add_argument("--snr", type=float, nargs="*", default=[10.0], help="music levels in dB SNR (default 10)")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    if not corpus.have_espeak():
        sys.exit("espeak-ng is needed to speak the corpus (apt-get install espeak-ng)")
    clips = corpus.clips()[:: 4 if args.quick else 1]
    shipped = Transcriber(titles=TITLES)
    shipped.warm_up()
    setups = [("shipped (10 s window, beam 5, prompt, N-best grammar + rescue)", shipped, True),
              ("readings alone (same, no constrained rescue)", shipped, False)]
    if not args.no_baseline:
        baseline = Transcriber(window_s=30.0, beam_size=1, prompt=False)
        baseline.warm_up()
        setups.append(("baseline (30 s window, greedy, no prompt)", baseline, False))
    print(f"voice accuracy · {len(clips)} clips · {time.strftime('%Y-%m-%d %H:%M')}")
    results = {}
    for name, transcriber, constrained in setups:
        for snr in [None, *args.snr]:
            label = "clean" if snr is None else f"{snr:g} dB SNR"
            r = run(transcriber, clips, snr, constrained)
            results[(name, label)] = r
            print(f"{name:62s} {label:>11s}: accuracy {r['accuracy']:6.1%}  false accepts {r['false_accepts']:5.1%}"
                  f"  wrong accepts {r['wrong_accepts']:5.1%}  ASR p50 {r['asr_p50_ms']:5.0f} ms"
                  f"  p99 {r['asr_p99_ms']:5.0f} ms  (n={r['n'][0]}+{r['n'][1]})")
            if r["rescues"]:
                res = r["rescues"]
                print(f"{'':62s} {'':>11s}  constrained rescue ran on {len(res)} clips: added p50 "
                      f"{statistics.median(res) * 1000:4.0f} ms, p95 {res[int(0.95 * (len(res) - 1))] * 1000:4.0f} ms")
    first = results[(setups[0][0], "clean")]
    if len(setups) > 2:
        base = results[(setups[2][0], "clean")]
        print(f"ratio shipped/baseline (clean): accuracy ×{first['accuracy'] / max(base['accuracy'], 1e-9):.2f}, "
              f"ASR time ×{first['asr_p50_ms'] / base['asr_p50_ms']:.2f}")
    print("reliability (clean; every best reading, sent or not): confidence bin → share right")
    for lo, hi, oks in first["reliability"]:
        share = f"{sum(oks) / len(oks):5.1%}" if oks else "    –"
        print(f"  {lo:4.2f}–{min(hi, 1.0):4.2f}: {share} of {len(oks)}")
    print("per voice (clean):", {v: f"{a}/{n}" for v, (a, n) in sorted(first["by_voice"].items())})
    print("per kind (clean): ", {k: f"{a}/{n}" for k, (a, n) in sorted(first["by_kind"].items())})
    for text, heard, got in first["wrong"]:
        print(f"  wrong accept: said {text!r}, heard {heard!r} → {got}")


if __name__ == "__main__":
    main()
