"""Adornments: one-shots from a folder, played by the engine on the grid beside a host.

Files are sorted into roles by name: risers end exactly on a phrase downbeat, impacts land on it,
shakers fill the off-beats of a phrase's last bar. Any file can also be fired by name (an FX intent
"fx <name>"), and DROP lands an impact on the drop. One-shots go straight into the engine's ring
ahead of time, each stamped with its beat; the kernel starts it on that sample. They are
gain-staged under the master limiter (`gain_db`, default −6 dB), so a riser can never clip the mix.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from copilot.bridge.actions import Action, ActionKind, Timed

from .control import EngineCmd
from .engine import Engine, EngineFull
from .files import TrackError, decode, find_audio, resample, to_stereo

ROLES = {
    "riser": ("riser", "rise", "uplift", "sweep", "build"),
    "impact": ("impact", "crash", "hit", "boom", "drop", "cymbal"),
    "shaker": ("shaker", "shake", "perc", "hat", "tamb"),
}
PHRASE = 32.0


def role_of(path: Path) -> str | None:
    name = path.stem.lower()
    for role, words in ROLES.items():
        if any(w in name for w in words):
            return role
    return None


class Adorner:
    def __init__(self, engine: Engine, clock: Any, folder: Path, report: Callable[[str], None],
                 config: dict[str, Any] | None = None) -> None:
        cfg = config or {}
        self.engine = engine
        self.clock = clock
        self.report = report
        self.gain = 10.0 ** (float(cfg.get("gain_db", -6.0)) / 20.0)
        self.every = float(cfg.get("phrase_beats", PHRASE))
        self.pattern = bool(cfg.get("pattern", True))
        self.samples: dict[str, tuple[int, float]] = {}  # name → (slot, seconds)
        self.roles: dict[str, list[str]] = {r: [] for r in ROLES}
        self._next_phrase: float | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._load(Path(folder))

    def _load(self, folder: Path) -> None:
        files = find_audio(folder)
        if not files:
            self.report(f"adornments: no audio files in {folder}; nothing to play")
            return
        for path in files:
            try:
                data, sr = decode(path)
            except TrackError as exc:
                self.report(f"adornments: skipped {path.name}: {exc}")
                continue
            audio = np.ascontiguousarray(resample(to_stereo(data), sr, self.engine.samplerate), np.float32)
            try:
                slot = self.engine.put_buffer(audio, pinned=True)
            except (EngineFull, ValueError) as exc:
                self.report(f"adornments: no room for {path.name}: {exc}")
                break
            name = path.stem.lower()
            self.samples[name] = (slot, audio.shape[0] / self.engine.samplerate)
            role = role_of(path)
            if role:
                self.roles[role].append(name)
        self.report(f"adornments: {len(self.samples)} one-shots from {folder} "
                    f"({', '.join(f'{len(v)} {k}' for k, v in self.roles.items() if v) or 'none by role'})")

    # -- actions routed here (what the host cannot do) --------------------------------------------------
    def render(self, action: Action) -> list[Timed]:
        if action.kind is ActionKind.PANIC:
            return [Timed(None, EngineCmd("panic"), action.id)]
        if action.kind is ActionKind.DROP and self.roles["impact"]:
            return [self._shot(self.roles["impact"][0], action.beat, action.id)]
        if action.kind is ActionKind.FX:
            name = str(action.params.get("name", "")).lower()
            hit = next((n for n in self.samples if name and (n == name or name in n)), None)
            if hit is not None:
                amount = float(action.params.get("amount", 1.0))
                return [self._shot(hit, action.beat, action.id, amount)]
        return []

    def _shot(self, name: str, beat: float | None, action_id: str = "", amount: float = 1.0) -> Timed:
        slot, _ = self.samples[name]
        return Timed(beat, EngineCmd("oneshot", None, beat, (slot, self.gain * amount)), action_id)

    # -- the pattern on the grid ----------------------------------------------------------------------
    def tick(self) -> None:
        """Schedule the next phrase's adornments a little over a riser ahead (feeder thread)."""
        if not self.pattern or not self.samples:
            return
        with self._lock:
            beat = self.clock.beat
            tempo = self.clock.tempo
            if self._next_phrase is None or self._next_phrase < beat:
                self._next_phrase = math.ceil((beat + 1.0) / self.every) * self.every
            longest = max((self.samples[n][1] for n in self.roles["riser"]), default=0.0)
            horizon = beat + longest * tempo / 60.0 + 2.0
            if self._next_phrase > horizon:
                return
            self._schedule_phrase(self._next_phrase, tempo)
            self._next_phrase += self.every

    def _schedule_phrase(self, downbeat: float, tempo: float) -> None:
        self._count += 1
        if self.roles["riser"]:
            name = self.roles["riser"][self._count % len(self.roles["riser"])]
            slot, seconds = self.samples[name]
            self.engine.oneshot(slot, self.gain, downbeat - seconds * tempo / 60.0)
        if self.roles["impact"]:
            slot, _ = self.samples[self.roles["impact"][self._count % len(self.roles["impact"])]]
            self.engine.oneshot(slot, self.gain, downbeat)
        if self.roles["shaker"]:
            slot, _ = self.samples[self.roles["shaker"][0]]
            for off in (0.5, 1.5, 2.5, 3.5):
                self.engine.oneshot(slot, self.gain * 0.7, downbeat - 4.0 + off)
