"""How long after the last word the end-pointer ends an utterance, per voice family and condition.

    python bench/voice_endpoint.py                          # piper, flite, espeak × clean, music 10 dB
    python bench/voice_endpoint.py --step 4 --families piper --conditions clean music:10 crowd:10

Each corpus command (one in `--step`, every voice in it) is followed by 1.3 s of silence (or of the
bed it is heard over) and fed frame by frame to the end-pointer with the streaming Silero VAD. The
lag is measured in audio time, not wall time, from the last sample above 2 % of the clip's peak
(known by construction) to the frame that ends the utterance: the end-pointing silence plus the
detector's own decay after the word. A command split into two utterances, or ended before its last
word, is counted as cut. Rows: the shipped end threshold (0.35, the baseline) beside 0.5 and 0.65,
each with the shipped 300 ms silence and with 260 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from copilot.tests import voice_corpus as corpus
from copilot.tests import voice_tts
from copilot.voice.endpoint import End, EndpointConfig, Endpointer
from copilot.voice.vad import FRAME, RATE, SileroVad

TAIL_S = 1.3


def heard(clip: corpus.Clip, cond: corpus.Condition, seed: int) -> tuple[np.ndarray, float]:
    """The clip as heard (0.3 s of bed before it, `TAIL_S` after) and the time of its last loud sample."""
    speech = corpus.audio_of(clip)
    padded = np.concatenate([speech, np.zeros(int(TAIL_S * RATE), np.float32)])
    lead = np.zeros(int(0.3 * RATE), np.float32)
    audio = np.concatenate([lead, padded]) if cond[1] is None else corpus.condition(padded, cond, seed)
    loud = np.flatnonzero(np.abs(speech) > 0.02 * np.max(np.abs(speech)))
    return audio, (lead.size + int(loud[-1])) / RATE


def ends(audio: np.ndarray, config: EndpointConfig, vad: SileroVad) -> list[tuple[float, End]]:
    vad.reset()
    endpointer = Endpointer(vad, config)
    out = []
    for k in range(audio.size // FRAME):
        at = (k + 1) * FRAME / RATE
        out += [(at, e) for e in endpointer.feed(audio[k * FRAME:(k + 1) * FRAME], at) if isinstance(e, End)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="*", default=["piper", "flite", "espeak"], choices=corpus.FAMILIES)
    ap.add_argument("--conditions", nargs="*", default=["clean", "music:10"])
    ap.add_argument("--step", type=int, default=2, help="one command in STEP (default %(default)s)")
    args = ap.parse_args()
    for family in args.families:
        if (why := voice_tts.available(family)) is not None:
            sys.exit(f"the {family} voices need {why}")
    shipped = EndpointConfig()
    configs = [(f"end {t:g}{' (shipped)' if t == shipped.end_threshold else ''}, {s:g} ms", t, s)
               for t in (0.35, 0.5, 0.65) for s in (shipped.end_silence_ms, 260.0)]
    vad = SileroVad()
    print(f"voice end-pointing · last word → End, audio time · {time.strftime('%Y-%m-%d %H:%M')}")
    for family in args.families:
        clips = [(n, c) for n, c in corpus.every(args.step, corpus.clips(family)) if c.expected is not None]
        for text in args.conditions:
            cond = corpus.parse_condition(text)
            said = [heard(c, cond, n) for n, c in clips]
            base = None
            for name, threshold, silence in configs:
                config = EndpointConfig(end_threshold=threshold, end_silence_ms=silence)
                lags, cut = [], 0
                for audio, last in said:
                    found = ends(audio, config, vad)
                    whole = [at for at, e in found if e.speech_end >= last - 0.05]
                    cut += len(found) != 1 or not whole
                    if whole:
                        lags.append((whole[0] - last) * 1000)
                lags.sort()
                p50 = statistics.median(lags)
                base = base or p50
                print(f"{family:7s} {corpus.label(cond):>11s}  {name:28s} p50 {p50:4.0f} ms  "
                      f"p90 {lags[int(0.9 * len(lags))]:4.0f} ms  ×{p50 / base:.2f}  cut {cut}/{len(said)}")


if __name__ == "__main__":
    main()
