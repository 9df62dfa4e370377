"""LinkClock: the shared clock of an Ableton Link session, through aalink.

aalink wants its `Link` built inside a running asyncio loop, so the clock owns a small loop thread.
That thread re-takes the anchor every few milliseconds; everyone else only reads the published
anchor (see clock.py). Link is enabled only after `join_delay` seconds so that starting copilot
next to a running set never resets the session's tempo.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import threading
from collections.abc import Callable

from .clock import AnchoredClock, ClockAnchor, host_time, next_boundary
from .dispatch import HELPER_PRIORITY, make_realtime

ANCHOR_PERIOD = 0.01  # seconds between anchors; Link's drift correction shows up within a few anchors
# A read of Link's time and beat that took longer than this was interrupted (another thread took the
# GIL, the VM stole the core): the beat may belong to a later instant than the time, which would shift
# the whole grid by the gap until the next anchor. Such a read is retried, or the last anchor kept.
ANCHOR_READ_MAX = 0.0002
ANCHOR_READ_TRIES = 3
ANCHOR_MAX_KEPT = 10  # after this many dropped anchors in a row, take one anyway (Link's drift must show)


class LinkUnavailable(RuntimeError):
    """aalink is missing or Link could not start; the caller falls back to the internal clock."""


class LinkClock(AnchoredClock):
    def __init__(
        self,
        tempo: float = 120.0,
        quantum: float = 4.0,
        *,
        start_stop_sync: bool = False,
        join_delay: float = 0.5,
        on_tempo: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(tempo, quantum)
        try:
            import aalink  # noqa: F401  (imported here so a broken wheel falls back cleanly)
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise LinkUnavailable(f"aalink is not importable: {exc}") from exc
        self._initial_tempo = float(tempo)
        self._start_stop_sync = start_stop_sync
        self._join_delay = join_delay
        self._on_tempo = on_tempo
        self._peers = 0
        self._enabled = threading.Event()
        self._failed: BaseException | None = None
        self._link_offset = 0.0  # Link's clock minus host_time(); ~0 on Linux, measured anyway
        self.interrupted_reads = 0  # anchor reads retried or dropped because they were interrupted
        self._kept = 0  # anchors dropped in a row
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._link = None
        self._thread = threading.Thread(target=self._run, name="copilot-link", daemon=True)
        self._thread.start()

    # -- the loop thread -------------------------------------------------------------------------
    def _run(self) -> None:
        make_realtime(HELPER_PRIORITY)  # re-anchoring takes the GIL every 10 ms: never preempted holding it
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported through wait_enabled()
            self._failed = exc
            self._enabled.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        from aalink import Link

        self._stop = asyncio.Event()
        link = Link(self._initial_tempo)
        link.quantum = self.quantum
        link.start_stop_sync_enabled = self._start_stop_sync
        link.set_num_peers_callback(self._peers_changed)
        link.set_tempo_callback(self._tempo_changed)
        link.set_start_stop_callback(self._start_stop_changed)
        self._link = link
        await asyncio.sleep(self._join_delay)
        link.enabled = True
        self._take_anchor(force=True)
        self._enabled.set()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), ANCHOR_PERIOD)
            self._take_anchor()
        link.enabled = False

    def _take_anchor(self, force: bool = False) -> None:
        """Publish a fresh (time, beat, tempo). `force`: even from an interrupted read (a tempo change
        must show at once; the next anchor, 10 ms later, is clean again)."""
        link = self._link
        for _ in range(ANCHOR_READ_TRIES):
            before = host_time()
            link_now = link.time.total_seconds()
            beat = link.beat
            after = host_time()
            if after - before <= ANCHOR_READ_MAX:
                break
            self.interrupted_reads += 1
        else:
            if not force and self._kept < ANCHOR_MAX_KEPT:
                self._kept += 1
                return
        self._kept = 0
        mid = 0.5 * (before + after)
        self._link_offset = link_now - mid
        self._anchor = ClockAnchor(mid, beat, link.tempo)
        self._playing = bool(link.playing) if self._start_stop_sync else self._playing

    def _peers_changed(self, peers: int) -> None:
        self._peers = int(peers)

    def _tempo_changed(self, tempo: float) -> None:
        self._take_anchor(force=True)
        if self._on_tempo is not None:
            self._on_tempo(float(tempo))

    def _start_stop_changed(self, playing: bool) -> None:
        self._playing = bool(playing)

    def _call(self, fn: Callable[[], object], timeout: float = 2.0) -> object:
        """Run `fn` on the loop thread (Link is driven from one thread only) and wait for its result."""
        if self._failed is not None:
            raise LinkUnavailable(f"Link stopped: {self._failed}")

        async def call() -> object:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    # -- public ----------------------------------------------------------------------------------
    def wait_enabled(self, timeout: float = 5.0) -> bool:
        """Block until Link is enabled and the first anchor is out; raises if Link failed to start."""
        ok = self._enabled.wait(timeout)
        if self._failed is not None:
            raise LinkUnavailable(f"Link could not start: {self._failed}")
        return ok

    @property
    def enabled(self) -> bool:
        return self._enabled.is_set() and self._failed is None

    @property
    def peers(self) -> int:
        return self._peers

    def set_tempo(self, bpm: float, wait: bool = True, at_beat: float | None = None) -> None:
        """Change the session tempo. `wait=False` (the dispatch thread) hands it to the loop and returns.

        Link pivots a tempo change on its own now; sent on time, that is `at_beat` to well under 1 ms.
        """
        if not (20.0 <= bpm <= 999.0):
            raise ValueError(f"tempo must be 20..999 BPM, got {bpm}")

        def apply() -> None:
            self._link.tempo = float(bpm)
            self._take_anchor()

        if wait:
            self._call(apply)
        else:
            self._loop.call_soon_threadsafe(apply)

    def set_quantum(self, quantum: float) -> None:
        def apply() -> None:
            self._link.quantum = float(quantum)
            self.quantum = float(quantum)
            self._take_anchor()

        self._call(apply)

    def start(self) -> float:
        """Quantized start: playing begins on the next bar line of the session (Link start/stop sync)."""

        def apply() -> float:
            self._take_anchor()
            beat = next_boundary(self.beat, self.quantum)
            at = self.time_at_beat(beat) + self._link_offset
            self._link.set_is_playing_and_request_beat_at_time(True, _dt.timedelta(seconds=at), beat)
            self._playing = True
            self._take_anchor()
            return beat

        return float(self._call(apply))

    def stop(self) -> None:
        def apply() -> None:
            self._link.playing = False
            self._playing = False

        self._call(apply)

    def close(self) -> None:
        if self._thread.is_alive() and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=2.0)
