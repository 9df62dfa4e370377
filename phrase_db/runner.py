"""`copilot db analyze`: walk folders, skip what is known, analyse the rest in worker processes.

Incremental: a file whose size and mtime match its row is skipped without reading it; otherwise its
content hash decides (same content → only the stat is updated; the same content under a new path →
a move, no re-analysis). Resumable: every result is committed on its own as it arrives, so after a
crash (or Ctrl-C) the next run picks up exactly the files that never made it. A corrupt file is
recorded with its reason and skipped until it changes; a worker that dies takes only its own file.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.bridge.children import die_with_parent

from .audio import is_audio
from .constants import ANALYSIS_VERSION
from .store import Store

# Workers get one BLAS/OpenMP thread each: the parallelism is the processes.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    path: str
    content_hash: str
    size: int
    mtime_ns: int


@dataclass
class Summary:
    analysed: list[str] = field(default_factory=list)
    unchanged: int = 0
    moved: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): new failures
    known_bad: list[tuple[str, str]] = field(default_factory=list)  # failed before, file unchanged
    missing: list[str] = field(default_factory=list)  # paths given that do not exist
    warnings: list[str] = field(default_factory=list)  # analysed, but a performer should know (truncated …)
    audio_seconds: float = 0.0  # duration of the audio analysed
    cpu_seconds: float = 0.0  # summed analysis time in the workers
    seconds: float = 0.0
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "analysed": len(self.analysed), "unchanged": self.unchanged, "moved": len(self.moved),
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "known_bad": [{"path": p, "reason": r} for p, r in self.known_bad],
            "missing": self.missing, "warnings": self.warnings, "audio_seconds": round(self.audio_seconds, 1),
            "seconds": round(self.seconds, 2), "interrupted": self.interrupted,
            "realtime_per_core": round(self.audio_seconds / self.cpu_seconds, 1) if self.cpu_seconds else None,
        }


def find_audio(paths: Iterable[Path | str]) -> tuple[list[Path], list[str]]:
    """Audio files under `paths` (files or folders, recursively), sorted; and paths that don't exist."""
    found: set[Path] = set()
    missing: list[str] = []
    for p in map(Path, paths):
        if p.is_file():
            found.add(p.resolve())
        elif p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.update(Path(root, f).resolve() for f in files if is_audio(Path(f)))
        else:
            missing.append(str(p))
    return sorted(found), missing


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def plan(store: Store, files: list[Path], summary: Summary) -> list[Job]:
    """The files that need analysing; everything else is settled here (unchanged, moved, known bad)."""
    jobs: list[Job] = []
    for path in files:
        try:
            st = path.stat()
        except OSError as exc:
            summary.failed.append((str(path), f"cannot read: {exc.strerror}"))
            continue
        row = store.stat_row(str(path))
        current = row is not None and row["analysis_version"] == ANALYSIS_VERSION
        if current and row["size"] == st.st_size and row["mtime_ns"] == st.st_mtime_ns:
            _settle_known(store, row, str(path), summary)
            continue
        try:
            digest = file_hash(path)
        except OSError as exc:
            summary.failed.append((str(path), f"cannot read: {exc.strerror}"))
            continue
        if current and row["content_hash"] == digest:
            store.touch(row["id"], st.st_size, st.st_mtime_ns)
            _settle_known(store, row, str(path), summary)
            continue
        twin = next((r for r in store.by_hash(digest)
                     if r["analysis_version"] == ANALYSIS_VERSION and r["status"] == "ok"
                     and not Path(r["path"]).exists()), None)
        if twin is not None:
            store.touch(twin["id"], st.st_size, st.st_mtime_ns, path=str(path))
            summary.moved.append((twin["path"], str(path)))
            continue
        jobs.append(Job(str(path), digest, st.st_size, st.st_mtime_ns))
    return jobs


def _settle_known(store: Store, row: Any, path: str, summary: Summary) -> None:
    if row["status"] == "error":
        summary.known_bad.append((path, store.error_of(row["id"]) or "failed before"))
    else:
        summary.unchanged += 1


def _init_worker(parent: int) -> None:
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    die_with_parent(parent)  # `kill -9` of `db analyze` must not leave its workers behind


