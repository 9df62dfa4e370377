"""Frames in, intents out: end-pointer → Whisper → parser, on a worker thread of its own.

The capture thread only runs the end-pointer (~0.2 ms a frame). Transcription happens on one
worker thread, first-in first-out:

* on a `Pause` the worker starts transcribing — and understanding — right away (speculatively);
* on the matching `End` it reuses that result if the audio is the same, so the 300 ms of silence
  the end-pointer waits for and the ~100–250 ms of ASR (more when the constrained scorer has to
  rescue a doubtful reading) overlap instead of adding up;
* a `Resume` cancels a guess that has not started; an `End` older than `max_delay_s` is dropped
  with a message, never acted on late.

If Whisper stalls or raises, only this thread suffers: the music, the dispatcher and the
scheduler never wait on it. Results go to `on_heard(Heard)`; the caller decides what to do with
the intent (the voice plugin submits it to the session).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from copilot.intents.parser import ACCEPT, ParseResult
from copilot.intents.schema import IntentKind

from .asr import TitleSource, Transcriber, Transcript
from .endpoint import End, EndpointConfig, Endpointer, Pause, Resume
from .understand import understand
from .vad import SpeechDetector, detector

log = logging.getLogger(__name__)

CONFIRM_WORDS = frozenset({IntentKind.CONFIRM, IntentKind.CANCEL})


@dataclass(frozen=True)
class Heard:
    """One utterance, understood (or not)."""

    transcript: Transcript
    result: ParseResult
    speech_end: float  # capture clock: when the speaker stopped (or released the button)
    ready_at: float  # same clock: when the intent was known
    speculative: bool  # its text came from the guess started at the pause
    how: str  # "silence", "released", "too long"

    @property
    def latency_s(self) -> float:
        return self.ready_at - self.speech_end

    def to_dict(self) -> dict[str, Any]:
        out = self.result.to_dict()
        out.update(text=self.transcript.text, latency_ms=round(self.latency_s * 1000, 1),
                   asr_ms=round(self.transcript.latency_s * 1000, 1), speculative=self.speculative, how=self.how)
        return out


@dataclass
class _Job:
    serial: int
    audio: np.ndarray
    speech_end: float
    final: bool
    how: str = ""
    resumes: int = 0  # how often this utterance had resumed when the job was queued


class Listener:
    def __init__(
        self,
        transcriber: Transcriber,
        on_heard: Callable[[Heard], None],
        *,
        vad: SpeechDetector | str = "auto",
        endpoint: EndpointConfig | None = None,
        aliases: Mapping[str, str] | None = None,
        titles: TitleSource = None,
        threshold: float = ACCEPT,
        confirm_threshold: float = 0.35,
        speculative: bool = True,
        hands_free: bool = True,
        max_delay_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.transcriber = transcriber
        self.on_heard = on_heard
        self.endpointer = Endpointer(detector(vad) if isinstance(vad, str) else vad, endpoint)
        self.aliases = dict(aliases or {})
        self._titles = titles
        self.threshold = threshold
        self.confirm_threshold = confirm_threshold
        self.speculative = speculative
        self.hands_free = hands_free
        self.max_delay_s = max_delay_s
        self.clock = clock
        self.on_error = on_error or (lambda msg: log.warning("%s", msg))
        self.awaiting_until = 0.0  # while a risky intent waits, "yes"/"cancel" need less certainty
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._guesses: dict[tuple[int, int], tuple[Transcript, ParseResult]] = {}
        self._resumes: dict[int, int] = {}  # utterance serial → resumes so far
        self._resume_lock = threading.Lock()
        self._lock = threading.Lock()  # endpointer: fed by the capture thread, pressed from others
        self._thread: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self.stats = {"utterances": 0, "intents": 0, "rejected": 0, "dropped": 0, "errors": 0, "reused": 0,
                      "restarts": 0}

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        with self._worker_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="copilot-voice-asr", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._worker_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)

    def _keep_working(self) -> None:
        """The recognizer's thread was killed (not by stop): start another one, say so, go on listening.
        Checked whenever speech comes in, so the next utterance finds a recognizer."""
        with self._worker_lock:
            thread = self._thread
            if thread is None or thread.is_alive():
                return
            self.stats["restarts"] += 1
            self._thread = threading.Thread(target=self._work, name="copilot-voice-asr", daemon=True)
            self._thread.start()
        self.on_error("voice: the speech recognizer stopped; started it again (anything said just then is lost)")

    def idle(self) -> bool:
        return self._jobs.unfinished_tasks == 0

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def expect_confirmation(self, seconds: float) -> None:
        self.awaiting_until = self.clock() + seconds

    # -- input side (capture thread / push-to-talk) ------------------------------------------------------------
    def feed(self, frame: np.ndarray, at: float) -> None:
        """A FrameSink: 512 samples at 16 kHz whose last sample was captured at `at`."""
        with self._lock:
            if not self.hands_free and not self.endpointer.active:
                self.endpointer.listen_only(frame)
                return
            events = self.endpointer.feed(frame, at)
        self._handle(events)

    def end_of_input(self, at: float | None = None) -> None:
        """The source is done (a file ended): the last utterance ends now instead of waiting for silence."""
        with self._lock:
            events = self.endpointer.end_of_input(self.clock() if at is None else at)
        self._handle(events)

    def press(self, at: float | None = None) -> None:
        with self._lock:
            events = self.endpointer.press(self.clock() if at is None else at)
        self._handle(events)

    def release(self, at: float | None = None) -> None:
        with self._lock:
            events = self.endpointer.release(self.clock() if at is None else at)
        self._handle(events)

    def _handle(self, events: list) -> None:
        if events:
            self._keep_working()
        for event in events:
            if isinstance(event, Pause) and self.speculative:
                self._jobs.put(_Job(event.serial, event.audio, event.speech_end, final=False,
                                    resumes=self._resumes.get(event.serial, 0)))
            elif isinstance(event, Resume):
                with self._resume_lock:
                    self._resumes[event.serial] = self._resumes.get(event.serial, 0) + 1
            elif isinstance(event, End):
                self._jobs.put(_Job(event.serial, event.audio, event.speech_end, final=True, how=event.reason))

    # -- worker ------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job: _Job | bool | None = False  # False: nothing taken from the queue yet
            try:
                job = self._jobs.get()
                if job is None:
                    return
                self._run(job)
            except Exception as exc:  # noqa: BLE001 - a broken transcription must not end listening
                self.stats["errors"] += 1
                self.on_error(f"voice: could not transcribe ({type(exc).__name__}: {exc})")
            finally:  # also when the thread is killed mid-job: the queue's count stays right
                if job is not False:
                    self._jobs.task_done()

    def _run(self, job: _Job) -> None:
        key = (job.serial, job.audio.size)
        if not job.final:
            if self._resumes.get(job.serial, 0) > job.resumes:
                return  # the speaker went on: this guess is already wrong
            if self._jobs.qsize() > 2:
                return  # falling behind: guesses are the first thing to go
            transcript = self.transcriber.transcribe(job.audio)
            # understood now too: a rescue by the constrained scorer overlaps the end-pointing wait
            self._guesses[key] = (transcript, self._understand(transcript))
            return
        self.stats["utterances"] += 1
        if self._too_late(job):
            return
        guess = self._guesses.pop(key, None)
        speculative = guess is not None
        if guess is not None:
            self.stats["reused"] += 1
            transcript, raw = guess
        else:
            transcript = self.transcriber.transcribe(job.audio)
            raw = None
        self._guesses = {k: v for k, v in self._guesses.items() if k[0] > job.serial}
        with self._resume_lock:
            self._resumes = {k: v for k, v in self._resumes.items() if k > job.serial}
        if self._too_late(job):
            return
        result = self._floor(raw if raw is not None else self._understand(transcript))
        transcript = replace(transcript, scorer=None)  # it holds the encoder output: let it go
        self.stats["intents" if result.intent is not None else "rejected"] += 1
        self.on_heard(Heard(transcript, result, job.speech_end, self.clock(), speculative, job.how))

    def _too_late(self, job: _Job) -> bool:
        """A command acted on seconds after it was said is worse than none."""
        late = self.clock() - job.speech_end
        if late <= self.max_delay_s:
            return False
        self.stats["dropped"] += 1
        self.on_error(f"voice: dropped a command heard {late:.1f} s ago (ASR too slow); say it again")
        return True

    def titles(self) -> tuple[str, ...]:
        return self.transcriber.titles() if self._titles is None else _titles(self._titles)

    def understand(self, transcript: Transcript) -> ParseResult:
        """Readings → intent; while a risky intent waits, "yes"/"cancel" need less certainty."""
        return self._floor(self._understand(transcript))

    def _understand(self, transcript: Transcript) -> ParseResult:
        return understand(transcript, self.aliases, self.titles(), threshold=0.0)

    def _floor(self, result: ParseResult) -> ParseResult:
        awaiting = self.clock() < self.awaiting_until
        if result.intent is not None:
            floor = self.confirm_threshold if awaiting and result.intent.kind in CONFIRM_WORDS else self.threshold
            if result.confidence < floor:
                return ParseResult(None, result.confidence, f"not sure enough ({result.confidence:.0%}) that "
                                   f"'{result.heard}' is {result.intent.kind.value}", result.text, result.heard,
                                   result.cost)
        return result


def _titles(source: TitleSource) -> tuple[str, ...]:
    try:
        found = source() if callable(source) else (source or ())
        return tuple(str(t) for t in found)
    except Exception:  # noqa: BLE001 - a broken title source must not silence the voice
        return ()
