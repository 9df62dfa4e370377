"""Where a spoken command begins and ends, frame by frame (32 ms frames of 16 kHz audio).

Hands-free: speech starts after `start_ms` of frames above `start_threshold` (so a cough or a
kick drum does not open an utterance), and ends after `end_silence_ms` below `end_threshold`.
`preroll_ms` of audio from before the start is kept, so the first syllable is never clipped.

As soon as speech *pauses* (after the `tail_ms` of silence an utterance keeps) the end-pointer
reports a `Pause` with exactly the audio an `End` would carry. The listener starts transcribing
then, speculatively: if the silence lasts, the text is ready about when the `End` arrives, so
the end-pointing wait and the ASR overlap instead of adding up. If speech resumes, a `Resume`
says to throw that guess away.

Push-to-talk: `press()` opens an utterance (with pre-roll), `release()` ends it at once; the
end-pointer's own speech detection is ignored while a button is in charge.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .vad import FRAME, RATE, SpeechDetector

FRAME_S = FRAME / RATE


@dataclass(frozen=True)
class Start:
    at: float  # capture time of the first speech frame (pre-roll excluded)


@dataclass(frozen=True)
class Pause:
    audio: np.ndarray  # everything so far, pre-roll included
    speech_end: float  # capture time at which the speech stopped
    serial: int  # which utterance (a later End with the same serial can use this guess)


@dataclass(frozen=True)
class Resume:
    serial: int


@dataclass(frozen=True)
class End:
    audio: np.ndarray
    speech_end: float
    serial: int
    reason: str  # "silence", "released", "too long", "end of input"


Event = Start | Pause | Resume | End


@dataclass
class EndpointConfig:
    start_threshold: float = 0.5
    # 0.35 (Silero's usual), not 0.5: at 0.5 the End comes 11-43 ms sooner in audio time, but more dips
    # inside a command open a speculative transcription that is thrown away, and the decision came later
    # on the wall clock (docs/benchmarks.md, fourth pass)
    end_threshold: float = 0.35
    start_ms: float = 64.0
    end_silence_ms: float = 300.0
    preroll_ms: float = 300.0
    tail_ms: float = 96.0  # silence kept after the speech (Whisper likes a little)
    max_utterance_s: float = 8.0
    min_speech_ms: float = 150.0  # shorter bursts are not words


class Endpointer:
    """Feed 512-sample frames with their capture time; get Start/Pause/Resume/End events back."""

    def __init__(self, vad: SpeechDetector, config: EndpointConfig | None = None) -> None:
        self.vad = vad
        self.config = config or EndpointConfig()
        c = self.config
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, round(c.preroll_ms / 1000 / FRAME_S)))
        self._start_frames = max(1, round(c.start_ms / 1000 / FRAME_S))
        self._end_frames = max(1, round(c.end_silence_ms / 1000 / FRAME_S))
        self._tail_frames = max(0, round(c.tail_ms / 1000 / FRAME_S))
        self._max_frames = round(c.max_utterance_s / FRAME_S)
        self._min_speech_frames = max(1, round(c.min_speech_ms / 1000 / FRAME_S))
        self.serial = 0
        self.last_probability = 0.0
        self._reset_utterance()
        self._held = False

    def _reset_utterance(self) -> None:
        self._frames: list[np.ndarray] = []
        self._in_speech = False
        self._candidate = 0  # loud frames in a row before a start
        self._quiet = 0  # quiet frames in a row inside an utterance
        self._speech_frames = 0
        self._speech_end = 0.0
        self._paused = False

    @property
    def active(self) -> bool:
        """An utterance is open (hands-free speech, or a push-to-talk button held)."""
        return self._in_speech or self._held

    # -- push-to-talk ----------------------------------------------------------------------------------
    def press(self, at: float) -> list[Event]:
        if self._held:
            return []
        self._held = True
        self.serial += 1
        self._reset_utterance()
        self._frames = list(self._preroll)
        return [Start(at)]

    def release(self, at: float) -> list[Event]:
        if not self._held:
            return []
        self._held = False
        audio = np.concatenate(self._frames) if self._frames else np.zeros(0, np.float32)
        self._reset_utterance()
        return [End(audio, at, self.serial, "released")]

    def listen_only(self, frame: np.ndarray) -> None:
        """Push-to-talk with the button up: keep the pre-roll (and the detector's state) fresh, open nothing."""
        self.last_probability = self.vad(frame)
        self._preroll.append(frame.copy())

    # -- frames ----------------------------------------------------------------------------------------------
    def feed(self, frame: np.ndarray, at: float) -> list[Event]:
        """One frame (FRAME samples) whose last sample was captured at `at` (seconds, one clock)."""
        c = self.config
        p = self.vad(frame)
        self.last_probability = p
        start_of_frame = at - FRAME_S
        if self._held:
            self._frames.append(frame.copy())
            if len(self._frames) >= self._max_frames:
                return self.release(at)
            return []
        events: list[Event] = []
        if not self._in_speech:
            self._candidate = self._candidate + 1 if p >= c.start_threshold else 0
            self._preroll.append(frame.copy())
            if self._candidate >= self._start_frames:
                self.serial += 1
                self._reset_utterance()
                self._in_speech = True
                self._speech_frames = self._start_frames
                self._frames = list(self._preroll)
                events.append(Start(start_of_frame - (self._start_frames - 1) * FRAME_S))
            return events
        self._frames.append(frame.copy())
        self._preroll.append(frame.copy())
        if p < c.end_threshold:
            if self._quiet == 0:
                self._speech_end = start_of_frame
            self._quiet += 1
            if self._quiet == max(1, self._tail_frames) and self._speech_frames >= self._min_speech_frames:
                self._paused = True
                events.append(Pause(self._audio_until_end(), self._speech_end, self.serial))
            if self._quiet >= self._end_frames:
                return events + self._finish("silence")
        else:
            if self._quiet and self._paused:
                events.append(Resume(self.serial))
                self._paused = False
            self._quiet = 0
            self._speech_frames += 1
        if len(self._frames) >= self._max_frames:
            if not self._quiet:
                self._speech_end = at
            events += self._finish("too long")
        return events

    def end_of_input(self, at: float) -> list[Event]:
        """The input is over (the end of a file): an utterance still open ends here, as if its silence had
        come. (A recording that stops within `end_silence_ms` of its last word would otherwise lose it.)"""
        if self._held:
            return self.release(at)
        if not self._in_speech:
            return []
        if not self._quiet:
            self._speech_end = at
        return self._finish("end of input")

    def _audio_until_end(self) -> np.ndarray:
        """Speech plus `tail_ms` of what followed: the same audio whether the End comes now or later."""
        keep = len(self._frames) - self._quiet + min(self._quiet, self._tail_frames)
        return np.concatenate(self._frames[:keep])

    def _finish(self, reason: str) -> list[Event]:
        if self._speech_frames < self._min_speech_frames:
            self._reset_utterance()  # a click, a clap: not an utterance
            return []
        end = End(self._audio_until_end(), self._speech_end, self.serial, reason)
        self._reset_utterance()
        return [end]
