"""Rehearsing a library: enumerate candidates, skip those already scored, render and score the rest
on worker processes (or a Dask cluster), keep each result the moment it arrives.

The work unit is `rehearse_one(candidate, settings, folder)`: render (sandbox), judge (critic), return
plain data — the same function on a local process pool and on a Dask worker, so the results stream
back in the order they finish. Plots are drawn after the ranking, for the best few only (`draw`: the
same unit again with `plot=True`; the render is deterministic, so the score is the one ranked). A
local pool whose worker dies is rebuilt and the candidates it held are run once more (a candidate that
kills two workers is reported, not retried); Dask re-runs a lost worker's units itself (`retries`).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from copilot.phrase_db.keys import camelot_distance
from copilot.phrase_db.mixing import key_shift
from copilot.phrase_db.store import TrackRecord
from copilot.phrase_db.transitions import templates

from . import critic
from .candidate import Candidate, RenderSettings

BATCH = 8  # candidates that share a stretch, dealt to one worker together
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def enumerate_candidates(tracks: Sequence[TrackRecord], template_ids: Sequence[str] | None = None,
                         entries: int = 1, bars: int | None = None) -> list[Candidate]:
    """Ordered pairs × templates × the incoming track's first `entries` phrase starts (its intro first).
    Tracks without a tempo cannot be placed on a grid and are left out."""
    usable = [t for t in tracks if t.bpm]
    available = templates()
    chosen = list(template_ids) if template_ids else sorted(available)
    out: list[Candidate] = []
    for a, b in itertools.permutations(usable, 2):
        starts = sorted({p.start_bar for p in b.phrases}) or [0]
        for tpl, entry in itertools.product(chosen, starts[:max(1, entries)]):
            t = available.get(tpl)
            data = t.to_dict() if t is not None and t.learned else None
            out.append(Candidate(a, b, tpl, template_data=data, entry_bar=entry,
                                 bars=bars or (t.bars if t is not None else None)))
    return out


def pair_facts(c: Candidate) -> dict[str, float | None]:
    """The features a learned preference generalises over: Camelot steps and tempo gap (%)."""
    steps = (float(camelot_distance(c.out_track.key, c.in_track.key))
             if c.out_track.key is not None and c.in_track.key is not None else None)
    gap = (abs(c.in_track.bpm / c.out_track.bpm - 1.0) * 100 if c.in_track.bpm and c.out_track.bpm else None)
    return {"key_steps": steps, "tempo_gap": gap}


def rehearse_one(candidate: Candidate, settings: RenderSettings, folder: str, key: str,
                 plot: bool = False) -> dict[str, Any]:
    """Render and judge one candidate (`plot`: and draw it); plain data back (never raises for a bad
    candidate)."""
    from . import report, sandbox

    began, cpu = time.perf_counter(), time.process_time()
    base = {"key": key, "describe": candidate.describe(), "template": candidate.template,
            "out_path": candidate.out_track.path, "in_path": candidate.in_track.path,
            "out_title": candidate.out_track.title, "in_title": candidate.in_track.title,
            "entry_bar": candidate.entry_bar, "exit_bar": candidate.exit_bar, "nudge": candidate.nudge,
            "source": candidate.source,
            "facts": pair_facts(candidate)}
    try:
        rendered = sandbox.render(candidate, settings, Path(folder))
        verdict = rendered.judge()
    except sandbox.SandboxError as exc:
        return {**base, "score": None, "error": str(exc), "seconds": time.perf_counter() - began}
    except Exception as exc:  # noqa: BLE001 - one broken candidate is reported, the rehearsal goes on
        return {**base, "score": None, "error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - began}
    drawn = None
    if plot:
        plots = Path(folder) / "plots"
        plots.mkdir(parents=True, exist_ok=True)
        png = report.plot_transition(plots / f"{key}.png", rendered.mix, rendered.out_alone, rendered.in_alone,
                                     rendered.context, verdict, candidate.describe())
        drawn = f"plots/{png.name}"
    data = verdict.to_dict()
    return {**base, "score": data["score"], "metrics": data["metrics"], "plot": drawn,
            "plan": {k: rendered.plan.get(k) for k in ("start", "end", "bars", "template")},
            "why": rendered.plan.get("why", ""), "audio_seconds": rendered.audio_seconds,
            "transition_seconds": rendered.context.end - rendered.context.start,
            "worker": os.getpid(), "seconds": time.perf_counter() - began,
            "cpu_seconds": time.process_time() - cpu}  # this process's CPU: a shared machine's load aside


def draw(candidates: Sequence[Candidate], results: Iterable[dict[str, Any]], settings: RenderSettings,
         folder: Path, keep: Callable[[dict[str, Any]], None], top: int, workers: int = 1,
         client: Any = None, pool: WorkerPool | None = None) -> Run:
    """Plots for the `top` best-scored of `candidates` whose plot is not on disk yet: each rendered and
    judged again with `plot=True` (the same score: the render is deterministic) and kept in place of its
    result. Drawing every candidate cost a quarter of a unit; a report needs the best few."""
    mine = {c.key(settings, critic.CRITIC_VERSION): c for c in candidates}
    ranked = sorted((r for r in results if r.get("score") is not None and r["key"] in mine),
                    key=lambda r: -r["score"])[:max(0, top)]
    missing = [mine[r["key"]] for r in ranked if not (r.get("plot") and (folder / r["plot"]).is_file())]
    return run(missing, settings, folder, set(), keep, workers=workers, client=client, plot=True, pool=pool)


@dataclass
class Run:
    """What one rehearsal did."""

    candidates: int = 0
    skipped: int = 0  # scored before (resumed)
    results: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        scored = [r for r in self.results if r.get("score") is not None]
        span = sum(r.get("transition_seconds", 0.0) for r in scored)
        return {"candidates": self.candidates, "skipped": self.skipped, "scored": len(scored),
                "failed": self.failed, "seconds": round(self.seconds, 2), "interrupted": self.interrupted,
                "per_minute": round(len(scored) / self.seconds * 60, 2) if self.seconds else None,
                "realtime": round(span / self.seconds, 2) if self.seconds else None,
                "critic_version": critic.CRITIC_VERSION}


def init_worker() -> None:
    """A worker's start-up, paid once before its first candidate: one thread per library, the sandbox
    imported, the kernels loaded from numba's cache on a scratch engine, the critic run once."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    from copilot.engine.engine import Engine

    from . import worker

    worker.ready()  # the first candidate's imports, and the heap kept between candidates

    scratch = Engine()
    scratch.set_clock_map(0, 0.0, 2.0 / scratch.samplerate)
    scratch.render(64)
    # the critic once on two seconds of noise: scipy's lazily imported parts and first calls
    noise = np.random.default_rng(0).standard_normal((96000, 2)).astype(np.float32) * 0.1
    critic.judge(noise, critic.Context(samplerate=48000, tempo=120.0, start=0.5, end=1.5), noise, noise)


