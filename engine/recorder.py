"""WAV files written as the music plays: every stop leaves a file every tool can read.

libsndfile writes a WAV's sizes into its header only when the file is closed, so a process killed
before that leaves a header that says "0 samples" (sox reads nothing). `WavRecorder` asks libsndfile
to rewrite the header every `refresh` seconds of audio as well, so `kill -9` loses at most that much;
a clean stop (Ctrl-C, SIGTERM, the end of the set) closes the file properly.

`fallback_wav()` is where the engine records a live set when there is no sound device: the user data
folder, one file per run named by date and time, never an existing file.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np

SFC_UPDATE_HEADER_NOW = 0x1060  # libsndfile's sndfile.h: rewrite the header from the frames written so far
DEFAULT_REFRESH = 1.0  # seconds of audio between header rewrites


def recordings_dir() -> Path:
    from copilot.bridge.config import data_dir

    return data_dir() / "recordings"


def fallback_wav(configured: str | Path | None = None) -> Path:
    """A new, empty WAV path: `configured` (a file or a folder) or the recordings folder; a file that is
    already there gets a -2, -3 … suffix instead of being overwritten. The file is created here (empty),
    so two runs started in the same second never pick the same name."""
    if configured:
        given = Path(configured).expanduser()
        folder, stem = (given, _stamp()) if given.is_dir() or not given.suffix else (given.parent, given.stem)
    else:
        folder, stem = recordings_dir(), _stamp()
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = folder / (f"{stem}.wav" if n == 1 else f"{stem}-{n}.wav")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            continue
        return path.resolve()
    raise OSError(f"{folder}: no free file name for a recording")


def _stamp() -> str:
    return time.strftime("copilot-%Y-%m-%d-%H%M%S")


def say_length(seconds: float) -> str:
    """'4 min 12 s', '38 s', '1 h 2 min'."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


class WavRecorder:
    """24-bit stereo PCM, its header kept true while it grows (another format, from the file's suffix
    — `--out mix.flac` —, is written as libsndfile writes it)."""

    def __init__(self, path: str | Path, samplerate: int, channels: int = 2, refresh: float = DEFAULT_REFRESH) -> None:
        import soundfile as sf

        self.path = Path(path).expanduser()
        self.samplerate = int(samplerate)
        wav = self.path.suffix.lower() in (".wav", ".wave", "")
        self._refresh_frames = max(1, int(refresh * samplerate)) if wav else None
        self._file = sf.SoundFile(str(self.path), "w", self.samplerate, channels, subtype="PCM_24",
                                  format="WAV" if wav else None)
        self.frames = 0
        self._since_refresh = 0

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate

    def write(self, frames: np.ndarray) -> None:
        self._file.write(frames)
        self.frames += len(frames)
        self._since_refresh += len(frames)
        if self._refresh_frames is not None and self._since_refresh >= self._refresh_frames:
            self._since_refresh = 0
            self.refresh_header()

    def refresh_header(self) -> None:
        """Make the header say how much audio the file holds now (then a kill loses nothing before this)."""
        with contextlib.suppress(Exception):  # a soundfile without these internals: the close still writes it
            from soundfile import _ffi, _snd

            _snd.sf_command(self._file._file, SFC_UPDATE_HEADER_NOW, _ffi.NULL, 0)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
