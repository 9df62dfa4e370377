"""The sandbox: one candidate transition rendered through the real session, scheduler, mixer and
built-in engine on a manual clock — only its span and a few bars either side — then judged.

Each render is a fresh offline session (`copilot run --out` in-process) on a staging crate of just the
two tracks (each file linked, with a sidecar written from its analysis, so a phrase-database track
and a crate track rehearse alike). The set-up — load both decks on their cues, start the outgoing one
`margin_bars` before its exit line — goes to the scheduler as one plan; the transition itself is asked
for in words ("bass swap into B in 16"), so the session's mixer plans it from what the decks hold,
exactly as on stage. The critic needs the decks apart to hear kicks and basslines against each other:
each deck alone comes from the same pass as the mix — the engine's tap of each deck after its fader,
before the master chain (`SessionOptions.out_decks`). `RenderSettings(one_pass=False)` renders it the
older way, for comparison: three passes, the mix and each deck alone (the other deck holding a silent
twin of its track, same length and analysis, so every envelope and step is the same).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.bridge.transition import Step, TransitionPlan
from copilot.engine import stretch
from copilot.engine.files import decode_with_notes, keep_decoded
from copilot.intents.schema import Intent, IntentKind
from copilot.intents.script import ScriptLine
from copilot.phrase_db.keys import Key
from copilot.phrase_db.loader import folder_records
from copilot.phrase_db.mixing import shifted
from copilot.phrase_db.mixlib import MixTrack
from copilot.phrase_db.store import TrackRecord

from . import critic
from .candidate import Candidate, RenderSettings

STRETCHES = "stretches"  # the out folder's sub-folder of finished key-shift stretches (engine.stretch.keep_on_disk)
LOUDNESS = "loudness"  # … and of the tracks' measured loudness (loudness_of), for tracks whose analysis has none
DECODED_BYTES = 512 << 20  # decoded files a worker keeps: every candidate of a pair loads the same two
SETUP_LOAD = 1.0  # clock beat both decks load on
SETUP_PLAY = 4.0  # clock beat the outgoing deck starts on (a bar line)
ASK_AT = 5.0  # clock beat the transition is asked for (the outgoing deck is playing, its line still ahead)


class SandboxError(RuntimeError):
    """A candidate that cannot be rendered (a file gone, a plan refused); the message says why."""


@dataclass
class Rendered:
    """One candidate rendered: the mix and each deck alone (frames × 2, cropped to the span and its
    margins), where the transition sits in them, and the plan the mixer made."""

    candidate: Candidate
    mix: np.ndarray
    out_alone: np.ndarray
    in_alone: np.ndarray
    context: critic.Context
    plan: dict[str, Any]
    audio_seconds: float  # seconds of audio rendered (every pass)
    said: list[str] = field(default_factory=list)

    def judge(self) -> critic.Verdict:
        return critic.judge(self.mix, self.context, self.out_alone, self.in_alone)


def sidecar_of(track: TrackRecord) -> dict[str, Any]:
    """The ground-truth sidecar a crate file carries, written from a track's analysis."""
    spb = 60.0 / track.bpm if track.bpm else None
    first = track.first_beat or 0.0
    beats = int(track.duration / spb) if spb and track.duration else 0
    sections = [{"label": p.label, "start_bar": p.start_bar, "bars": p.bars, "energy": p.energy}
                for p in track.phrases]
    return {"title": track.title, "artist": track.artist, "bpm": track.bpm, "duration": track.duration,
            "beats": [first + i * spb for i in range(beats)] if spb else [], "sections": sections,
            "key": {"name": track.key.name} if track.key else None, "lufs": track.lufs,
            "tags": list(track.tags)}


_LUFS: dict[tuple[str, int, int], float | None] = {}  # per worker process: each track measured once


