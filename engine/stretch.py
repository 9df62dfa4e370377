"""A key-lock stretch: Rubber Band renders a track at another tempo and/or key into an engine buffer.

Never on the audio thread. A `StretchJob` owns one engine slot (a buffer as long as the stretched
track) and fills it a block at a time with Rubber Band's R3 engine in real-time mode (pylibrb), first
from a start frame near the play head to the end, then the part before it, spliced in with a short
cross-fade. After every block it widens the slot's span (the frames the kernel may read), so the
deck can use the stretch a fraction of a second after it starts; before that the deck plays its
track varispeed (kernel.choose_source).

Measured here (docs/benchmarks.md, bench/engine_keylock.py): R3 real-time fed 4096 frames at a time
holds a 440 Hz tone within ±4.5 cents and every kick within 1.5 ms of the grid over four minutes
with no drift; fed 48000 frames at a time it sat 9 ms late; R2 (Debian's `rubberband` default,
pedalboard's `high_quality=False`) shifts key 11 cents sharp per semitone and moves a steady tone by
up to ±24 cents at each kick. pylibrb's `set_keyframe_map` cannot be called (its binding lacks the
map converter), so the block size is what keeps the grid.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import math
import os
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROCESS_BLOCK = 4096  # input frames per process() call (see above: it is what keeps the beats on the grid)
WARM_UP = 4096  # output frames after a mid-track start that still hear the stretcher's zero padding
SPLICE = 2048  # output frames of cross-fade where the part before the start meets the first pass
KEEP_BYTES = 512 * 2**20  # offline stretches kept per process (a rehearsal renders a track again and again)


@dataclass(frozen=True)
class StretchKey:
    """What a stretched buffer is: one track at one time ratio and key shift (the cache's key)."""

    track: str
    ratio: float  # output frames per track frame (track BPM / session BPM with key-lock; 1 without)
    semitones: float

    @classmethod
    def of(cls, track: str, ratio: float, semitones: float) -> StretchKey:
        return cls(track, round(float(ratio), 6), round(float(semitones), 3))

    @property
    def identity(self) -> bool:
        return self.ratio == 1.0 and self.semitones == 0.0


def _stretcher(samplerate: int, ratio: float, semitones: float) -> Any:
    import pylibrb

    o = pylibrb.Option
    s = pylibrb.RubberBandStretcher(samplerate, 2, o.PROCESS_REALTIME | o.ENGINE_FINER | o.CHANNELS_TOGETHER
                                    | o.THREADING_NEVER, initial_time_ratio=ratio,
                                    initial_pitch_scale=2.0 ** (semitones / 12.0))
    s.set_max_process_size(PROCESS_BLOCK)
    return s


class _Pass:
    """One run of the stretcher over track frames [start, end), writing output from round(start × ratio)."""

    def __init__(self, audio: np.ndarray, samplerate: int, ratio: float, semitones: float, start: int,
                 end: int) -> None:
        self.audio = audio
        self.ratio = ratio
        self.s = _stretcher(samplerate, ratio, semitones)
        self.pad = int(self.s.get_preferred_start_pad())
        self.drop = int(self.s.get_start_delay())
        self.read = start - self.pad  # frames before `start` are fed as silence
        self.end = end
        self.out = round(start * ratio)
        self.fed_final = False

    def step(self) -> np.ndarray:
        """Feed one block; returns the output that came of it, (frames, 2)."""
        if self.fed_final:
            return np.zeros((0, 2), np.float32)
        a, b = self.read, min(self.read + PROCESS_BLOCK, self.end)
        block = np.zeros((2, b - a), np.float32)
        lo = max(a, 0)
        if b > lo:
            block[:, lo - a:] = self.audio[lo:b].T
        self.read = b
        self.fed_final = b >= self.end
        self.s.process(block, final=self.fed_final)
        got = []
        while True:
            n = int(self.s.available())
            if n <= 0:
                break
            got.append(self.s.retrieve(n))
        if not got:
            return np.zeros((0, 2), np.float32)
        out = np.concatenate(got, axis=1).T
        if self.drop:
            cut = min(self.drop, len(out))
            out = out[cut:]
            self.drop -= cut
        return out

    @property
    def done(self) -> bool:
        return self.fed_final


class StretchJob:
    """One stretched track being rendered into an engine slot, block by block (`step`)."""

    def __init__(self, engine: Any, key: StretchKey, audio: np.ndarray, start: int = 0) -> None:
        self.engine = engine
        self.key = key
        self.audio = audio
        self.sr = int(engine.samplerate)
        self.frames = int(audio.shape[0])
        start = min(max(0, int(start)), max(0, self.frames - 1))
        self.size = math.ceil(self.frames * key.ratio) + 2 * PROCESS_BLOCK
        self.slot = engine.put_buffer(np.zeros((self.size, 2), np.float32), pinned=True, filled=False)
        self.buf = engine.buffer(self.slot)
        self.start = start
        self.lo = round(start * key.ratio) + (WARM_UP if start > 0 else 0)  # first frame the kernel may read
        self.hi = self.lo
        self._pass: _Pass | None = _Pass(audio, self.sr, key.ratio, key.semitones, start, self.frames)
        _JOBS.add(self)
        self._phase = 1  # 1: from the start frame to the end; 2: from frame 0 up to the start
        self.seconds = 0.0  # CPU-side wall time spent rendering
        self.finished = False
        self._kept = -1  # the frames held when this job last kept itself (`run` with a source)

    def covers(self, frame: float) -> bool:
        """True once the stretch holds the audio of track frame `frame` (and a little after it)."""
        q = max(0.0, frame * self.key.ratio)  # before the track's start: silence, held from frame 0 on
        return self.lo <= q and q + SPLICE < self.hi

    def step(self, blocks: int = 8) -> bool:
        """Render up to `blocks` process blocks; returns True when the whole track is done."""
        t0 = time.perf_counter()
        for _ in range(blocks):
            if self._pass is None:
                break
            self._write(self._pass.step())
            if self._pass is not None and self._pass.done:
                self._next_pass()
        self.seconds += time.perf_counter() - t0
        return self.finished

    def run(self, source: tuple[Any, ...] | None = None, until: float | None = None) -> StretchJob:
        """Render now (offline: on virtual time nothing may be late): everything, or (`until`) at least up
        to output frame `until` — a later call goes on from there with the same stretcher, so the samples
        are those of one run to the end. `source` names the track's audio (`source_of`): what this process
        stretched before from the same audio, ratio, shift and start is taken over (copied, with its
        stretcher) instead of rendered again, so a render is the same with or without it. Silence
        stretches to silence: nothing to render."""
        if self.finished:
            return self
        if until is not None and self._phase == 1 and self.hi >= until and self._kept == self.hi:
            return self  # offline, before most blocks: nothing new to render or to keep
        if self.seconds == 0.0 and self.hi == self.lo and not self.audio.any():
            self._finish(0)
            return self
        kept = (source, self.sr, self.key.ratio, self.key.semitones, self.start)  # the audio, not its file name
        if source is not None and self.seconds == 0.0 and self.hi == self.lo:
            self._take_over(kept)
            if self.hi == self.lo and not self.finished:
                self._from_disk(kept)
        while not self.finished and self._pass is not None and (until is None or self._phase == 2 or self.hi < until):
            self.step(8 if until is not None else 64)
        if source is not None and (self._pass is not None or self.finished):  # a job robbed of its stretcher keeps out
            _keep(kept, _Kept(self.buf, self.lo, self.hi, self._phase, self._pass, self.finished, weakref.ref(self)))
            self._kept = self.hi
        return self

    def _take_over(self, kept: tuple[Any, ...]) -> None:
        """Start from what an earlier job of this process left of the same stretch (its stretcher moves
        here: that job is over)."""
        was = _FINISHED.get(kept)
        if was is None or len(was.buf) != self.size or (was.stretcher is None and not was.finished):
            return
        _FINISHED.move_to_end(kept)
        self.buf[: was.hi] = was.buf[: was.hi]
        self.lo, self.hi, self._phase, self._pass = was.lo, was.hi, was.phase, was.stretcher
        was.stretcher = None
        owner = was.owner()
        if owner is not None and owner is not self:
            owner._pass = None  # one stretcher, one job: the earlier one renders no more
        if was.finished:
            self._finish(was.lo)
        else:
            self.engine.set_span(self.slot, self.lo, self.hi)

    def _from_disk(self, kept: tuple[Any, ...]) -> None:
        """Start from what a run before (any process) left on disk of the same stretch (`keep_on_disk`).
        Its stretcher is not on disk: if the render needs more, this job's own first pass, still at the
        start, renders it all again from there — the same samples, written over the same samples, the
        span never narrowed."""
        path = _disk_path(kept)
        if path is None:
            return
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            if meta["size"] != self.size or not (meta["finished"] or meta["phase"] == 1):
                return
            data = np.load(path, mmap_mode="r")
            if data.shape != (meta["hi"], 2):
                return
            self.buf[: meta["hi"]] = data
        except (OSError, ValueError, KeyError, TypeError):
            return  # unreadable or half-written: rendered again
        self.lo, self.hi = int(meta["lo"]), int(meta["hi"])
        if meta["finished"]:
            self._finish(self.lo)
        else:
            self.engine.set_span(self.slot, self.lo, self.hi)

    def _write(self, out: np.ndarray) -> None:
        p = self._pass
        if p is None or not len(out):
            return
        a = p.out
        b = min(a + len(out), self.size)
        out = out[: b - a]
        p.out = b
        if self._phase == 2:
            self._splice(a, b, out)
            return
        self.buf[a:b] = out
        if b > self.hi:  # (a pass run again over what came from disk writes the same samples: no narrowing)
            self.hi = b
            self.engine.set_span(self.slot, self.lo, self.hi)

    def _splice(self, a: int, b: int, out: np.ndarray) -> None:
        """The second pass (frame 0 up to the start): below the first pass's audio it is written as it
        is; over SPLICE frames it cross-fades into it; then the slot holds the whole track."""
        s0, s1 = self.lo, self.lo + SPLICE
        below = min(b, s0)
        if below > a:
            self.buf[a:below] = out[: below - a]
        lo, hi = max(a, s0), min(b, s1)
        if hi > lo:
            w = ((np.arange(lo, hi) - s0) / SPLICE)[:, None].astype(np.float32)
            self.buf[lo:hi] = w * self.buf[lo:hi] + (1.0 - w) * out[lo - a:hi - a]
        if b >= s1:
            self._finish(0)

    def _next_pass(self) -> None:
        if self._phase == 1 and self.start > 0:
            # from frame 0 up to where the first pass began, and on through the splice
            end = min(self.frames, math.ceil((self.lo + SPLICE) / self.key.ratio) + PROCESS_BLOCK)
            self._pass = _Pass(self.audio, self.sr, self.key.ratio, self.key.semitones, 0, end)
            self._phase = 2
            return
        self._finish(self.lo)

    def _finish(self, lo: int) -> None:
        self.lo = lo
        self.hi = self.size  # past the stretcher's last output the buffer holds silence, as the track does
        self.engine.set_span(self.slot, self.lo, self.hi)
        self._pass = None
        self.finished = True


@dataclass
class _Kept:
    """An offline stretch as its last job left it: the buffer, its span, and the stretcher to go on with."""

    buf: np.ndarray
    lo: int
    hi: int
    phase: int
    stretcher: _Pass | None
    finished: bool
    owner: weakref.ReferenceType[StretchJob]  # the job that left it


_FINISHED: OrderedDict[tuple[Any, ...], _Kept] = OrderedDict()
_JOBS: weakref.WeakSet[StretchJob] = weakref.WeakSet()  # every job that may still hold a stretcher


@atexit.register
def _let_go() -> None:
    """Every stretcher goes before the interpreter does (one still held at exit makes nanobind print a
    page of leak warnings)."""
    _FINISHED.clear()
    for job in list(_JOBS):
        job._pass = None


def source_of(path: Any) -> tuple[Any, ...] | None:
    """What identifies a track file's audio for the offline stretch cache: the real file (a rehearsal
    stages links to it), its size and its modification time; None when it cannot be read."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except (OSError, TypeError, ValueError):
        return None
    return (real, st.st_size, st.st_mtime_ns)


def _keep(key: tuple[Any, ...], kept: _Kept) -> None:
    _FINISHED[key] = kept
    _FINISHED.move_to_end(key)
    # what each holds: a stretch rendered only as far as it was read has touched no more of its buffer
    while _FINISHED and sum(k.buf[: k.hi].nbytes for k in _FINISHED.values()) > KEEP_BYTES:
        _FINISHED.popitem(last=False)


# -- on disk: a rehearsal resumed or run again overnight pays each stretch once ---------------------------
_DISK: list[Path | None] = [None]
_ON_DISK: dict[tuple[Any, ...], int] = {}  # what this process knows is on disk: frames held (-1: finished)
_DIGESTS: dict[tuple[Any, ...], str] = {}


def keep_on_disk(folder: str | os.PathLike[str] | None) -> None:
    """Keep finished offline stretches in `folder` (None, the default: only in memory), each named by
    its track's content (a hash of the file's bytes, not its name), the ratio, the shift, the start and
    what shapes the stretcher's output; `save_kept` writes them, a job reads one before rendering."""
    _DISK[0] = Path(folder) if folder is not None else None
    _ON_DISK.clear()


