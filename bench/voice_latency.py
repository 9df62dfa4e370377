"""End of speech → intent queued in the safety scheduler, in real time.

    python bench/voice_latency.py            # 12 commands per setup (+ up to 12 hard ones)
    python bench/voice_latency.py --quick    # 5 commands per setup
    python bench/voice_latency.py --parts-only   # only where the time of one command goes
    python bench/voice_latency.py --voice piper:joe --rate 100   # said by a natural voice (tests/voice_tts.py)
    python bench/voice_latency.py --setups shipped "end 0.5"    # only these setups (no parts, no hard ones)

First the pieces of one command are timed alone (encoder at 30/10/6 s windows, decoder greedy
and beam 5, scoring sentences for the constrained rescue, one VAD frame, the grammar). Then a
recording of spoken commands (espeak-ng by default, or `--voice`; 1.6 s apart) plays at real-time pace into the listener
(end-pointer → Whisper → grammar) whose intents go to a real SafetyScheduler. The clock starts
at the last loud sample of each command (known by construction) and stops when `submit` returns.
Setups, all measured in this run:

* baseline    — Whisper as it comes: 30 s window, greedy, transcribe only after the end-point
* shipped     — 10 s window, beam 5, transcription started speculatively at the pause
* greedy      — as shipped but beam 1 (faster, less accurate: see voice_accuracy.py)
* end 0.5     — as shipped, but the end-pointer's silence counted below 0.5 instead of 0.35: the
                detector's decay after the last word no longer counts as speech (sooner in audio
                time), but more dips inside a command start a guess that is thrown away
* push-to-talk — shipped ASR; the button is released at the end of speech (no end-pointing wait)
* rescued     — shipped, on corpus commands (their own voices and speeds) that Whisper's readings
                alone do not make a confident command and the grammar-constrained rescue does: the
                slow path, found by transcribing the clean corpus first
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from copilot.bridge.clock import InternalClock
from copilot.bridge.scheduler import SafetyScheduler
from copilot.tests import voice_corpus as corpus
from copilot.tests import voice_tts
from copilot.voice.asr import Transcriber
from copilot.voice.capture import FileSource
from copilot.voice.endpoint import EndpointConfig
from copilot.voice.listener import Heard, Listener
from copilot.voice.vad import RATE

COMMANDS = ("loop four on deck A", "play deck B", "filter down", "echo fifty percent", "tempo plus two",
            "eight bar build", "sync deck B", "hot cue three", "exit loop", "drop in eight", "reverb off",
            "cue deck A")
GAP_S = 1.6


Said = tuple[str, str, int]  # text, voice (tests/voice_tts.py), rate


def recording(said: list[Said]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The commands with gaps, and each one's first/last loud sample."""
    parts, bounds, at = [np.zeros(int(0.5 * RATE), np.float32)], [], int(0.5 * RATE)
    for text, voice, speed in said:
        clip = corpus.speak(text, voice, speed)
        loud = np.flatnonzero(np.abs(clip) > 0.02 * np.max(np.abs(clip)))
        bounds.append((at + int(loud[0]), at + int(loud[-1])))
        parts += [clip, np.zeros(int(GAP_S * RATE), np.float32)]
        at += clip.size + int(GAP_S * RATE)
    return np.concatenate(parts), bounds


def measure(transcriber: Transcriber, texts: list[Said], speculative: bool, push_to_talk: bool,
            endpoint: EndpointConfig | None = None) -> dict:
    audio, bounds = recording(texts)
    clock = InternalClock(tempo=124.0)
    scheduler = SafetyScheduler(clock)
    queued: list[tuple[Heard, float]] = []

    def on_heard(heard: Heard) -> None:
        if heard.result.intent is not None:
            scheduler.submit(heard.result.intent)
            queued.append((heard, time.monotonic()))

    listener = Listener(transcriber, on_heard, speculative=speculative, hands_free=not push_to_talk,
                        endpoint=endpoint)
    listener.start()
    source = FileSource(listener.feed, audio=audio, speed=1.0, clock=time.monotonic)
    button = threading.Thread(target=_press_and_release, args=(listener, source, bounds), daemon=True)
    source.start()
    if push_to_talk:
        button.start()
    source.join()
    listener.wait_idle(30.0)
    listener.stop()
    ends = [source.time_of_sample(last) for _, last in bounds]
    latencies = []
    for heard, at in queued:  # match each result to the command whose speech ended just before it
        end = max((e for e in ends if e <= heard.speech_end + 0.25), default=None)
        if end is not None:
            latencies.append(at - end)
    return {"latencies": sorted(latencies), "heard": len(queued), "said": len(texts),
            "asr": [h.transcript.latency_s for h, _ in queued],
            "rescued": sum(h.result.reason.startswith("the audio fits") for h, _ in queued)}


def hard_commands(transcriber: Transcriber, limit: int, clips: int, family: str = "espeak") -> list[Said]:
    """Clean corpus commands the readings alone reject and the constrained rescue gets right."""
    from copilot.tests.fixtures_voice import same_intent
    from copilot.voice.understand import understand

    found: list[Said] = []
    for clip in [c for c in corpus.clips(family) if c.expected is not None][:clips]:
        t = transcriber.transcribe(corpus.audio_of(clip))
        alone = understand(t, constrained=False)
        rescued = understand(t)
        if alone.intent is None and same_intent(clip.expected, rescued.to_dict()["intent"]):
            found.append((clip.text, clip.voice, clip.speed))
            if len(found) == limit:
                break
    return found