def loudness_of(track: TrackRecord, kept: Path | None = None) -> float | None:
    """The track's integrated loudness: its analysis's, else measured once — per process, and with `kept`
    (the out folder's LOUDNESS) once for every worker and every later run: each worker measuring every
    track it touches was a tenth of a second per track, the largest of a fresh worker's first touches. A
    file changed since (its size or time) is measured afresh. The silent twin carries the real track's
    figure, so every pass gives each deck the same loudness-match gain."""
    if track.lufs is not None:
        return track.lufs
    source = stretch.source_of(track.path)
    if source is None:
        raise SandboxError(f"'{track.title}' cannot be read ({track.path}); analyse the library again")
    key: tuple[str, int, int] = source  # type: ignore[assignment] - (real path, size, mtime): what names the audio
    if key in _LUFS:
        return _LUFS[key]
    disk = kept / f"{hashlib.sha1(repr(key).encode()).hexdigest()[:24]}.json" if kept is not None else None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if disk is not None and disk.is_file():
            value = json.loads(disk.read_text())["lufs"]
            _LUFS[key] = None if value is None else float(value)
            return _LUFS[key]
    from copilot.phrase_db.loudness import integrated_lufs

    keep_decoded(DECODED_BYTES)  # the same decoded samples the engine's load takes next
    audio, sr, _ = decode_with_notes(Path(track.path))
    value = integrated_lufs(audio, sr)
    _LUFS[key] = round(value, 2) if np.isfinite(value) else None
    if disk is not None:  # written aside, then moved into place whole: another worker reads all or nothing
        with contextlib.suppress(OSError):
            disk.parent.mkdir(parents=True, exist_ok=True)
            part = disk.with_suffix(f".{os.getpid()}.part")
            part.write_text(json.dumps({"lufs": _LUFS[key], "path": key[0]}))
            os.replace(part, disk)
    return _LUFS[key]


