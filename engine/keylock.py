"""Key-lock and key shift per deck: which audio each deck should sound, and the worker that renders it.

A deck with key-lock on plays at the session tempo at its own pitch: it sounds a Rubber Band stretch
of its track at ratio (track BPM / session BPM), shifted by its key shift; with key-lock off it plays
its track varispeed (shifted in key by a stretch at ratio 1 when it has a key shift). Stretches are
rendered off the audio thread (`stretch.StretchJob`): on a worker thread live, at once offline, and
kept in a small cache per (track, ratio, key shift). The kernel switches to a stretch only where it
holds the play head's audio; until then the deck plays varispeed, and this says so in the log.

Tempo: a TEMPO action reaches the engine target ahead of its beat (`tempo`), so the new stretches
render before the change and the deck cross-fades to them on the beat; a tempo that moves by itself
(a Link peer) is followed once it has settled for `SETTLE` seconds, meanwhile the deck reads its old
stretch varispeed (its pitch glides with the tempo, then settles back on the key).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from copilot.phrase_db.keys import Key, camelot_distance

from .files import Track
from .stretch import SPLICE, StretchJob, StretchKey, source_of

SETTLE = 0.5  # seconds a tempo must hold before the decks re-stretch to it
# Offline a stretch renders only this many seconds of track ahead of its deck's play head, and follows
# the head block by block: a render reads what it plays, not the whole track (a six-minute track took
# 25 s of Rubber Band whole, for a rehearsal that hears 40 s of it). None: the whole track at once.
OFFLINE_AHEAD: float | None = 2.0
CACHE = 4  # stretched tracks kept (each as large as its track: ~140 MB for six minutes)
MAX_SHIFT = 12.0  # semitones either way
STEP_BLOCKS = 8  # process blocks per worker step (~0.7 s of audio, some 50 ms of work)


@dataclass
class DeckKey:
    track: Track | None = None
    keylock: bool = True
    semitones: float = 0.0
    wanted: StretchKey | None = None  # the stretch the deck was last told to sound (None: its track)
    told: bool = False  # the log has said the deck plays varispeed while its stretch renders


def track_key(track: Track | None) -> Key | None:
    """The track's key from the phrase database's answer or its sidecar ("A minor (8A)", {"name": …})."""
    if track is None:
        return None
    raw: Any = track.key if track.key is not None else track.meta.get("key")
    if isinstance(raw, dict):
        raw = raw.get("name") or raw.get("camelot")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return Key.parse(raw.split("(")[0].strip())
    except ValueError:
        return None


def shifted(key: Key, semitones: float) -> Key:
    return Key((key.tonic + round(semitones)) % 12, key.mode)


def matching_shift(key: Key, reference: Key) -> int:
    """The key shift (−6..+5) that brings `key` nearest `reference` on the Camelot wheel, smallest first."""
    return min(range(-6, 6), key=lambda s: (camelot_distance(shifted(key, s), reference), abs(s)))


class KeyLock:
    def __init__(self, engine: Any, clock: Any, report: Callable[[str], None], live: bool,
                 keylock: bool = True, cache: int = CACHE) -> None:
        self.engine = engine
        self.clock = clock
        self.report = report
        self.live = live
        self.cache_size = cache
        self.decks = {d: DeckKey(keylock=keylock) for d in range(engine.decks)}
        self.session_bpm = float(clock.tempo)
        self._seen = (self.session_bpm, clock.now())
        self._planned: tuple[float, float] | None = None  # a TEMPO action's (bpm, beat) still ahead
        self._cache: OrderedDict[StretchKey, StretchJob] = OrderedDict()
        self._sources: dict[StretchKey, tuple[Any, ...] | None] = {}  # offline: each stretch's audio (`source_of`)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._running = True
        self._failed = False  # the log has said key-lock is unavailable
        self._thread: threading.Thread | None = None
        if live:
            self._thread = threading.Thread(target=self._work, name="copilot-keylock", daemon=True)
            self._thread.start()

    # -- what the performer asks -----------------------------------------------------------------------
    def loaded(self, deck: int, track: Track, beat: float | None = None, cue: float = 0.0) -> None:
        """A new track on `deck`: stretch it from its cue (track beat `cue`). Key-lock and key shift are the
        deck's settings and stay as they are (a key shift asked for while the track was loading applies)."""
        self.decks[deck].track = track
        self._apply(deck, beat, head=track.first_beat * track.samplerate + cue * track.samples_per_beat)

    def set_keylock(self, deck: int, on: bool, beat: float | None = None) -> tuple[int, float] | None:
        """Key-lock on or off from `beat`; returns the (slot, ratio) to send (see `plan`)."""
        self.decks[deck].keylock = bool(on)
        return self.plan(deck, beat)

    def shift(self, deck: int, semitones: float, beat: float | None = None) -> tuple[int, float] | None:
        """The deck's key shift becomes `semitones` (whole, capped at ±12) from `beat` (see `plan`)."""
        self.decks[deck].semitones = float(min(MAX_SHIFT, max(-MAX_SHIFT, round(semitones))))
        return self.plan(deck, beat)

    def match(self, deck: int, reference: int) -> float:
        """The key shift that puts `deck` in (or next to) the key `reference` sounds in. ValueError with a
        performer's sentence when a key is unknown."""
        mine, theirs = track_key(self.decks[deck].track), track_key(self.decks[reference].track)
        names = "ABCD"
        for d, key in ((deck, mine), (reference, theirs)):
            if key is None:
                what = "has no track" if self.decks[d].track is None else "has a track of unknown key"
                raise ValueError(f"deck {names[d]} {what}; analyse the library (copilot db analyse) to know it")
        assert mine is not None and theirs is not None
        return float(matching_shift(mine, shifted(theirs, self.decks[reference].semitones)))

    def tempo(self, bpm: float, beat: float | None) -> dict[int, tuple[int, float]]:
        """The session tempo becomes `bpm` on `beat`: every deck's stretch for it starts rendering now;
        returns what each deck should sound from the beat on (see `plan`)."""
        self.session_bpm = float(bpm)
        self._planned = (float(bpm), beat) if beat is not None else None
        plans = {deck: self.plan(deck, beat) for deck in self.decks}
        return {deck: p for deck, p in plans.items() if p is not None}

    def status(self, deck: int) -> dict[str, Any]:
        k = self.decks[deck]
        key = track_key(k.track)
        return {"keylock": k.keylock, "key_shift": k.semitones,
                "key": shifted(key, k.semitones).camelot if key is not None else None}

    # -- the clock and the log (feeder thread live, every block offline) ---------------------------------
    def settled(self) -> bool:
        """No tempo change planned or waiting to settle: `tick` will not act on time alone."""
        return self._planned is None and float(self.clock.tempo) == self.session_bpm == self._seen[0]

    def tick(self) -> None:
        now, bpm = self.clock.now(), float(self.clock.tempo)
        if self._planned is not None:
            if bpm != self._planned[0] and self.clock.beat_at_time(now) < (self._planned[1] or 0.0) + 1.0:
                return  # a planned change not yet on its beat
            self._planned = None
        if bpm != self._seen[0]:
            self._seen = (bpm, now)
        elif bpm != self.session_bpm and now - self._seen[1] >= SETTLE:
            self.report(f"tempo settled at {bpm:g} BPM: key-locked decks re-stretch to it")
            self.session_bpm = bpm
            for deck in self.decks:
                self._apply(deck, None)
        if self.live:
            self._tell()
        elif OFFLINE_AHEAD is not None:
            self._ahead()

    def _ahead(self) -> None:
        """Offline, before each block: every wanted stretch holds its deck's audio a little past the head."""
        beat = self.clock.beat_at_time(self.clock.now())
        for deck, k in self.decks.items():
            job = self._cache.get(k.wanted) if k.wanted is not None else None
            if job is not None and not job.finished:
                job.run(self._sources.get(job.key), self._until(job, self.engine.head_frame(deck, beat)))

    @staticmethod
    def _until(job: StretchJob, head: float) -> float | None:
        """The output frame an offline stretch must reach to hold track frame `head` and what follows it."""
        if OFFLINE_AHEAD is None:
            return None
        return (max(0.0, head) + OFFLINE_AHEAD * job.sr) * job.key.ratio + SPLICE

    def _tell(self) -> None:
        beat = self.clock.beat_at_time(self.clock.now())
        for deck, k in self.decks.items():
            job = self._cache.get(k.wanted) if k.wanted is not None else None
            if job is None or not self.engine.deck_state(deck)["playing"]:
                continue
            ready = job.covers(self.engine.head_frame(deck, beat))
            if not ready and not k.told:
                self.report(f"deck {'ABCD'[deck]} plays varispeed: its key-lock stretch ({self._describe(k)}) "
                            "is still rendering")
                k.told = True
            elif ready and k.told:
                self.report(f"deck {'ABCD'[deck]}: key-lock stretch ready ({self._describe(k)}, "
                            f"{job.seconds:.1f} s of work so far)")
                k.told = False

    @staticmethod
    def _describe(k: DeckKey) -> str:
        bits = []
        if k.wanted is not None and k.track is not None and k.keylock:
            bits.append(f"{k.track.bpm / k.wanted.ratio:.1f} BPM")
        if k.semitones:
            bits.append(f"{k.semitones:+g} st")
        return ", ".join(bits) or "as recorded"

    # -- deciding and rendering ----------------------------------------------------------------------------
    def plan(self, deck: int, beat: float | None, head: float | None = None) -> tuple[int, float] | None:
        """The audio `deck` should sound from `beat` on, as (slot, ratio) for `Engine.stretch` (slot −1:
        its track); starts rendering it if need be. None when the deck has no track."""
        k = self.decks[deck]
        if k.track is None:
            return None
        ratio = k.track.bpm / self.session_bpm if k.keylock else 1.0
        key = StretchKey.of(str(k.track.path), ratio, k.semitones)
        if key.identity:
            k.wanted = None
            return -1, 1.0
        if head is None:
            at = beat if beat is not None else self.clock.beat_at_time(self.clock.now())
            head = self.engine.head_frame(deck, at)
        k.wanted, k.told = key, False
        try:
            job = self._job(key, k.track, head)
        except Exception as exc:  # noqa: BLE001 - no stretcher (or a broken one): the deck plays varispeed
            k.wanted = None
            if not self._failed:
                self.report(f"key-lock unavailable ({type(exc).__name__}: {exc}); decks play varispeed")
                self._failed = True
            return -1, 1.0
        return job.slot, key.ratio

    def _apply(self, deck: int, beat: float | None, head: float | None = None) -> None:
        """`plan`, told to the kernel at once (a load, a settled tempo)."""
        planned = self.plan(deck, beat, head)
        if planned is not None:
            self.engine.stretch(deck, planned[0], planned[1], beat)

    def _job(self, key: StretchKey, track: Track, head: float) -> StretchJob:
        with self._lock:
            job = self._cache.get(key)
            if job is not None:
                self._cache.move_to_end(key)
                return job
            start = max(0, int(head - 2 * track.samples_per_beat))  # a little before the head: loops, rolls
            if start < 8 * track.samples_per_beat:
                start = 0  # near the top: one pass from the start
            job = StretchJob(self.engine, key, track.audio, start)
            if not self.live:
                self._sources[key] = source_of(track.path)
                job.run(self._sources[key], self._until(job, head))
            self._cache[key] = job
            self._evict()
        self._wake.set()
        return job

    def _evict(self) -> None:
        wanted = {k.wanted for k in self.decks.values()}
        for key in list(self._cache):
            if len(self._cache) <= self.cache_size:
                break
            if key not in wanted:
                self.engine.unpin(self._cache.pop(key).slot)

    def _work(self) -> None:
        """The worker: renders the wanted stretch with the least audio ahead of its deck's head first."""
        with contextlib.suppress(AttributeError, OSError):  # below the audio and dispatch threads
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while self._running:
            job = self._next()
            if job is None:
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            try:
                job.step(STEP_BLOCKS)
            except Exception as exc:  # noqa: BLE001 - a stretcher failure leaves the deck varispeed, never down
                self.report(f"key-lock stretch failed ({type(exc).__name__}: {exc}); the deck plays varispeed")
                with self._lock:
                    self._cache.pop(job.key, None)
                self.engine.unpin(job.slot)

    def _next(self) -> StretchJob | None:
        beat = self.clock.beat_at_time(self.clock.now())
        best: tuple[float, StretchJob] | None = None
        with self._lock:
            for deck, k in self.decks.items():
                job = self._cache.get(k.wanted) if k.wanted is not None else None
                if job is None or job.finished:
                    continue
                lead = job.hi - self.engine.head_frame(deck, beat) * job.key.ratio
                if best is None or lead < best[0]:
                    best = (lead, job)
            if best is None:  # nothing wanted is unfinished: finish what the cache still renders
                best = next(((0.0, j) for j in self._cache.values() if not j.finished), None)
        return best[1] if best else None

    def close(self) -> None:
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)
