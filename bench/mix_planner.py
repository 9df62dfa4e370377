"""The planner that plays a set: how well it orders a crate, and how fast it decides the next mix.

    python bench/mix_planner.py            # 30 crates of 24 tracks; 2000 decisions at 10,000 tracks
    python bench/mix_planner.py --quick    # 10 crates; 500 decisions
    python bench/mix_planner.py --decisions   # only the decision timing (2000 decisions)

1. Order. Generated crates with known keys, tempi (118–130 BPM) and energies, in two kinds: *random*
   (keys and energies drawn at random: a clean order may not exist) and *chain* (built so that one
   exists, then shuffled). For each: the planner's order (phrase_db/setlist.py) against the crate's
   own order and random orders (the mean of 20 shuffles), on mean Camelot distance per step, steps
   more than one Camelot step apart, tempo jumps over 6 %, mean tempo change, energy-arc error, and
   the share of steps within one step and 6 % ("clean").
2. Decision. A library of 10,000 tracks × 8 phrases (80,000 phrases, the per-key faiss lists), and a
   deck playing a random track: `Mixer.plan(NEXT)` — next track by the phrase DB's ranking, template,
   phrase-line alignment, steps, envelopes — timed end to end (wall and CPU), against the same
   decision with the ranking done by an exact scan of every phrase (the baseline), in one run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from copilot.bridge.transition import DeckView, MixView  # noqa: E402
from copilot.intents.schema import Intent, IntentKind  # noqa: E402
from copilot.phrase_db.keys import Key, from_camelot  # noqa: E402
from copilot.phrase_db.loader import sidecar_record  # noqa: E402
from copilot.phrase_db.mixing import Mixer  # noqa: E402
from copilot.phrase_db.mixlib import MixLibrary  # noqa: E402
from copilot.phrase_db.setlist import plan_set, stats  # noqa: E402
from copilot.phrase_db.store import TrackRecord  # noqa: E402

FIELDS = ("mean_key_distance", "key_clashes", "tempo_jumps", "mean_tempo_change", "arc_error")


def record(i: int, title: str, key: Key, bpm: float, energy: float, phrases: int = 3) -> TrackRecord:
    labels = ["intro", "build", "drop", "main", "break", "drop", "main", "outro"]
    picks = [labels[0], *labels[1:-1][: max(0, phrases - 2)], labels[-1]] if phrases > 2 else ["intro", "outro"]
    sections, bar = [], 0
    for label in picks:
        bars = 16 if label in ("drop", "main") else 8
        e = energy + {"intro": -0.2, "outro": -0.15, "break": -0.25, "build": -0.05}.get(label, 0.0)
        sections.append({"label": label, "start_bar": bar, "bars": bars, "energy": round(min(1, max(0, e)), 3)})
        bar += bars
    truth = {"title": title, "bpm": bpm, "key": {"name": key.name}, "sections": sections,
             "duration": bar * 4 * 60 / bpm}
    return sidecar_record(-i, Path(f"/bench/{i}.wav"), truth, {}, 10 * i)


def random_crate(n: int, seed: int) -> list[TrackRecord]:
    rng = random.Random(seed)
    return [record(i + 1, f"R{i}", Key.from_index(rng.randrange(24)), round(rng.uniform(118, 130), 2),
                   rng.uniform(0.35, 0.9)) for i in range(n)]


def chain_crate(n: int, seed: int) -> list[TrackRecord]:
    rng = random.Random(seed)
    number, letter, bpm = rng.randint(1, 12), rng.choice("AB"), 118.0
    out = []
    for i in range(n):
        out.append(record(i + 1, f"C{i}", from_camelot(number, letter), round(bpm, 2), rng.uniform(0.35, 0.9)))
        move = rng.random()
        if move < 0.45:
            number = number % 12 + 1
        elif move < 0.6:
            letter = "B" if letter == "A" else "A"
        bpm = min(130.0, bpm * (1 + rng.uniform(0.0, 0.01)))
    rng.shuffle(out)
    return out


def order_bench(crates: int) -> None:
    for kind, make in (("random", random_crate), ("chain", chain_crate)):
        rows: dict[str, list[dict[str, float]]] = {"planner": [], "crate order": [], "random order": []}
        clean: dict[str, list[float]] = {k: [] for k in rows}
        times = []
        for seed in range(crates):
            tracks = list(MixLibrary.from_records(make(24, seed), kind).tracks.values())
            t0 = time.perf_counter()
            planned = plan_set(tracks)
            times.append(time.perf_counter() - t0)
            shuffles = [stats(random.Random(1000 + k).sample(tracks, len(tracks))) for k in range(20)]
            for name, s in (("planner", stats(planned)), ("crate order", stats(tracks))):
                rows[name].append(s.to_dict())
                clean[name].append(s.good_steps / s.steps)
            rows["random order"].append({f: statistics.mean(getattr(s, f) for s in shuffles) for f in FIELDS})
            clean["random order"].append(statistics.mean(s.good_steps / s.steps for s in shuffles))
        print(f"\n{kind} crates ({crates} × 24 tracks{'; a clean order exists in each' if kind == 'chain' else ''}): "
              f"means per crate; planning p50 {1e3 * statistics.median(times):.1f} ms, "
              f"max {1e3 * max(times):.1f} ms")
        print(f"{'':>13} {'key dist':>9} {'clashes':>8} {'tempo>6%':>9} {'Δtempo %':>9} {'arc err':>8} {'clean':>7}")
        for name, values in rows.items():
            means = {f: statistics.mean(v[f] for v in values) for f in FIELDS}
            print(f"{name:>13} {means['mean_key_distance']:9.2f} {means['key_clashes']:8.2f} "
                  f"{means['tempo_jumps']:9.2f} {means['mean_tempo_change']:9.2f} {means['arc_error']:8.3f} "
                  f"{100 * statistics.mean(clean[name]):6.1f}%")
        if kind == "chain":
            full = sum(c == 1.0 for c in clean["planner"])
            print(f"planner orders with every step clean: {full} of {crates}")


def library(tracks: int, seed: int = 5) -> MixLibrary:
    rng = np.random.default_rng(seed)
    bpm = rng.choice([122.0, 124.0, 126.0, 128.0, 120.0, 174.0, 140.0], tracks, p=[.2, .2, .15, .15, .15, .08, .07])
    bpm = bpm + rng.normal(0, 1.5, tracks)
    keys = rng.integers(0, 24, tracks)
    energy = rng.uniform(0.35, 0.9, tracks)
    records = [record(i + 1, f"T{i}", Key.from_index(int(keys[i])), round(float(bpm[i]), 2), float(energy[i]), 8)
               for i in range(tracks)]
    return MixLibrary.from_records(records, "bench")


def decide(mixer: Mixer, lib: MixLibrary, picks: list[int]) -> tuple[np.ndarray, np.ndarray, int]:
    wall, cpu, planned = [], [], 0
    tracks = list(lib.tracks.values())
    for i in picks:
        t = tracks[i]
        view = MixView(now=100.0, earliest=101.0, quantum=4.0, tempo=124.0, seek=True,
                       decks={"A": DeckView("A", True, True, t.resolved(), 0.0), "B": DeckView("B", False, False, None,
                                                                                                 None)},
                       can=frozenset({"crossfader", "eq_low", "volume", "filter", "fx_send", "PLAY", "PAUSE", "LOAD",
                                      "KEY"}))
        c0, w0 = time.thread_time(), time.perf_counter()
        plan = mixer.plan(Intent(IntentKind.NEXT), view)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
        planned += not isinstance(plan, str)
    return np.array(wall) * 1e3, np.array(cpu) * 1e3, planned


def decision_bench(decisions: int) -> None:
    t0 = time.perf_counter()
    lib = library(10_000)
    built = time.perf_counter() - t0
    picks = [int(i) for i in np.random.default_rng(6).integers(0, len(lib), decisions)]
    decide(Mixer(library_override=lib), lib, picks[:50])  # warm caches
    print(f"\ndecision at {len(lib)} tracks, {len(lib.planner.table)} phrases (index '{lib.planner.index.kind}', "
          f"built in {built:.1f} s): next track + template + phrase lines + steps + envelopes")
    results = {}
    for name, exact in (("mixer (per-key lists)", False), ("baseline: exact scan", True)):
        wall, cpu, planned = decide(Mixer(library_override=lib, exact=exact), lib, picks)
        results[name] = cpu
        print(f"{name:>22}: wall p50 {np.median(wall):.2f} p99 {np.percentile(wall, 99):.2f} ms  "
              f"cpu p50 {np.median(cpu):.2f} p99 {np.percentile(cpu, 99):.2f} ms  ({planned}/{len(picks)} planned)")
    a, b = results.values()
    print(f"baseline / mixer, cpu p99: {np.percentile(b, 99) / np.percentile(a, 99):.1f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--decisions", action="store_true", help="only the decision timing")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}")
    if not args.decisions:
        order_bench(10 if args.quick else 30)
    decision_bench(500 if args.quick else 2000)
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
