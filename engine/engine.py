"""The engine as Python sees it: state, command ring and audio buffers, with deck-language methods.

Every method here runs off the audio thread and only writes commands into the ring (or buffers into
free slots); the kernel picks them up at the start of its next block and applies each on the exact
sample of its beat. `beat=None` means "at once" (the next block).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .commands import CommandRing, envelope_rows, row
from .files import Track
from .layout import (
    C_CONTROL,
    C_CUE,
    C_EXIT_LOOP,
    C_FX,
    C_FX_OFF,
    C_HOTCUE,
    C_LOAD,
    C_LOOP,
    C_LOUDNESS,
    C_MARK,
    C_ONESHOT,
    C_PANIC,
    C_PAUSE,
    C_PLAY,
    C_STRETCH,
    C_SYNC,
    C_VOICES_OFF,
    D_ANCHOR_CB,
    D_ANCHOR_TB,
    D_FIRST,
    D_LOOP_ON,
    D_MOVING,
    D_POS_TB,
    D_PREV_SLOT,
    D_REFUSED,
    D_RUN_TARGET,
    D_SLOT,
    D_SPB,
    D_SRC_SLOT,
    D_WANT_SLOT,
    DECK_FIELDS,
    F_STAGES,
    FX_ECHO,
    FX_REVERB,
    M_BEAT,
    M_BPS,
    M_SAMPLE,
    M_SEQ,
    M_VALID,
    MAX_BLOCK,
    MAX_DECKS,
    MT_COMP_GR,
    MT_GR,
    MT_MOMENTARY,
    MT_PEAK,
    MT_SHORT_TERM,
    N_SLOTS,
    N_VOICES,
    S_APPLIED,
    S_CALLBACKS,
    S_ENV_TRUNC,
    S_FRAMES,
    S_LAST_MARK,
    S_LATE,
    S_LONGEST_NS,
    S_MAP_JUMPS,
    S_MARK_SAMPLE,
    S_NONFINITE,
    S_OVERFLOW,
    S_OVERRUNS,
    S_PANICS,
    S_PENDING,
    S_RING_DROPPED,
    S_SUBBLOCKS,
    S_TP_RUNS,
    S_UNDERFLOW_AT,
    S_UNDERFLOWS,
    S_VARISPEED,
    TAP_DECKS,
    V_ACTIVE,
    V_SLOT,
    VOICE_FIELDS,
    lane,
)
from .state import EngineSettings, EngineState, MasterSettings

FX_UNITS = {"echo": FX_ECHO, "delay": FX_ECHO, "reverb": FX_REVERB, "verb": FX_REVERB, "room": FX_REVERB}
STATS = {
    "callbacks": S_CALLBACKS, "underflows": S_UNDERFLOWS, "frames": S_FRAMES, "late_events": S_LATE,
    "nonfinite": S_NONFINITE, "pending": S_PENDING, "pending_overflow": S_OVERFLOW, "panics": S_PANICS,
    "map_jumps": S_MAP_JUMPS, "envelope_truncated": S_ENV_TRUNC, "last_mark": S_LAST_MARK,
    "mark_sample": S_MARK_SAMPLE, "applied_sample": S_APPLIED, "last_underflow_block": S_UNDERFLOW_AT,
    "overruns": S_OVERRUNS, "longest_render_ns": S_LONGEST_NS, "true_peak_runs": S_TP_RUNS, "subblocks": S_SUBBLOCKS,
    "varispeed_runs": S_VARISPEED,
}


class EngineFull(RuntimeError):
    """No free audio slot (every buffer is on a deck, in a voice or on its way)."""


class Engine:
    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.state = EngineState(settings)
        self.settings = self.state.settings
        self.ring = CommandRing(self.state)
        self._slots = self.state["slots"]
        self._span = self.state["span"]
        self._deck = self.state["deck"].reshape(MAX_DECKS, DECK_FIELDS)
        self._buffers: dict[int, np.ndarray] = {}
        self._pinned: set[int] = set()
        self._pending: dict[int, int] = {}  # slot → kernel frame count when its LOAD was sent
        self._slot_lock = threading.Lock()
        self._map_lock = threading.Lock()
        self.tracks: dict[int, Track] = {}

    # -- basics -------------------------------------------------------------------------------------
    @property
    def samplerate(self) -> int:
        return self.settings.samplerate

    @property
    def decks(self) -> int:
        return self.settings.decks

    @property
    def latency_samples(self) -> int:
        return self.state.latency_samples

    @property
    def frames(self) -> int:
        return int(self.state["stats"][S_FRAMES])

    def set_clock_map(self, sample: float, beat: float, beats_per_sample: float) -> None:
        """Publish 'kernel sample `sample` sounds on beat `beat`' (seqlock: the kernel never reads it torn)."""
        clock = self.state["clock"]
        with self._map_lock:
            seq = clock[M_SEQ] + 1.0
            clock[M_SEQ] = seq  # odd: being written
            clock[M_SAMPLE] = float(sample)
            clock[M_BEAT] = float(beat)
            clock[M_BPS] = float(beats_per_sample)
            clock[M_VALID] = 1.0
            clock[M_SEQ] = seq + 1.0

    def render(self, frames: int, out: np.ndarray | None = None) -> np.ndarray:
        """Render one block on this thread (offline, tests, warm-up). Interleaved stereo float32."""
        from .kernel import render

        if out is None:
            out = np.zeros(2 * frames, np.float32)
        render(self.state.table, out, frames)
        return out

    def tap_decks(self, on: bool) -> None:
        """Offline only: from the next block, copy each deck's signal after its fader into the tap
        (`deck_taps`), so one pass gives the mix and every deck alone."""
        settings = self.state["settings"]
        stages = int(settings[F_STAGES])
        settings[F_STAGES] = float(stages | TAP_DECKS if on else stages & ~TAP_DECKS)

    def deck_taps(self, frames: int) -> np.ndarray:
        """The last block's deck signals (`tap_decks`): a view (decks, frames, 2) of float64, in kernel
        samples (each sounds `latency_samples` later at the output); the next block overwrites it."""
        return self.state["tap"].reshape(MAX_DECKS, MAX_BLOCK, 2)[: self.decks, :frames]

    # -- audio buffers --------------------------------------------------------------------------------
    def put_buffer(self, audio: np.ndarray, pinned: bool = False, filled: bool = True) -> int:
        """Place a (frames, 2) float32 buffer in a free slot; returns the slot. `filled=False`: the buffer
        holds no audio yet (a stretch being rendered): `set_span` says how much it holds as it fills."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[1] != 2:
            raise ValueError("engine buffers are (frames, 2) float32")
        with self._slot_lock:
            slot = self._free_slot()
            self._buffers[slot] = audio
            self._span[2 * slot] = 0.0
            self._span[2 * slot + 1] = float(audio.shape[0]) if filled else 0.0
            self._slots[2 * slot + 1] = audio.shape[0]
            self._slots[2 * slot] = audio.ctypes.data  # the address last: a slot is valid once it has one
            if pinned:
                self._pinned.add(slot)
            return slot

    def set_span(self, slot: int, lo: float, hi: float) -> None:
        """Frames [lo, hi) of `slot` hold audio. The kernel reads the two fields without a lock: a stretch
        only ever widens its span (hi first, then lo), so either value it sees is true."""
        self._span[2 * slot + 1] = float(hi)
        self._span[2 * slot] = float(lo)

    def unpin(self, slot: int) -> None:
        """A pinned buffer may go once nothing plays it (a stretch dropped from the cache)."""
        with self._slot_lock:
            self._pinned.discard(slot)

    def buffer(self, slot: int) -> np.ndarray:
        return self._buffers[slot]

    def reserve(self, slot: int) -> None:
        """Keep a slot from reuse while a command naming it is on its way to the kernel."""
        with self._slot_lock:
            self._pending[slot] = self.frames

    def _in_use(self) -> set[int]:
        fields = self._deck[:, [D_SLOT, D_SRC_SLOT, D_PREV_SLOT, D_WANT_SLOT]].ravel()
        used = {int(s) for s in fields if s >= 0}
        voices = self.state["voices"].reshape(N_VOICES, VOICE_FIELDS)
        used |= {int(v[V_SLOT]) for v in voices if v[V_ACTIVE] > 0}
        horizon = 60 * self.samplerate
        self._pending = {s: f for s, f in self._pending.items() if self.frames - f < horizon and s not in used}
        return used | set(self._pending) | self._pinned

    def _free_slot(self) -> int:
        used = self._in_use()
        for slot in range(N_SLOTS):
            if slot not in used:
                if slot in self._buffers:  # drop the old buffer: nothing can reach it any more
                    self._slots[2 * slot] = 0
                    del self._buffers[slot]
                return slot
        raise EngineFull("all audio slots are busy; wait for a deck to change track")

    # -- deck commands --------------------------------------------------------------------------------
    def load(self, deck: int, track: Track, beat: float | None = None, loudness: float = 0.0,
             cue: float = 0.0) -> bool:
        """Load a track (on a stopped deck), its play head on track beat `cue` (a transition starts a track
        on one of its phrases); `loudness`: its loudness-matching offset in trim units."""
        if track.samplerate != self.samplerate:
            raise ValueError(f"track is at {track.samplerate} Hz, the engine at {self.samplerate} Hz")
        slot = self.put_buffer(track.audio)
        self.reserve(slot)
        ok = self.ring.push(row(C_LOAD, self._deck_index(deck), beat, slot, track.first_beat * self.samplerate,
                                track.samples_per_beat, float(cue), float(loudness)))
        if ok:
            self.tracks[deck] = track
        return ok

    def play(self, deck: int, beat: float | None = None) -> bool:
        return self.ring.push(row(C_PLAY, self._deck_index(deck), beat))

    def pause(self, deck: int, beat: float | None = None) -> bool:
        return self.ring.push(row(C_PAUSE, self._deck_index(deck), beat))

    def cue(self, deck: int, beat: float | None = None) -> bool:
        return self.ring.push(row(C_CUE, self._deck_index(deck), beat))

    def sync(self, deck: int, beat: float | None = None) -> bool:
        return self.ring.push(row(C_SYNC, self._deck_index(deck), beat))

    def loop(self, deck: int, beats: float, beat: float | None = None) -> bool:
        return self.ring.push(row(C_LOOP, self._deck_index(deck), beat, float(beats)))

    def exit_loop(self, deck: int, beat: float | None = None) -> bool:
        return self.ring.push(row(C_EXIT_LOOP, self._deck_index(deck), beat))

    def hotcue(self, deck: int, n: int, beat: float | None = None) -> bool:
        return self.ring.push(row(C_HOTCUE, self._deck_index(deck), beat, float(n)))

    def fx(self, deck: int, name: str, amount: float, beat: float | None = None) -> bool:
        unit = FX_UNITS.get(name.lower(), FX_ECHO)
        return self.ring.push(row(C_FX, self._deck_index(deck), beat, float(amount), float(unit)))

    def fx_off(self, deck: int, beat: float | None = None) -> bool:
        return self.ring.push(row(C_FX_OFF, self._deck_index(deck), beat))

    def control(self, param: str, value: float, deck: int | None = None, beat: float | None = None) -> bool:
        """Move a parameter to `value` over a short ramp starting on `beat`."""
        return self.ring.push(row(C_CONTROL, lane(param, deck), beat, float(value)))

    def envelope(self, param: str, corners: Sequence[tuple[float, float]], deck: int | None = None) -> bool:
        """Per-sample linear ramps through (beat, value) corners (from `Envelope.segments()`)."""
        return self.ring.push(envelope_rows(lane(param, deck), corners))

    def stretch(self, deck: int, slot: int, ratio: float, beat: float | None = None) -> bool:
        """From `beat`, the deck should sound `slot` (a stretch of its track holding track frame p at p ×
        `ratio`), once that holds the play head's audio; `slot` −1: its track itself, varispeed."""
        if slot >= 0:
            self.reserve(slot)
        return self.ring.push(row(C_STRETCH, self._deck_index(deck), beat, float(slot), float(ratio)))

    def loudness(self, deck: int, offset: float, beat: float | None = None) -> bool:
        """A new loudness-matching offset (trim units); it glides there at the trim's slope cap."""
        return self.ring.push(row(C_LOUDNESS, self._deck_index(deck), beat, float(offset)))

    def set_master(self, master: MasterSettings) -> None:
        """The master chain's settings, live (PANIC never touches them)."""
        self.state.set_master(master)

    def panic(self) -> bool:
        return self.ring.push(row(C_PANIC))

    def oneshot(self, slot: int, gain: float = 1.0, beat: float | None = None) -> bool:
        return self.ring.push(row(C_ONESHOT, slot, beat, float(gain)))

    def voices_off(self, beat: float | None = None) -> bool:
        return self.ring.push(row(C_VOICES_OFF, -1, beat))

    def mark(self, mark_id: int, beat: float | None = None) -> bool:
        """Ask the kernel to note the sample this beat fell on (decision → audible measurements)."""
        return self.ring.push(row(C_MARK, -1, beat, float(mark_id)))

    def _deck_index(self, deck: int) -> int:
        if not 0 <= deck < self.decks:
            raise ValueError(f"deck {deck} does not exist (the engine has {self.decks})")
        return deck

    # -- what the kernel reports ----------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        s = self.state["stats"]
        out = {name: int(s[i]) for name, i in STATS.items()}
        out["ring_dropped"] = self.ring.dropped + int(s[S_RING_DROPPED])
        return out

    def head_frame(self, deck: int, beat: float) -> float:
        """The track frame deck `deck` reads at clock beat `beat` (where a stretch must hold audio)."""
        d = self._deck[deck]
        tb = d[D_ANCHOR_TB] + (beat - d[D_ANCHOR_CB]) if d[D_MOVING] > 0 else d[D_POS_TB]
        return float(d[D_FIRST] + tb * d[D_SPB])

    def deck_state(self, deck: int, beat: float | None = None) -> dict[str, Any]:
        """What deck `deck` is doing; `beat` (the clock's, now) places the head of a moving deck, which the
        kernel keeps as an anchor rather than a position."""
        d = self._deck[deck]
        track = self.tracks.get(deck)
        moving = d[D_MOVING] > 0
        head = d[D_ANCHOR_TB] + (beat - d[D_ANCHOR_CB]) if moving and beat is not None else d[D_POS_TB]
        return {
            "playing": bool(moving and d[D_RUN_TARGET] > 0),
            "loop": bool(d[D_LOOP_ON] > 0),
            "loaded": bool(d[D_SLOT] >= 0),
            "position_beats": float(head),
            "refused_loads": int(d[D_REFUSED]),
            "stretched": bool(d[D_SRC_SLOT] >= 0 and d[D_SRC_SLOT] != d[D_SLOT]),
            "track": track.title if track else None,
            "bpm": track.bpm if track else None,
            "key": track.key if track else None,
            "length_beats": float(track.beats) if track else None,  # the stage view's "time left"
        }

    def meters(self) -> dict[str, float]:
        m = self.state["meters"]
        return {"peak": float(m[MT_PEAK]), "gain_reduction_db": float(20 * np.log10(max(m[MT_GR], 1e-9))),
                "compressor_db": float(m[MT_COMP_GR]), "short_term_lufs": _lufs(m[MT_SHORT_TERM]),
                "momentary_lufs": _lufs(m[MT_MOMENTARY])}


def _lufs(value: float) -> float | None:
    """A meter reading, or None before the first 100 ms block (and for silence)."""
    return round(float(value), 2) if value < 0.0 and value > -70.0 else None
