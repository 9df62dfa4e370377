"""A candidate transition: plain data a worker can render and score anywhere (a process, a Dask worker).

A candidate names an ordered pair of tracks (the outgoing and the incoming one, as the phrase database
or the crate's sidecars describe them), a template, the phrase the incoming track enters on and the
phrase line the outgoing track leaves from — or, for the after-show review, the transition exactly as
it was played (`played`: a TransitionPlan as JSON, beats counted from its start). Two knobs bend it on
purpose, for the critic's own tests and for "what if" questions: `nudge` (beats the incoming deck
starts off its phrase line) and `drive_db` (both decks pushed hotter into the master chain).

`key` identifies a candidate across runs: a hash of everything that changes what it sounds like —
both tracks' analysis (tempo, grid, key, phrases, loudness) and file (size and time), the template's
curves, the knobs, the render settings and the critic's version. Re-analysing a track, editing a
learned template or changing the engine's settings makes new keys, so `copilot rehearse` renders them
again; everything else already scored is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from copilot.phrase_db.store import TrackRecord

SANDBOX_VERSION = 1  # bump when the same candidate would render differently


@dataclass(frozen=True)
class RenderSettings:
    """How the sandbox renders: the performer's engine table ([targets.standalone]), the safety table,
    and the bars of context either side of the transition."""

    engine: Mapping[str, Any] = field(default_factory=dict)
    safety: Mapping[str, Any] = field(default_factory=dict)
    margin_bars: int = 2  # bars rendered before the transition starts and after it ends
    keylock: bool = False  # key-lock stretches cost ~4 s of Rubber Band per minute of audio: off by default
    one_pass: bool = True  # each deck alone from the mix's own pass (the engine's deck tap), not a pass each

    def to_dict(self) -> dict[str, Any]:
        return {"engine": dict(self.engine), "safety": dict(self.safety), "margin_bars": self.margin_bars,
                "keylock": self.keylock, "one_pass": self.one_pass}


@dataclass(frozen=True)
class Candidate:
    out_track: TrackRecord
    in_track: TrackRecord
    template: str  # template id ("bass_swap", a learned one's name, "as played")
    template_data: Mapping[str, Any] | None = None  # a template not bundled: carried along for remote workers
    entry_bar: int = 0  # the incoming track's bar it enters on (a phrase start)
    exit_bar: int | None = None  # the outgoing track's bar the transition starts on (None: its outro line)
    bars: int | None = None  # None: the planner fits the template's bars to the phrase lines
    played: Mapping[str, Any] | None = None  # a transition as played (TransitionPlan JSON, beats from its start)
    nudge: float = 0.0  # beats the incoming deck starts late (+) or early (−) of its phrase line
    drive_db: float = 0.0  # both decks this much hotter than the loudness target
    source: str = "rehearsal"  # or "log:<file>" for the after-show review
    label: str = ""  # a word for the report ("as played at 21:14")

    def describe(self) -> str:
        name = self.template.replace("_", " ") + (f" {self.label}" if self.label else "")
        return f"{name}: '{self.out_track.title}' → '{self.in_track.title}' (enters bar {self.entry_bar + 1})"

    def pair(self) -> tuple[str, str]:
        return self.out_track.path, self.in_track.path

    def key(self, settings: RenderSettings, critic_version: int) -> str:
        data = {
            "v": [SANDBOX_VERSION, critic_version], "out": fingerprint(self.out_track),
            "in": fingerprint(self.in_track), "template": self.template, "curves": self.template_data,
            "entry": self.entry_bar, "exit": self.exit_bar, "bars": self.bars, "played": self.played,
            "nudge": self.nudge, "drive": self.drive_db, "settings": settings.to_dict(),
        }
        return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:20]

    def with_knobs(self, nudge: float | None = None, drive_db: float | None = None) -> Candidate:
        return replace(self, nudge=self.nudge if nudge is None else nudge,
                       drive_db=self.drive_db if drive_db is None else drive_db)


def fingerprint(track: TrackRecord) -> str:
    """What a track sounds like to the sandbox: its analysis and its file (a changed file or a fresh
    analysis gives a new fingerprint)."""
    try:
        st = os.stat(track.path)
        stat = [st.st_size, st.st_mtime_ns]
    except OSError:
        stat = None
    data = [track.path, track.content_hash, track.analysis_version, track.bpm, track.first_beat,
            track.key.index if track.key else None, track.lufs, track.duration, stat,
            [(p.start_bar, p.bars, p.label, round(p.energy, 4)) for p in track.phrases]]
    return hashlib.sha1(json.dumps(data, default=str).encode()).hexdigest()[:16]
