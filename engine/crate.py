"""The tracks the standalone engine can play: a folder the performer names, or the example crate.

Metadata comes from each file's JSON sidecar when it has one (the example crate's ground truth);
otherwise from the file itself once it is decoded (`update_from`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import Track, find_audio, sidecar


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


def _entry(path: Path) -> CrateTrack:
    meta = sidecar(path)
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
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class Crate:
    def __init__(self, paths: list[Path], source: str) -> None:
        self.tracks = [_entry(p) for p in paths]
        self.source = source

    def __len__(self) -> int:
        return len(self.tracks)

    @classmethod
    def from_options(cls, options: dict[str, Any], report: Callable[[str], None], build: bool = True) -> Crate | None:
        """The --crate folder, else the example crate (generated on first use when `build`)."""
        folder = options.get("crate")
        if folder:
            paths = find_audio(folder)
            if not paths:
                report(f"crate {folder}: no audio files found there (WAV, FLAC, OGG, MP3)")
                return None
            return cls(paths, str(folder))
        from .example_crate import default_folder, ensure_example_crate  # scipy & co. only when needed

        if build:
            report("no crate given: using the example crate (generated on first use)")
            return cls(ensure_example_crate(), "example crate")
        paths = find_audio(default_folder())
        return cls(paths, "example crate") if paths else None

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
