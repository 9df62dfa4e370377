"""Is this 32 ms of audio speech? Silero VAD, streamed one frame at a time.

faster-whisper ships the Silero VAD model (ONNX) in its wheel; its own helper runs whole files.
Here the model's recurrent state (h, c) and 64-sample context are carried from frame to frame,
so each 512-sample frame (32 ms at 16 kHz) costs ~0.1 ms and gives the same probabilities as the
batch run. Silero tells speech from music far better than loudness does, which matters beside a
PA. `EnergyVad` is the fallback when onnxruntime is missing: fine in a quiet room only.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

FRAME = 512  # samples at 16 kHz = 32 ms
RATE = 16000
_CONTEXT = 64


class SpeechDetector(Protocol):
    def __call__(self, frame: np.ndarray) -> float: ...  # 512 samples → P(speech)
    def reset(self) -> None: ...


class SileroVad:
    """Streaming Silero VAD (v6, from faster-whisper's assets; no download)."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._input = np.zeros((1, _CONTEXT + FRAME), dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        self._input[0, :_CONTEXT] = self._context
        self._input[0, _CONTEXT:] = frame
        out, self._h, self._c = self._session.run(None, {"input": self._input, "h": self._h, "c": self._c})
        self._context[:] = frame[-_CONTEXT:]
        return float(np.ravel(out)[0])


class EnergyVad:
    """Loudness over an adaptive noise floor, mapped to 0..1. Quiet rooms only."""

    def __init__(self, margin_db: float = 12.0) -> None:
        self.margin_db = margin_db
        self.reset()

    def reset(self) -> None:
        self._floor_db = -60.0

    def __call__(self, frame: np.ndarray) -> float:
        level = 10.0 * np.log10(float(np.mean(np.square(frame, dtype=np.float64))) + 1e-10)
        # the floor follows quiet frames quickly and loud ones slowly
        rate = 0.2 if level < self._floor_db else 0.005
        self._floor_db += rate * (level - self._floor_db)
        return float(np.clip((level - self._floor_db - self.margin_db / 2) / self.margin_db + 0.5, 0.0, 1.0))


def detector(kind: str = "auto") -> SpeechDetector:
    """'silero', 'energy', or 'auto' (Silero when onnxruntime is installed)."""
    if kind in ("auto", "silero"):
        try:
            return SileroVad()
        except Exception:
            if kind == "silero":
                raise
    return EnergyVad()
