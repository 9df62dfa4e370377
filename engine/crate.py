"""The tracks the standalone engine can play: a folder the performer names, or the example crate.

Metadata comes from each file's JSON sidecar when it has one (the example crate's ground truth);
otherwise from the file itself once it is decoded (`update_from`).

A crate that cannot play is said, never rendered as silence: a folder that does not exist or holds no
audio is a `CrateError` (the run stops with the reason); a track found unplayable (missing, corrupt,
no beat) is marked with its `problem` once, said in one line, and passed over from then on.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import AUDIO_SUFFIXES, Track, TrackError, find_audio, sidecar


class CrateError(ValueError):
    """The crate cannot be played at all; the message says why and what to do."""


class NotReady(TrackError):
    """A track still being written (the example crate on a fresh machine): not unplayable, only late."""


@dataclass
class CrateTrack:
    path: Path
    title: str
    artist: str = ""
    bpm: float | None = None
    first_beat: float | None = None
    duration: float | None = None
    sections: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    problem: str | None = None  # why it cannot play, once known (then it is passed over)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)  # its sidecar truth, as read

    @property
    def complete(self) -> bool:
        return self.bpm is not None and self.duration is not None

    @property
    def beats(self) -> float:
        """Length in the track's own beats, from beat 1."""
        assert self.bpm is not None and self.duration is not None
        return (self.duration - (self.first_beat or 0.0)) * self.bpm / 60.0

    def outro_beat(self) -> float | None:
        """Track beat where the outro starts (from the sidecar's sections)."""
        for sec in self.sections:
            if str(sec.get("label", "")).lower() == "outro" and "start_bar" in sec:
                return float(sec["start_bar"]) * 4.0
        return None

    def update_from(self, track: Track) -> None:
        self.bpm = track.bpm
        self.first_beat = track.first_beat
        self.duration = track.seconds

    def to_resolved(self, why: str) -> dict[str, Any]:
        return {"path": str(self.path), "title": self.title, "artist": self.artist, "bpm": self.bpm,
                "first_beat": self.first_beat, "why": why}