def work(path: str) -> tuple[str, Any]:
    """Runs in a worker: ("ok", TrackAnalysis) or ("error", reason). Never raises."""
    from .analysis import analyze_file
    from .audio import CorruptFile
    from .beatgrid import AnalysisError

    try:
        return "ok", analyze_file(path)
    except CorruptFile as exc:
        return "error", str(exc)
    except AnalysisError as exc:
        return "error", f"{Path(path).name}: {exc}"
    except MemoryError:
        return "error", f"{Path(path).name}: too large to analyse in memory"
    except Exception as exc:  # noqa: BLE001 - a bug on one odd file must not stop the library
        return "error", f"{Path(path).name}: analysis failed ({type(exc).__name__}: {exc})"


def analyze_paths(
    paths: Iterable[Path | str],
    store: Store,
    workers: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    worker: Callable[[str], tuple[str, Any]] = work,
) -> Summary:
    """Analyse every new or changed audio file under `paths` into `store`."""
    started = time.perf_counter()
    summary = Summary()
    files, summary.missing = find_audio(paths)
    jobs = plan(store, files, summary)
    workers = (os.cpu_count() or 1) if workers is None else workers
    say = report or (lambda msg: print(msg, file=sys.stderr))

    bar = _Progress(len(jobs), progress)
    try:
        with bar:
            if workers <= 0:
                for job in jobs:
                    bar.current(job.path)
                    _record(store, job, worker(job.path), summary, say)
                    bar.advance()
            else:
                _run_pool(jobs, store, workers, summary, say, bar, worker)
    except KeyboardInterrupt:
        summary.interrupted = True
        say("interrupted: finished tracks are saved; run the same command again to resume")
    summary.seconds = time.perf_counter() - started
    return summary


def _record(store: Store, job: Job, result: tuple[str, Any], summary: Summary, say: Callable[[str], None]) -> None:
    status, value = result
    if status == "ok":
        value.path = job.path
        store.save(value, job.content_hash, job.size, job.mtime_ns)
        summary.analysed.append(job.path)
        summary.audio_seconds += value.duration
        summary.cpu_seconds += value.seconds
        for note in value.notes:
            summary.warnings.append(note)
            say(f"warning: {note}")
    else:
        store.save_error(job.path, job.content_hash, job.size, job.mtime_ns, str(value))
        summary.failed.append((job.path, str(value)))
        say(f"skipped: {value}")


def _run_pool(jobs: list[Job], store: Store, workers: int, summary: Summary, say: Callable[[str], None],
              bar: _Progress, worker: Callable[[str], tuple[str, Any]]) -> None:
    """Keep `workers` files in flight. If a worker dies, the files it was sharing the pool with are
    suspects: each is retried alone, and only the one that kills a pool on its own is blamed."""
    queue = list(reversed(jobs))
    ctx = multiprocessing.get_context("spawn")  # no fork: the parent has threads (progress, sqlite)
    while queue:
        suspects: list[Job] = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(os.getpid(),)) as pool:
            running: dict[Future[tuple[str, Any]], Job] = {}
            try:
                while queue or running:
                    while queue and len(running) < 2 * workers:
                        job = queue.pop()
                        running[pool.submit(worker, job.path)] = job
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        result = fut.result()  # raises BrokenProcessPool if the pool died
                        job = running.pop(fut)
                        _record(store, job, result, summary, say)
                        bar.current(job.path)
                        bar.advance()
            except BrokenProcessPool:
                suspects = list(running.values())
        alone: ProcessPoolExecutor | None = None
        try:
            for job in suspects:  # one at a time, in one pool that is replaced only when it dies
                alone = alone or ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker,
                                                     initargs=(os.getpid(),))
                try:
                    result = alone.submit(worker, job.path).result()
                except BrokenProcessPool:
                    result = ("error", f"{Path(job.path).name}: the analyser crashed on this file")
                    alone.shutdown(wait=True)
                    alone = None
                _record(store, job, result, summary, say)
                bar.current(job.path)
                bar.advance()
        finally:
            if alone is not None:
                alone.shutdown(wait=True)


class _Progress:
    """A rich progress bar on stderr (or nothing when asked for quiet)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.enabled = enabled and total > 0
        self.total = total
        self._p: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._p = Progress(TextColumn("[bold]analysing[/]"), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}"),
                               console=Console(stderr=True), transient=False)
            self._p.__enter__()
            self._task = self._p.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)

    def current(self, path: str) -> None:
        if self._p is not None:
            self._p.update(self._task, description=Path(path).name[:48])

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._task)