def keep_on_disk_folder() -> Path | None:
    return _DISK[0]


def _digest(source: tuple[Any, ...]) -> str | None:
    if source not in _DIGESTS:
        h = hashlib.sha1()
        try:
            with open(source[0], "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except (OSError, TypeError, IndexError):
            return None
        _DIGESTS[source] = h.hexdigest()
    return _DIGESTS[source]


def _disk_path(kept: tuple[Any, ...]) -> Path | None:
    folder, (source, sr, ratio, semitones, start) = _DISK[0], kept
    if folder is None or source is None:
        return None
    digest = _digest(source)
    if digest is None:
        return None
    import pylibrb

    what = f"{digest}|{sr}|{ratio!r}|{semitones!r}|{start}|{PROCESS_BLOCK}|{WARM_UP}|{SPLICE}|" \
           f"R3 finer {getattr(pylibrb, '__version__', '?')}"
    return folder / f"{hashlib.sha1(what.encode()).hexdigest()[:24]}.npy"


def save_kept() -> int:
    """Write every stretch this process keeps that has grown past its copy on disk (phase 1 or finished:
    a half-spliced one cannot be taken up again). Returns how many were written."""
    if _DISK[0] is None:
        return 0
    written = 0
    for kept, k in list(_FINISHED.items()):
        held = -1 if k.finished else k.hi
        if not (k.finished or k.phase == 1) or _ON_DISK.get(kept) in (-1, held):
            continue
        path = _disk_path(kept)
        if path is None:
            continue
        with contextlib.suppress(OSError, ValueError, KeyError):
            if path.with_suffix(".json").is_file():  # another run's copy: the longer one stays
                meta = json.loads(path.with_suffix(".json").read_text())
                if meta["finished"] or (not k.finished and meta["hi"] >= k.hi):
                    _ON_DISK[kept] = -1 if meta["finished"] else int(meta["hi"])
                    continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_suffix(f".{os.getpid()}.part.npy")
            np.save(part, k.buf[: k.hi])
            os.replace(part, path)  # the audio first, then what says it is there
            meta_part = path.with_suffix(f".{os.getpid()}.part")
            meta_part.write_text(json.dumps({"lo": k.lo, "hi": k.hi, "size": len(k.buf), "phase": k.phase,
                                             "finished": k.finished}))
            os.replace(meta_part, path.with_suffix(".json"))
        except OSError:
            continue  # a full disk: the rehearsal goes on, this stretch stays in memory only
        _ON_DISK[kept] = held
        written += 1
    return written