class WorkerPool:
    """Local worker processes started once and kept warm for a whole rehearsal — the scoring pass and the
    drawing pass after it — rather than a pool each (spawning, imports and kernels paid twice). A pool a
    worker died in is replaced (`renew`). Use as a context manager, or `close()`."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")  # numba and threads: a fresh interpreter per worker
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_worker)
        return self._pool

    def pids(self) -> set[int]:
        """The worker processes' ids (none before the first use)."""
        return set(self._pool._processes or {}) if self._pool is not None else set()

    def renew(self) -> None:
        """After a worker died: the broken pool goes, the next use starts a fresh one."""
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(candidates: Sequence[Candidate], settings: RenderSettings, folder: Path, known: set[str],
        keep: Callable[[dict[str, Any]], None], workers: int = 1, client: Any = None,
        progress: Callable[[dict[str, Any] | None, int], None] | None = None, plot: bool = False,
        pool: WorkerPool | None = None) -> Run:
    """Rehearse every candidate whose key is not in `known`; `keep(result)` as each one arrives (the
    caller stores it); `progress(result or None, total)` for a progress bar. `client`: a
    dask.distributed Client (else `workers` local processes; 1 = in this process). `plot`: draw each
    one too (`draw` does it for the best few after the ranking). `pool`: warm local workers to use (and
    keep) instead of starting `workers` new ones."""
    began = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    keyed = [(c, c.key(settings, critic.CRITIC_VERSION)) for c in candidates]
    todo = [(c, k) for c, k in keyed if k not in known]
    result = Run(candidates=len(keyed), skipped=len(keyed) - len(todo))
    if progress is not None:
        progress(None, len(todo))

    def arrived(r: dict[str, Any]) -> None:
        keep(r)
        result.results.append(r)
        result.failed += r.get("score") is None
        if progress is not None:
            progress(r, len(todo))

    try:
        if client is not None:
            _on_dask(client, todo, settings, folder, arrived, plot)
        elif pool is not None:
            _on_pool(todo, settings, folder, arrived, pool, plot)
        elif workers <= 1:  # in the order a worker is dealt them: what shares a stretch, back to back
            from . import worker

            worker.ready()
            for batch in batches(todo, settings):
                for c, k in batch:
                    arrived(rehearse_one(c, settings, str(folder), k, plot))
        else:
            with WorkerPool(workers) as own:
                _on_pool(todo, settings, folder, arrived, own, plot)
    except KeyboardInterrupt:
        result.interrupted = True
    result.seconds = time.perf_counter() - began
    return result


