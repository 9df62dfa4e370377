"""The bundled example crate: a few generated tracks, written once and kept in the user cache folder.

A fresh machine needs music for the standalone engine's two-deck mix and for the voice helper's
music bed, with nothing downloaded. `ensure_example_crate()` renders the tracks below with
`copilot.engine.example_synth` (FLAC with title/artist/genre tags) and writes each track's ground truth
beside it as `<name>.json`. Files are written to a temporary name and renamed, sidecar last, so a
crash or a second process never leaves a half track that looks finished.

`copilot run` does not wait for all of them: `build_first_then_rest()` renders the first track now and
the rest in a low-priority child process behind it (`python -m copilot.engine.example_crate`: no GIL
shared with the set's dispatch thread, gone when the set goes), so the first deck plays within seconds
on a fresh machine. Each track's truth (title, tempo, sections, length) is known before its audio
exists (`track_truth`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
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

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.paths = [folder / track_filename(i, spec) for i, spec in enumerate(CRATE, start=1)]
        self.truths = [{**track_truth(spec), "crate_version": CRATE_VERSION, "file": path.name}
                       for spec, path in zip(CRATE, self.paths, strict=True)]
        self._writer: subprocess.Popen[bytes] | None = None

    def wait(self, path: Path, timeout: float = 120.0) -> bool:
        """True once `path` is written (at once for a path that is not an example track); False when the
        writer gave up (a full disk) or `timeout` passed."""
        if Path(path) not in self.paths:
            return True
        deadline = time.monotonic() + timeout
        while not _is_current(Path(path)):
            if self._writer is None or self._writer.poll() is not None or time.monotonic() > deadline:
                return _is_current(Path(path))
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Stop the writer (what it had not finished is written by the next run)."""
        writer = self._writer
        if writer is not None and writer.poll() is None:
            writer.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                writer.wait(5.0)
        for tmp in self.folder.glob(".*.tmp"):  # the half-written file of a writer stopped mid-track
            if writer is not None and f".{writer.pid}." in tmp.name:
                tmp.unlink(missing_ok=True)


def build_first_then_rest(folder: Path | None = None, report: Callable[[str], None] = print) -> ExampleBuild:
    """Render the first example track now (if missing) and the others in a child process."""
    folder = Path(folder) if folder is not None else default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    build = ExampleBuild(folder)
    missing = sum(not _is_current(p) for p in build.paths)
    if missing:
        report(f"writing the example crate to {folder} ({missing} tracks; the first now, the rest while it plays)")
    if not _is_current(build.paths[0]):
        write_track(build.paths[0], CRATE[0], extra={"crate_version": CRATE_VERSION})
    if any(not _is_current(p) for p in build.paths[1:]):
        build._writer = subprocess.Popen(
            [sys.executable, "-m", "copilot.engine.example_crate", str(folder), str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with contextlib.suppress(AttributeError, OSError):  # behind the set from its first instruction
            os.setpriority(os.PRIO_PROCESS, build._writer.pid, 10)
    return build


def main(argv: list[str] | None = None) -> None:
    """The writer behind `build_first_then_rest`: FOLDER PARENT_PID; it goes when the parent goes."""
    from copilot.bridge.children import background

    folder, parent = (argv or sys.argv[1:])[:2]
    background(int(parent))  # behind the set, and never alone
    ensure_example_crate(Path(folder))


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


if __name__ == "__main__":
    main()
