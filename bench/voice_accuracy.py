"""Intent accuracy of the voice path per voice family and listening condition.

    python bench/voice_accuracy.py                 # espeak, flite, Piper × clean, music 20/10/5 dB, crowd 10 dB
    python bench/voice_accuracy.py --quick         # one clip in 4 (every voice still in it)
    python bench/voice_accuracy.py --families piper --conditions clean music:10

The corpus (tests/voice_corpus.py: ≥ 150 commands over every intent kind, 50 non-commands) is said by
each family of test-time voices (tests/voice_tts.py): espeak-ng (formant), flite (diphone and
clustergen), Piper (neural). For every family × condition, with the shipped settings: intent accuracy
(kind + every slot right) on commands, wrong accepts on commands (the dangerous error), false accepts
on non-commands, and the time from the end of the audio to the decision (Whisper + grammar + rescue,
median/p99: the part of "end of speech → decision" that is not the end-pointer's wait; see
bench/voice_latency.py for the whole of it in real time). The same transcriptions understood from
Whisper's readings alone (no grammar-constrained rescue) are shown beside; the baseline — faster-whisper
as it comes (30 s window, greedy, no prompt, same grammar) — is transcribed in the same run on the
clean clips. Per voice and per intent kind at the end, so no voice hides behind its family's mean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from copilot.tests import voice_corpus as corpus
from copilot.tests import voice_tts
from copilot.tests.fixtures_voice import TITLES, same_intent
from copilot.voice.asr import Transcriber
from copilot.voice.enroll import PROMPTS, learn
from copilot.voice.understand import understand

CONDITIONS = ("clean", "music:20", "music:10", "music:5", "crowd:10")


@dataclass
class Tally:
    commands: int = 0
    right: int = 0
    wrong: int = 0
    others: int = 0
    false: int = 0
    free_right: int = 0
    decide_s: list[float] = field(default_factory=list)
    by_voice: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[tuple[str, str, object]] = field(default_factory=list)

    def line(self) -> str:
        d = sorted(self.decide_s)
        p99 = d[min(len(d) - 1, int(0.99 * len(d)))]
        return (f"accuracy {self.right / self.commands:6.1%}  wrong accepts {self.wrong / self.commands:5.1%}  "
                f"false accepts {self.false / max(1, self.others):5.1%}  readings alone "
                f"{self.free_right / self.commands:6.1%}  decision p50 {statistics.median(d) * 1000:4.0f} ms "
                f"p99 {p99 * 1000:4.0f} ms  (n={self.commands}+{self.others})")


def run(transcriber: Transcriber, clips: list[tuple[int, corpus.Clip]], cond: corpus.Condition,
        enrolled: dict[str, dict[str, str]] | None = None) -> Tally:
    tally = Tally()
    for n, clip in clips:
        audio = corpus.condition(corpus.audio_of(clip), cond, seed=n)
        aliases = (enrolled or {}).get(clip.voice)
        t0 = time.perf_counter()
        transcript = transcriber.transcribe(audio)
        result = understand(transcript, aliases, titles=TITLES)
        tally.decide_s.append(time.perf_counter() - t0)
        free = understand(transcript, aliases, titles=TITLES, constrained=False)
        got = result.to_dict()["intent"]
        if clip.expected is None:
            tally.others += 1
            tally.false += got is not None
            continue
        ok = same_intent(clip.expected, got)
        tally.commands += 1
        tally.right += ok
        tally.wrong += got is not None and not ok
        tally.free_right += same_intent(clip.expected, free.to_dict()["intent"])
        for table, name in ((tally.by_voice, clip.voice), (tally.by_kind, clip.group)):
            table[name][0] += ok
            table[name][1] += 1
        if not ok:
            tally.misses.append((clip.text, transcript.text, got))
    return tally


# An enrolment take is a rendition the corpus never uses: espeak at 150 wpm, flite at 110 %, Piper at
# 110 % with another seed (its prosody is sampled).
ENROL_RATE = {"espeak": 150, "flite": 110, "piper": 110}


def enrol(transcriber: Transcriber, family: str) -> dict[str, dict[str, str]]:
    """Per voice of the family: the aliases `copilot voice enroll` learns from one take of each prompt."""
    out = {}
    for voice in corpus.FAMILY_VOICES[family][0]:
        heard = [(p, transcriber.transcribe(corpus.speak(p, voice, ENROL_RATE[family], seed=1)).text) for p in PROMPTS]
        out[voice] = learn(heard)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one clip in 4")
    ap.add_argument("--families", nargs="*", default=list(corpus.FAMILIES), choices=corpus.FAMILIES)
    ap.add_argument("--conditions", nargs="*", default=list(CONDITIONS),
                    help="clean, music:SNR or crowd:SNR (default: %(default)s)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--misses", action="store_true", help="list every miss, not only wrong accepts")
    ap.add_argument("--enrol", nargs="*", default=None, metavar="CONDITION",
                    help="also: each voice enrolled first (voice/enroll.py), heard in these conditions "
                         "(default: clean music:10)")
    args = ap.parse_args()
    try:
        conditions = [corpus.parse_condition(c) for c in args.conditions]
    except ValueError as e:
        sys.exit(str(e))
    for family in args.families:
        if (why := voice_tts.available(family)) is not None:
            sys.exit(f"the {family} voices need {why}")
    shipped = Transcriber(titles=TITLES)
    shipped.warm_up()
    baseline = None
    if not args.no_baseline:
        baseline = Transcriber(window_s=30.0, beam_size=1, prompt=False)
        baseline.warm_up()
    print(f"voice accuracy · {time.strftime('%Y-%m-%d %H:%M')} · shipped: 10 s window, beam 5, prompt, "
          "N-best grammar + constrained rescue")
    for family in args.families:
        clips = corpus.every(4 if args.quick else 1, corpus.clips(family))
        first: Tally | None = None
        for cond in conditions:
            tally = run(shipped, clips, cond)
            first = first or tally
            print(f"{family:7s} {corpus.label(cond):>12s}: {tally.line()}")
            shown = tally.misses if args.misses else [m for m in tally.misses if m[2] is not None]
            for said, heard, got in shown:
                print(f"{'':22s}{'wrong accept' if got else 'miss'}: said {said!r}, heard {heard!r} → {got}")
        if args.enrol is not None:
            enrolled = enrol(shipped, family)
            taught = sum(len(a) for a in enrolled.values())
            for cond in [corpus.parse_condition(c) for c in args.enrol or ("clean", "music:10")]:
                tally = run(shipped, clips, cond, enrolled)
                print(f"{family:7s} {corpus.label(cond):>12s}: enrolled ({taught} aliases): {tally.line()}")
        if baseline is not None:
            base = run(baseline, clips, corpus.CLEAN)
            print(f"{family:7s} {'clean':>12s}: baseline (30 s window, greedy, no prompt): {base.line()}")
        assert first is not None
        print(f"{'':7s} per voice ({corpus.label(conditions[0])}):",
              {v: f"{a}/{n}" for v, (a, n) in sorted(first.by_voice.items())})
        print(f"{'':7s} per kind ({corpus.label(conditions[0])}):",
              {k: f"{a}/{n}" for k, (a, n) in sorted(first.by_kind.items())})


if __name__ == "__main__":
    main()