def _press_and_release(listener: Listener, source: FileSource, bounds: list[tuple[int, int]]) -> None:
    while source.started_at == 0.0:
        time.sleep(0.001)
    for first, last in bounds:
        for sample, action in ((first - int(0.15 * RATE), listener.press), (last, listener.release)):
            wait = source.time_of_sample(sample) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            action(source.time_of_sample(sample))


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return sorted(out)


def parts(transcriber: Transcriber, repeat: int) -> None:
    """Where the time of one command goes, piece by piece (medians; ms)."""
    from copilot.intents.parser import parse
    from copilot.voice.vad import FRAME, SileroVad

    audio = corpus.speak("loop four on deck A", "en-us", 160)
    rows = []
    for window in (30.0, 10.0, 6.0):
        enc = timed(lambda w=window: transcriber.encode(audio, w), repeat)
        rows.append((f"features + encoder, {window:g} s window", enc))
    encoded, _ = transcriber.encode(audio)
    for beam in (1, 5):
        rows.append((f"decoder, beam {beam}", timed(lambda b=beam: transcriber.decode(encoded, b), repeat)))
    vad = SileroVad()
    frame = audio[:FRAME]
    rows.append(("Silero VAD, one 32 ms frame", timed(lambda: vad(frame), repeat * 20)))
    from copilot.voice.constrained import propose

    scorer = transcriber.transcribe(audio).scorer
    eight = [f"Loop four on deck {d}." for d in "ABCD"] + [f"Loop {n} on deck A." for n in ("two", "one", "six")]
    eight.append("Loop eight on deck A.")
    rows.append(("constrained: score 1 sentence", timed(lambda: scorer(eight[:1]), repeat)))
    rows.append(("constrained: score 8 sentences (one call)", timed(lambda: scorer(eight), repeat)))
    rows.append(("constrained: propose for 'Billy off.'", timed(lambda: propose(["Billy off."]), repeat)))
    rows.append(("grammar, 'loop four on neck A'", timed(lambda: parse("loop four on neck A"), repeat * 5)))
    rows.append(("grammar, 12 words of chatter",
                 timed(lambda: parse("so I think the speakers are a bit too loud in here tonight"), repeat * 5)))
    base = statistics.median(rows[0][1])
    print("where the time goes (median, p99, ratio to the 30 s encoder):")
    for name, values in rows:
        med = statistics.median(values)
        print(f"  {name:42s} {med * 1000:7.2f} ms  p99 {pct(values, 0.99):7.2f} ms  ×{med / base:.3f}")


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 commands per setup")
    ap.add_argument("--parts-only", action="store_true", help="only the piece-by-piece timings")
    ap.add_argument("--voice", default="en-us", help="who says the commands: an espeak voice, flite:NAME or "
                    "piper:joe (default %(default)s)")
    ap.add_argument("--rate", type=int, default=None, help="espeak: words per minute (160); others: percent of "
                    "the voice's own pace (100)")
    ap.add_argument("--setups", nargs="*", default=None, help="only these setups, baseline always "
                    "(baseline, shipped, 'end 0.5', greedy, push-to-talk, rescued); skips the parts")
    args = ap.parse_args()
    family = voice_tts.family_of(args.voice)
    if (why := voice_tts.available(family)) is not None:
        raise SystemExit(f"the {family} voices need {why}")
    rate = args.rate or (160 if family == "espeak" else 100)
    texts = [(t, args.voice, rate) for t in (COMMANDS[:5] if args.quick else COMMANDS)]
    shipped = Transcriber()
    greedy = Transcriber(beam_size=1)
    baseline = Transcriber(window_s=30.0, beam_size=1)
    for t in (shipped, greedy, baseline):
        t.warm_up()
    chosen = set(args.setups or ()) | {"baseline"} if args.setups is not None else None
    if chosen is None:
        parts(shipped, 5 if args.quick else 15)
    if args.parts_only:
        return
    hard = [] if chosen is not None and "rescued" not in chosen else \
        hard_commands(shipped, 5 if args.quick else 12, 60 if args.quick else 150, family)
    high_end = EndpointConfig(end_threshold=0.5)
    setups = [("baseline", baseline, False, False, texts, None), ("shipped", shipped, True, False, texts, None),
              ("end 0.5", shipped, True, False, texts, high_end), ("greedy", greedy, True, False, texts, None),
              ("push-to-talk", shipped, True, True, texts, None), ("rescued", shipped, True, False, hard, None)]
    print(f"voice latency: end of speech → intent queued · {len(texts)} commands ({len(hard)} hard ones) · "
          f"{args.voice} at {rate} · "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    medians = {}
    for name, transcriber, speculative, ptt, said, endpoint in setups:
        if not said or (chosen is not None and name not in chosen):
            continue
        r = measure(transcriber, said, speculative, ptt, endpoint)
        lat = r["latencies"]
        medians[name] = statistics.median(lat) * 1000 if lat else float("nan")
        asr = sorted(r["asr"])
        print(f"{name:13s} p50 {medians[name]:6.0f} ms  p95 {pct(lat, 0.95):6.0f} ms  p99 {pct(lat, 0.99):6.0f} ms"
              f"  (ASR p50 {pct(asr, 0.5):4.0f} ms; understood {r['heard']}/{r['said']}, "
              f"{r['rescued']} by the constrained rescue)")
    base = medians["baseline"]
    ratios = ", ".join(f"{n} ×{m / base:.2f}" for n, m in medians.items() if n != "baseline")
    print(f"ratio to baseline (p50): {ratios}")


if __name__ == "__main__":
    main()
