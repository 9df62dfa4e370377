"""The first five minutes, from outside: `copilot run` as a user starts it (a subprocess in a fresh home),
the WAV it writes when there is no sound device, and crates that cannot play."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from copilot.tests.test_engine_offline import clicks

SR = 48000
NO_DEVICE = "copilot-no-such-device"  # PortAudio finds no output of this name: the engine plays into a WAV


def home(tmp: Path) -> dict[str, str]:
    """An environment whose config, data, cache and log folders are all under `tmp` (a first run)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), PYTHONUNBUFFERED="1")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_STATE_HOME", "state")):
        env[var] = str(tmp / sub)
    return env


def recordings(tmp: Path) -> list[Path]:
    return sorted((tmp / "data" / "copilot" / "recordings").glob("*.wav"))


def config(tmp: Path, **standalone: object) -> Path:
    """copilot.toml: no sound device, key-lock off (no stretching to wait for), plus `standalone` keys."""
    values = {"device": NO_DEVICE, "keylock": False, **standalone}
    lines = ["[targets.standalone]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    path = tmp / "copilot.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def track(folder: Path, name: str, seconds: float = 40.0, bpm: float = 120.0, freq: float = 400.0,
          sidecar: bool = True) -> Path:
    """A click track (with its JSON truth unless `sidecar` is False: then the engine must find the beat)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.wav"
    sf.write(path, clicks(seconds, bpm, freq), SR, subtype="FLOAT")
    if sidecar:
        path.with_suffix(".json").write_text(json.dumps({"title": name, "bpm": bpm, "beats": [0.0],
                                                         "duration": seconds}))
    return path


def sine(folder: Path, name: str, seconds: float = 30.0, hz: float = 440.0) -> Path:
    """A pure tone, no sidecar: beatless."""
    path = folder / f"{name}.wav"
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR)
    return path


def corrupt(folder: Path, name: str, size: int = 20_000, seed: int = 1) -> Path:
    """Random bytes behind a WAV name."""
    path = folder / f"{name}.wav"
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def first_sound(audio: np.ndarray, floor: float = 1e-4) -> float | None:
    """Seconds to the first sample above `floor` (None: all silent)."""
    loud = np.flatnonzero(np.abs(audio).max(axis=1) > floor)
    return float(loud[0]) / SR if len(loud) else None


def longest_silence(audio: np.ndarray, start: float = 0.0, floor: float = 1e-4, block: float = 0.05) -> float:
    """The longest stretch (seconds, in `block` steps) after `start` where every sample is below `floor`."""
    n = int(block * SR)
    peak = np.abs(audio[int(start * SR):]).max(axis=1)
    blocks = peak[: len(peak) // n * n].reshape(-1, n).max(axis=1)
    longest = run = 0
    for quiet in blocks < floor:
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    return longest * block


class Run:
    """`copilot run …` in a process group of its own (as a shell starts it), its output read as it comes."""

    def __init__(self, tmp: Path, args: Sequence[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, "-m", "copilot", "run", *args], env=home(tmp),
                                     cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The first line containing `text` (lines so far included)."""
        for line in self.lines:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._queue.empty():
                    break
                continue
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {timeout:g} s:\n" + "\n".join(self.lines[-40:]))

    def signal_like_timeout(self) -> None:
        """What `timeout` does: SIGTERM to the process, then to its whole group."""
        self.proc.send_signal(signal.SIGTERM)
        os.killpg(self.proc.pid, signal.SIGTERM)

    def finish(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout)
        time.sleep(0.2)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def wav_frames_by_header(path: Path) -> int:
    """Frames as the file's header says (what sox reads), not as libsndfile may guess from the size."""
    data = path.read_bytes()
    at = data.find(b"data")
    channels = int.from_bytes(data[22:24], "little")
    bits = int.from_bytes(data[34:36], "little")
    return int.from_bytes(data[at + 4: at + 8], "little") // (channels * bits // 8)


def wav_frames_by_size(path: Path) -> int:
    data = path.read_bytes()
    at = data.find(b"data")
    channels = int.from_bytes(data[22:24], "little")
    bits = int.from_bytes(data[34:36], "little")
    return (len(data) - at - 8) // (channels * bits // 8)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to read its status does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
