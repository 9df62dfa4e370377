"""The bundled example crate: a few generated tracks, written once and kept in the user cache folder.

A fresh machine needs music for the standalone engine's two-deck mix and for the voice helper's
music bed, with nothing downloaded. `ensure_example_crate()` renders the tracks below with
`copilot.engine.example_synth` (FLAC with title/artist/genre tags) and writes each track's ground truth
beside it as `<name>.json`. Files are written to a temporary name and renamed, sidecar last, so a
crash or a second process never leaves a half track that looks finished.

`copilot run` does not wait for all of them: `build_first_then_rest()` renders the first track now and
the rest on a low-priority thread behind it, so the first deck plays within seconds on a fresh machine.
Each track's truth (title, tempo, sections, length) is known before its audio exists (`track_truth`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import soundfile as sf

from .example_synth import GENERATOR, Section, TrackSpec, render_track, track_truth

CRATE_VERSION = 1  # bump when the list below changes

S = Section
CRATE: tuple[TrackSpec, ...] = (
    TrackSpec("Dubby Roller", "Low Tide", 118.0, "A", "minor", seed=11, genre="Dub Techno",
              tags=("dub", "dubby", "deep", "roller"),
              sections=(S("intro", 16), S("build", 8), S("main", 32), S("break", 8), S("drop", 16), S("outro", 16))),
    TrackSpec("Warehouse Tool", "Grid Unit", 122.5, "F", "minor", seed=12, genre="Techno",
              tags=("tool", "warehouse", "driving"),
              sections=(S("intro", 16), S("main", 32), S("break", 16), S("drop", 16), S("outro", 16))),
    TrackSpec("Sunrise Keys", "Mira Vale", 124.0, "C", "major", seed=13, genre="House",
              tags=("uplifting", "keys", "sunrise"),
              sections=(S("intro", 16), S("build", 8), S("drop", 32), S("break", 16), S("drop", 16), S("outro", 8))),
    TrackSpec("Acid Hour", "Grid Unit", 126.7, "G", "minor", seed=14, genre="Acid House",
              tags=("acid", "peak", "303"),
              sections=(S("intro", 8), S("build", 8), S("drop", 32), S("break", 8), S("drop", 32), S("outro", 16))),
    TrackSpec("Night Bus", "Mira Vale", 128.0, "D", "major", seed=15, genre="House",
              tags=("night", "bouncy", "vocal-less"),
              sections=(S("intro", 16), S("main", 16), S("break", 8), S("build", 8), S("drop", 32), S("outro", 16))),
)


def default_folder() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("copilot") / "example-crate"


def track_filename(index: int, spec: TrackSpec, ext: str = "flac") -> str:
    return f"{index:02d} {spec.artist} - {spec.title}.{ext}"


def ensure_example_crate(folder: Path | None = None) -> list[Path]:
    """The example tracks' paths, rendering whichever are missing or from an older generator."""
    folder = Path(folder) if folder is not None else default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, spec in enumerate(CRATE, start=1):
        path = folder / track_filename(i, spec)
        if not _is_current(path):
            write_track(path, spec, extra={"crate_version": CRATE_VERSION})
        paths.append(path)
    return paths


class ExampleBuild:
    """The example crate, its first track rendered and the rest on their way (`wait` for one)."""

    def __init__(self, folder: Path, report: Callable[[str], None] = print) -> None:
        self.folder = folder
        self.report = report
        self.paths = [folder / track_filename(i, spec) for i, spec in enumerate(CRATE, start=1)]
        self.truths = [{**track_truth(spec), "crate_version": CRATE_VERSION, "file": path.name}
                       for spec, path in zip(CRATE, self.paths, strict=True)]
        self._ready = {path: threading.Event() for path in self.paths}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.error: str | None = None

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the track being written (a thread still inside libsndfile when the interpreter exits
        can crash it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, path: Path, timeout: float = 120.0) -> bool:
        """True once `path` is on disk (a path that is not an example track: at once)."""
        event = self._ready.get(Path(path))
        return True if event is None else event.wait(timeout)

    def _render(self, index: int) -> None:
        path = self.paths[index]
        if not _is_current(path):
            write_track(path, CRATE[index], extra={"crate_version": CRATE_VERSION})
        self._ready[path].set()

    def _rest(self) -> None:
        _lower_priority()  # the first deck's decode and the set come first
        for i in range(1, len(self.paths)):
            if self._stop.is_set():
                break
            try:
                self._render(i)
            except Exception as exc:  # noqa: BLE001 - a full disk: the tracks already there still play
                self.error = f"could not write the example track {self.paths[i].name}: {exc}"
                self.report(self.error)
                for event in self._ready.values():
                    event.set()  # nobody waits for ever: the loader then says the file is missing
                return


def build_first_then_rest(folder: Path | None = None, report: Callable[[str], None] = print) -> ExampleBuild:
    """Render the first example track now (if missing) and the others on a background thread."""
    folder = Path(folder) if folder is not None else default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    build = ExampleBuild(folder, report)
    missing = sum(not _is_current(p) for p in build.paths)
    if missing:
        report(f"writing the example crate to {folder} ({missing} tracks; the first now, the rest while it plays)")
    build._render(0)
    build._thread = threading.Thread(target=build._rest, name="copilot-example-crate", daemon=True)
    build._thread.start()
    return build


def _lower_priority() -> None:
    """This thread only (Linux: a thread id is a process id to setpriority): niceness 10."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def write_track(path: Path, spec: TrackSpec, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Render `spec` to `path` (format from the suffix: .flac .wav .ogg .aiff) plus `<stem>.json` truth."""
    path = Path(path)
    audio, sr, truth = render_track(spec)
    truth = {**truth, **(extra or {}), "file": path.name}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fmt = {".flac": "FLAC", ".wav": "WAV", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot write {path.suffix!r}; use .flac, .wav, .ogg or .aiff")
    subtype = {"OGG": "VORBIS", "AIFF": "PCM_16"}.get(fmt, "PCM_16")
    with sf.SoundFile(tmp, "w", sr, 2, subtype=subtype, format=fmt) as fh:
        if fmt != "AIFF":  # libsndfile keeps no string tags in AIFF
            strings = {"title": spec.title, "artist": spec.artist, "genre": spec.genre, "comment": " ".join(spec.tags)}
            for name, value in strings.items():
                if value:  # libsndfile refuses empty strings
                    setattr(fh, name, value)
        fh.write(audio)
    os.replace(tmp, path)
    sidecar = sidecar_path(path)
    tmp_json = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    tmp_json.write_text(json.dumps(truth, indent=1))
    os.replace(tmp_json, sidecar)
    return truth


def sidecar_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def read_truth(path: Path) -> dict[str, Any]:
    return json.loads(sidecar_path(path).read_text())


def _is_current(path: Path) -> bool:
    try:
        truth = read_truth(path)
    except (OSError, ValueError):
        return False
    return path.exists() and truth.get("generator") == GENERATOR and truth.get("crate_version") == CRATE_VERSION