def _entry(path: Path, meta: dict[str, Any] | None = None) -> CrateTrack:
    meta = sidecar(path) if meta is None else meta
    beats = meta.get("beats")
    first = float(beats[0]) if isinstance(beats, list) and beats else meta.get("first_beat")
    return CrateTrack(
        path=path,
        title=str(meta.get("title") or path.stem),
        artist=str(meta.get("artist") or ""),
        bpm=float(meta["bpm"]) if isinstance(meta.get("bpm"), int | float) else None,
        first_beat=float(first) if isinstance(first, int | float) else None,
        duration=float(meta["duration"]) if isinstance(meta.get("duration"), int | float) else None,
        sections=list(meta.get("sections") or []),
        tags=[str(t) for t in meta.get("tags") or []],
        meta=meta,
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class Crate:
    def __init__(self, paths: list[Path], source: str, metas: list[dict[str, Any]] | None = None,
                 wait: Callable[[Path, float], bool] | None = None, close: Callable[[], None] | None = None) -> None:
        self.tracks = [_entry(p, m) for p, m in zip(paths, metas or [None] * len(paths), strict=True)]
        self.source = source
        self._wait = wait  # files still being written (the example crate): wait for one before reading it
        self._close = close
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop writing files that are still being written (the example crate)."""
        if self._close is not None:
            self._close()

    def __len__(self) -> int:
        return len(self.tracks)

    @classmethod
    def from_options(cls, options: dict[str, Any], report: Callable[[str], None], build: bool = True) -> Crate | None:
        """The --crate folder, else the example crate (its first track written now when `build`, the rest
        behind it). With `build`, a --crate folder that is missing or holds no audio is a CrateError;
        without (a library lookup), None."""
        folder = options.get("crate")
        if folder:
            paths = find_audio(folder)
            if not paths:
                if not build:
                    return None
                raise CrateError(_empty(Path(folder).expanduser()))
            crate = cls(paths, str(folder))
            for t in crate.tracks:
                if not t.path.is_file():  # a link to a file that has gone
                    crate.mark_unplayable(t.path, "no such file (a broken link?)", report)
            return crate
        from .example_crate import build_first_then_rest, default_folder  # scipy & co. only when needed

        if build:
            report("no crate given: using the example crate")
            made = build_first_then_rest(report=report)
            return cls(made.paths, "example crate", made.truths, made.wait, made.close)
        paths = find_audio(default_folder())
        return cls(paths, "example crate") if paths else None

    # -- what can play -----------------------------------------------------------------------------
    def mark_unplayable(self, path: Path | str, reason: str, report: Callable[[str], None] | None = None) -> bool:
        """Note that a track cannot play (said once, in one line); True the first time."""
        with self._lock:
            entry = self.entry(path)
            if entry is None or entry.problem is not None:
                return False
            entry.problem = reason
        if report is not None:
            report(f"skipped {Path(path).name}: {reason}")
        return True

    def entry(self, path: Path | str) -> CrateTrack | None:
        path = Path(path)
        return next((t for t in self.tracks if t.path == path), None)

    def playable(self) -> list[CrateTrack]:
        """Tracks not known to be unplayable (those not tried yet included)."""
        return [t for t in self.tracks if t.problem is None]

    def next_playable(self, after: Path | str, ready: bool = False) -> CrateTrack | None:
        """The first playable track after `after` in crate order (wrapping round), or None; with `ready`,
        only one already on disk."""
        paths = [t.path for t in self.tracks]
        start = paths.index(Path(after)) + 1 if Path(after) in paths else 0
        for i in range(len(self.tracks)):
            t = self.tracks[(start + i) % len(self.tracks)]
            if t.problem is None and t.path != Path(after) and (not ready or self.on_disk(t.path)):
                return t
        return None

    def on_disk(self, path: Path | str) -> bool:
        """Whether a track can be read now (False for an example track still being written)."""
        return self._ready(Path(path), 0.0)

    def wait_ready(self, path: Path | str, timeout: float = 20.0) -> None:
        """Block (loader thread) until a track still being written is on disk; NotReady if it is not by
        then (a very busy machine: the track is fine, just late — another one plays meanwhile)."""
        if not self._ready(Path(path), timeout):
            raise NotReady(f"{Path(path).name} is still being written after {timeout:g} s")

    def _ready(self, path: Path, timeout: float) -> bool:
        return self._wait is None or self._wait(path, timeout)

    def exact(self, title: str) -> dict[str, Any] | None:
        """The track with exactly this title (case aside), or None."""
        want = title.strip().lower()
        for t in self.tracks:
            if t.title.lower() == want:
                return t.to_resolved(f"'{t.title}' in {self.source}")
        return None

    def find(self, query: str) -> dict[str, Any] | None:
        """Best match by words in title, artist, tags and file name; None when nothing matches."""
        want = _words(query)
        if not want:
            return None
        best: tuple[float, CrateTrack | None] = (0.0, None)
        for t in self.tracks:
            have = _words(" ".join([t.title, t.artist, t.path.stem, *t.tags]))
            score = len(want & have) / len(want)
            bpm_words = [w for w in want if w.isdigit()]
            if t.bpm and bpm_words and any(abs(float(w) - t.bpm) < 1.5 for w in bpm_words):
                score += 0.5
            if score > best[0]:
                best = (score, t)
        if best[1] is None or best[0] < 0.5:
            return None
        return best[1].to_resolved(f"matched '{query}' in {self.source}")


def _empty(folder: Path) -> str:
    if not folder.exists():
        return f"crate {folder}: no such folder; give --crate an existing folder of tracks, or leave it out " \
               "to play the example crate"
    if not folder.is_dir():
        return f"crate {folder}: not a folder; give --crate the folder the tracks are in"
    kinds = ", ".join(s.lstrip(".").upper() for s in AUDIO_SUFFIXES)
    return f"crate {folder}: no audio files there ({kinds}); nothing to play"