@functools.cache
def _twin_folder() -> Path:
    """Where this process keeps its silent twins: made once per track, not per candidate, and gone when
    the process ends (a six-minute twin is 140 MB: never in the performer's report folder)."""
    folder = Path(tempfile.mkdtemp(prefix="copilot-silent-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def silent_twin(path: Path, folder: Path) -> Path:
    """A file of silence exactly as long as `path`, made once per folder (written aside, then moved into
    place whole)."""
    info = sf.info(str(path))
    name = hashlib.sha1(f"{path.resolve()}|{info.frames}|{info.channels}".encode()).hexdigest()[:16]
    twin = folder / f"silent-{name}.wav"
    if not twin.exists():
        folder.mkdir(parents=True, exist_ok=True)
        part = twin.with_suffix(f".{os.getpid()}.part")
        sf.write(part, np.zeros((info.frames, info.channels), np.float32), info.samplerate, subtype="FLOAT",
                 format="WAV")
        os.replace(part, twin)
    return twin


def stage(candidate: Candidate, folder: Path, silent: str | None, twins: Path,
          kept: Path | None = None) -> tuple[MixTrack, MixTrack]:
    """A crate of the two tracks in `folder` (`silent`: "out" or "in" gets its silent twin, kept in
    `twins`; `kept`: where measured loudness is kept, `loudness_of`)."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = []
    for role, track in (("out", candidate.out_track), ("in", candidate.in_track)):
        src = Path(track.path)
        if not src.is_file():
            raise SandboxError(f"'{track.title}' is gone ({src}); analyse the library again")
        name = f"{role}-{re.sub(r'[^a-z0-9]+', '-', track.title.lower()).strip('-') or 'track'}"
        dst = folder / f"{name}{src.suffix.lower()}"
        audio = silent_twin(src, twins) if silent == role else src
        with contextlib.suppress(FileNotFoundError):
            dst.unlink()
        os.symlink(audio.resolve(), dst)
        dst.with_suffix(".json").write_text(json.dumps({**sidecar_of(track), "lufs": loudness_of(track, kept)}))
        staged.append(dst)
    records = {r.path: r for r in folder_records([folder])}
    return MixTrack.of(records[str(staged[0])]), MixTrack.of(records[str(staged[1])])


def _template_words(candidate: Candidate) -> dict[str, Any]:
    args: dict[str, Any] = {"template": candidate.template, "to": "B", "from": "A"}
    if candidate.bars:
        args["bars"] = candidate.bars
    return args


@dataclass
class Pass:
    """One offline session rendered into memory."""

    audio: np.ndarray  # the master, from clock beat 0 (frames × 2)
    decks: np.ndarray | None  # each deck after its fader, same samples (decks × frames × 2), when asked for
    plan: dict[str, Any]  # the transition the mixer planned, as data
    said: list[str]  # what the session said
    anchors: dict[str, float]  # where the decks' tracks sit: their anchors in clock beats


def render_pass(candidate: Candidate, settings: RenderSettings, folder: Path, silent: str | None,
                twins: Path | None = None, decks: bool = False, kept: Path | None = None) -> Pass:
    """One offline session, rendered into memory (`decks`: each deck alone from the same pass too;
    `kept`: where measured loudness is kept, `loudness_of`)."""
    out_t, in_t = stage(candidate, folder / (silent or "mix"), silent, twins or folder, kept)
    tempo = float(candidate.out_track.bpm or 120.0)
    margin = 4.0 * settings.margin_bars
    exit_beat = 4.0 * (candidate.exit_bar if candidate.exit_bar is not None else outro_bar(candidate.out_track))
    cue_out = max(0.0, exit_beat - margin)
    cue_in = 4.0 * candidate.entry_bar + candidate.nudge
    options = SessionOptions(target="standalone", out_memory=True, crate=folder / (silent or "mix"), link=False,
                             tempo=tempo, osc=None, log=folder / "session.jsonl", auto_wait=0.0,
                             out_decks=decks)
    # the autopilot stays out: the sandbox plays exactly the candidate
    engine = {**dict(settings.engine), "autopilot": False}
    if candidate.drive_db:  # both decks hotter into the master chain: a louder loudness target
        loud = dict(engine.get("loudness") or {})
        loud["target_lufs"] = min(-5.0, float(loud.get("target_lufs", -14.0)) + candidate.drive_db)
        engine["loudness"] = loud
    config = Config({"targets": {"standalone": engine},
                     "safety": dict(settings.safety)})
    said: list[str] = []
    bars = candidate.bars or 16
    # through the span's end and its margin, and one bar more for the limiter's look-ahead
    seconds = (SETUP_PLAY + margin + bars * 4.0 + margin + 4.0) * 60.0 / tempo
    options.duration = seconds
    with contextlib.redirect_stdout(io.StringIO()):
        session = Session(options, config, host=_host(config))
        session.report = said.append  # type: ignore[method-assign] - what the session says goes to the report
        session.start()
        try:
            setup = TransitionPlan("setup", "set-up", "A", "B", SETUP_PLAY, 0, (), (
                Step("LOAD", "A", SETUP_LOAD, {"query": out_t.title, "title": out_t.title, "cue": cue_out,
                                               "resolved": out_t.resolved("rehearsal")}),
                Step("LOAD", "B", SETUP_LOAD, {"query": in_t.title, "title": in_t.title, "cue": cue_in,
                                               "resolved": in_t.resolved("rehearsal")}),
                Step("PLAY", "A", SETUP_PLAY)))
            decided = session.scheduler.submit(Intent(IntentKind.TRANSITION, args={"to": "B"}), {"plan": setup})
            if not decided.actions:
                raise SandboxError(f"the set-up was refused: {decided.reason}")
            ask = Intent(IntentKind.TRANSITION, args=_template_words(candidate))
            session.script = [ScriptLine(ASK_AT * 60.0 / tempo, candidate.describe(), 0, ask)]
            plans: list[dict[str, Any]] = []
            session.listen_decisions(lambda d: plans.extend(
                t for t in session.transitions() if t["intent_id"] == ask.id == d.intent.id))
            session.play()
        finally:
            session.stop()
    plan = next((p for p in plans if p.get("template") != "set-up"), None)
    if plan is None:
        why = next((s for s in said if "✗" in s), "the mixer made no plan")
        raise SandboxError(why)
    target = session.host.get("standalone")
    anchors = {"A": SETUP_PLAY - cue_out, "B": _play_beat(plan, "B") - cue_in}
    return Pass(target.rendered, target.rendered_decks if decks else None, plan, said, anchors)


def _host(config: Config) -> TargetHost:
    """The sandbox's targets: the built-in engine and the phrase database, handed in (looking through every
    installed plugin's entry point, twice per session, cost a tenth of a candidate's render)."""
    from copilot.plugins import phrase_db, standalone

    return TargetHost(config.targets(), plugins=[standalone, phrase_db], entry_points=False, settings=config.data)


def _play_beat(plan: dict[str, Any], deck: str) -> float:
    return next((float(s["beat"]) for s in plan.get("steps", []) if s["kind"] == "PLAY" and s["deck"] == deck),
                float(plan["start"]))


def outro_bar(track: TrackRecord) -> int:
    """The outgoing track's default exit: its last phrase line (the start of its last phrase)."""
    if track.phrases:
        outro = [p for p in track.phrases if p.label == "outro"]
        return (outro[0] if outro else track.phrases[-1]).start_bar
    bars = int((track.duration or 0) * (track.bpm or 120) / 240)
    return max(0, bars - 16)


def render(candidate: Candidate, settings: RenderSettings, workdir: Path | None = None) -> Rendered:
    """The candidate rendered — the mix and each deck alone — and cropped to its span ± `margin_bars`.
    Each deck alone is the engine's tap of that deck in the same pass (`settings.one_pass`), or a pass of
    its own with the other deck's track silent (three passes: the way before the tap, kept to compare)."""
    keep_decoded(DECODED_BYTES)
    if workdir is not None and stretch.keep_on_disk_folder() != workdir / STRETCHES:
        stretch.keep_on_disk(workdir / STRETCHES)
    kept = workdir / LOUDNESS if workdir is not None else None
    with tempfile.TemporaryDirectory(prefix="rehearse-", dir=workdir) as tmp:
        folder = Path(tmp)
        if settings.one_pass:
            one = render_pass(candidate, settings, folder, None, decks=True, kept=kept)
            assert one.decks is not None
            mix, plan, said, anchors = one.audio, one.plan, one.said, one.anchors
            out_alone, in_alone, passes = one.decks[0], one.decks[1], 1
        else:
            twins = _twin_folder()
            one = render_pass(candidate, settings, folder, None, twins, kept=kept)
            mix, plan, said, anchors = one.audio, one.plan, one.said, one.anchors
            out_alone = render_pass(candidate, settings, folder, "in", twins, kept=kept).audio
            in_alone = render_pass(candidate, settings, folder, "out", twins, kept=kept).audio
            passes = 3
    stretch.save_kept()  # a stretch new to this run: on disk for every worker and every later run
    tempo = float(candidate.out_track.bpm or 120.0)
    spb, sr = 60.0 / tempo, 48000
    margin = 4.0 * settings.margin_bars
    lo_beat, hi_beat = float(plan["start"]) - margin, float(plan["end"]) + margin
    lo, hi = round(lo_beat * spb * sr), round(hi_beat * spb * sr)
    n = min(len(mix), len(out_alone), len(in_alone), hi)
    if n < hi:  # the mixer placed it on a later line than the candidate's: the render stopped too soon
        raise SandboxError(f"{candidate.describe()}: planned at beat {plan['start']:g}, not on its phrase line "
                           f"(beat {SETUP_PLAY + margin:g}); the outgoing track has no line there")

    def crop(x: np.ndarray) -> np.ndarray:
        return x[lo:n]

    def bounds(track: TrackRecord, anchor: float) -> list[float]:
        lines = sorted({p.start_bar for p in track.phrases} | {p.start_bar + p.bars for p in track.phrases})
        return [(anchor + 4.0 * b - lo_beat) * spb for b in lines]

    facts = plan.get("facts") or {}
    in_key = candidate.in_track.key
    if in_key is not None and facts.get("key_shift"):
        in_key = shifted(in_key, int(facts["key_shift"]))
    ctx = critic.Context(
        samplerate=sr, tempo=tempo, start=margin * spb, end=(float(plan["end"]) - lo_beat) * spb, grid=0.0,
        out_key=_key_text(candidate.out_track.key), in_key=_key_text(in_key),
        out_bpm=candidate.out_track.bpm, in_bpm=candidate.in_track.bpm,
        out_bounds=bounds(candidate.out_track, anchors["A"]), in_bounds=bounds(candidate.in_track, anchors["B"]))
    return Rendered(replace(candidate), crop(mix), crop(out_alone), crop(in_alone), ctx, plan,
                    passes * len(mix) / sr, said)


def _key_text(key: Key | None) -> str | None:
    return None if key is None else key.camelot