Batch = list[tuple[Candidate, str]]


def stretch_group(c: Candidate, settings: RenderSettings) -> tuple[str, int] | None:
    """What rendering `c` makes a worker stretch (Rubber Band, seconds of work, kept per process after):
    the incoming track at the key shift the mixer will give it, or with key-lock on, at the outgoing
    track's tempo. None: nothing to stretch."""
    shift = key_shift(c.out_track.key, c.in_track.key)
    if shift or (settings.keylock and c.in_track.bpm != c.out_track.bpm):
        return (c.in_track.path, shift)
    return None


def batches(todo: Sequence[tuple[Candidate, str]], settings: RenderSettings, size: int = BATCH) -> list[Batch]:
    """The work as it is dealt to workers: candidates that stretch the same track the same way go
    together (up to `size`), so one worker stretches it once; the rest one by one. Largest first: the
    last to finish are the small ones."""
    groups: dict[Any, Batch] = {}
    for i, (c, k) in enumerate(todo):
        group = stretch_group(c, settings)
        groups.setdefault(i if group is None else group, []).append((c, k))
    out = [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]
    return sorted(out, key=len, reverse=True)


def rehearse_batch(batch: Batch, settings: RenderSettings, folder: str, plot: bool = False) -> list[dict[str, Any]]:
    """`rehearse_one` for each candidate of a batch, in this worker (made ready first, once: a Dask
    worker runs no initializer of ours)."""
    from . import worker

    worker.ready()
    return [rehearse_one(c, settings, folder, k, plot) for c, k in batch]


def _failed(c: Candidate, k: str, error: str) -> dict[str, Any]:
    return {"key": k, "describe": c.describe(), "template": c.template, "score": None,
            "out_path": c.out_track.path, "in_path": c.in_track.path, "entry_bar": c.entry_bar, "error": error}


def _on_pool(todo: Sequence[tuple[Candidate, str]], settings: RenderSettings, folder: Path,
             arrived: Callable[[dict[str, Any]], None], warm: WorkerPool, plot: bool) -> None:
    pending = batches(todo, settings)
    tries: dict[str, int] = {}
    while pending:
        pool = warm.pool
        futures: dict[Future[list[dict[str, Any]]], Batch] = {}
        queue = list(pending)
        pending = []
        broken = False
        while (queue or futures) and not broken:
            while queue and len(futures) < 2 * warm.workers:  # a little ahead, never the whole library
                batch = queue.pop(0)
                futures[pool.submit(rehearse_batch, batch, settings, str(folder), plot)] = batch
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for f in done:
                batch = futures.pop(f)
                try:
                    for r in f.result():
                        arrived(r)
                except BrokenProcessPool:
                    broken = True
                    for c, k in batch:  # again one by one: only the candidate that kills a worker fails
                        tries[k] = tries.get(k, 0) + 1
                        if tries[k] >= 2 and len(batch) == 1:
                            arrived(_failed(c, k, "its worker died twice"))
                        else:
                            pending.append([(c, k)])
        if broken:  # everything still out with the dead pool runs again on a fresh one
            pending += list(futures.values()) + queue
            warm.renew()


def _on_dask(client: Any, todo: Sequence[tuple[Candidate, str]], settings: RenderSettings, folder: Path,
             arrived: Callable[[dict[str, Any]], None], plot: bool) -> None:
    from distributed import as_completed

    # a key of its own for the drawing pass: the scoring pass's task of the same candidates may still be held
    name = "rehearse-plot" if plot else "rehearse"
    futures = {client.submit(rehearse_batch, batch, settings, str(folder), plot,
                             key=f"{name}-{batch[0][1]}-{len(batch)}", retries=2, pure=False): batch
               for batch in batches(todo, settings)}
    for f in as_completed(list(futures)):
        try:
            results = f.result()
        except Exception as exc:  # noqa: BLE001 - a unit that failed on every retry: said, not fatal
            results = [_failed(c, k, f"{type(exc).__name__}: {exc}") for c, k in futures[f]]
        for r in results:
            arrived(r)
