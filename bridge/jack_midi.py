"""Native JACK MIDI out: messages handed over ahead of time, put on their exact frame by C code.

The rtmidi path needs the dispatch thread to hold the GIL at each message's send time; whenever the OSC
thread, voice or a LOAD's lookup hold it instead, the message waits (docs/benchmarks.md, the hour's soak:
p99.9 11 ms late). Here the planning side works ahead, as in SuperCollider: the dispatcher writes each
message with its due time into a single-producer ring a few milliseconds early, and JACK's process
callback — a numba `@cfunc` calling libjack through function pointers, never Python, no allocation, no
lock — places every message due in the cycle at its frame offset (late ones at offset 0 of the cycle they
are found in). No Python thread can stall it.

Time: a message's due time is Link's clock (CLOCK_MONOTONIC_RAW) in ns; each cycle the callback reads that
clock and `jack_get_time` back to back and turns dues into JACK microseconds itself, so there is no
offset to keep fresh from Python. What the callback did is counted in the table (placed, late, recalled)
and every placement's error (placed − due, µs) goes to a ring for benches and tests.

Withdrawing (PANIC, a cancel): every message handed over has a ticket; `recall(ticket)` marks its slot
recalled and the callback skips it, unless the callback placed it already (then it is on the wire). Both
sides take a slot from "waiting" by one atomic compare-and-swap, so a recall racing the callback in the
same cycle has exactly one winner: a recall that says yes was never placed, one that says no was.
Ordering: the producer publishes a filled slot by a sequentially consistent store of the ring's head
(`publish`), so the callback never sees the head move before the slot's words, on any CPU.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from llvmlite import ir
from numba import carray, cfunc, njit, types
from numba.extending import intrinsic

from .jack_server import _libjack, c_library, settle
from .kernel_cache import drop_stale
from .native import clock_ns, fence, voidptr

# numba checks only this file before it loads the cached callback; its intrinsics live in native.py.
drop_stale(Path(__file__).resolve().parent, ("jack_midi.py", "native.py"))

SLOTS = 4096  # messages in flight: far more than a lookahead's worth
DATA_MAX = 16  # bytes per message (notes and CCs are 3; a longer message goes by rtmidi's path: refused here)
LATENESS = 65536  # placement errors kept (µs), newest overwrite oldest

# The table the callback gets as its argument (int64 words): addresses, then counters.
T_CLIENT, T_PORT, T_GET_BUFFER, T_CLEAR, T_WRITE, T_GET_TIME, T_CYCLE_TIMES = range(7)
T_SLOTS, T_DATA, T_LATE_RING, T_SCRATCH = range(7, 11)
C_WRITTEN, C_READ, C_PLACED, C_LATE, C_RECALLED, C_FULL, C_LATE_N, C_CYCLES = range(11, 19)
TABLE = 20
# One slot's words: due (Link ns), ticket, state, size in bytes.
S_DUE, S_TICKET, S_LIVE, S_SIZE = range(4)
SLOT_WORDS = 4
RECALLED, WAITING, PLACED = 0, 1, 2
WINDOW = 256  # slots the callback looks at each cycle (a server that stalled must not make one cycle long)

JACK_MIDI_TYPE = b"8 bit raw midi"
PORT_IS_INPUT, PORT_IS_OUTPUT = 0x1, 0x2
NO_START_SERVER = 0x01

I8P = ir.IntType(8).as_pointer()
I32, I64 = ir.IntType(32), ir.IntType(64)


def c_call(ret: Any, args: list[Any]) -> Any:
    """Lowering for "call the C function at the int64 address in the first argument with the rest".
    Addresses are read from the table at run time, so the callback stays cacheable (no ctypes object is
    compiled in)."""
    fnty = ir.FunctionType(ret, args)

    def codegen(context, builder, signature, llargs):  # type: ignore[no-untyped-def]
        fn = builder.inttoptr(llargs[0], fnty.as_pointer())
        out = builder.call(fn, list(llargs[1:]))
        return context.get_dummy_value() if isinstance(ret, ir.VoidType) else out

    return codegen


@intrinsic
def call_get_buffer(typingctx, fn, port, nframes):  # type: ignore[no-untyped-def]
    """void *jack_port_get_buffer(jack_port_t *, jack_nframes_t)"""
    return types.voidptr(types.int64, types.voidptr, types.uint32), c_call(I8P, [I8P, I32])


@intrinsic
def call_clear(typingctx, fn, buf):  # type: ignore[no-untyped-def]
    """void jack_midi_clear_buffer(void *)"""
    return types.void(types.int64, types.voidptr), c_call(ir.VoidType(), [I8P])


@intrinsic
def call_write(typingctx, fn, buf, at, data, size):  # type: ignore[no-untyped-def]
    """int jack_midi_event_write(void *, jack_nframes_t, const jack_midi_data_t *, size_t)"""
    sig = types.int32(types.int64, types.voidptr, types.uint32, types.voidptr, types.int64)
    return sig, c_call(I32, [I8P, I32, I8P, I64])


@intrinsic
def call_get_time(typingctx, fn):  # type: ignore[no-untyped-def]
    """jack_time_t jack_get_time(void)"""
    return types.int64(types.int64), c_call(I64, [])


@intrinsic
def call_cycle_times(typingctx, fn, client, frames, current, following, period):  # type: ignore[no-untyped-def]
    """int jack_get_cycle_times(const jack_client_t *, jack_nframes_t *, jack_time_t *, jack_time_t *, float *)"""
    sig = types.int32(types.int64, *([types.voidptr] * 5))
    return sig, c_call(I32, [I8P] * 5)


@intrinsic
def swap_if(typingctx, address, expected, new):  # type: ignore[no-untyped-def]
    """Atomically: if the int64 at `address` is `expected`, make it `new`. True when it did."""
    sig = types.boolean(types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ptr = builder.inttoptr(args[0], I64.as_pointer())
        pair = builder.cmpxchg(ptr, args[1], args[2], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)

    return sig, codegen


@intrinsic
def store_atomic(typingctx, address, value):  # type: ignore[no-untyped-def]
    """A sequentially consistent store of an int64: everything written before it is seen before it."""
    sig = types.void(types.int64, types.int64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        builder.store_atomic(args[1], builder.inttoptr(args[0], I64.as_pointer()), "seq_cst", 8)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def take(address: int, expected: int, new: int) -> bool:
    """`swap_if` for Python (the producer's recall)."""
    return swap_if(address, expected, new)


@njit(cache=True)
def publish(address: int, value: int) -> None:
    """`store_atomic` for Python (the producer moving the ring's head on)."""
    store_atomic(address, value)


PROCESS = types.intc(types.uint32, types.voidptr)


@cfunc(PROCESS, nopython=True, cache=True, error_model="numpy")
def process(nframes, arg):  # type: ignore[no-untyped-def]
    tbl = carray(arg, (TABLE,), np.int64)
    n = np.int64(nframes)
    buf = call_get_buffer(tbl[T_GET_BUFFER], voidptr(tbl[T_PORT]), nframes)
    call_clear(tbl[T_CLEAR], buf)
    tbl[C_CYCLES] += 1
    scratch = carray(voidptr(tbl[T_SCRATCH]), (4,), np.int64)
    scratch[0] = 0
    base = tbl[T_SCRATCH]
    if call_cycle_times(tbl[T_CYCLE_TIMES], voidptr(tbl[T_CLIENT]), voidptr(base), voidptr(base + 8),
                         voidptr(base + 16), voidptr(base + 24)) != 0:
        return 0
    cur, nxt = scratch[1], scratch[2]
    span = nxt - cur
    if span <= 0:
        return 0
    # Link's clock and JACK's, read back to back: the offset between them, fresh every cycle.
    offset = clock_ns() - call_get_time(tbl[T_GET_TIME]) * 1000
    written = tbl[C_WRITTEN]
    fence()  # the slots were filled before `written` moved on (the producer's order)
    slots = carray(voidptr(tbl[T_SLOTS]), (SLOTS * SLOT_WORDS,), np.int64)
    slots_at = tbl[T_SLOTS]
    late_ring = carray(voidptr(tbl[T_LATE_RING]), (LATENESS,), np.int64)
    data = tbl[T_DATA]
    r = tbl[C_READ]
    end = min(written, r + WINDOW)
    last = np.int64(0)
    # Messages are handed over in due order per lead, but one handed late (a move due 1.5 ms from its
    # decision) sits behind others due later: each round takes the earliest one due this cycle.
    while True:
        best = np.int64(-1)
        best_due = nxt
        for k in range(r, end):
            s = (k % SLOTS) * SLOT_WORDS
            if slots[s + S_LIVE] != WAITING:
                continue
            due = (slots[s + S_DUE] - offset) // 1000  # JACK µs
            if due < best_due:
                best, best_due = k, due
        if best < 0:
            break
        s = (best % SLOTS) * SLOT_WORDS
        if not swap_if(slots_at + (s + S_LIVE) * 8, WAITING, PLACED):
            continue  # recalled since the scan read it: the recall has it
        at = np.int64(0)
        if best_due > cur:
            at = ((best_due - cur) * n + span // 2) // span
        else:
            tbl[C_LATE] += 1
        at = max(at, last)  # events in a buffer never go back in time
        at = min(at, n - 1)
        if call_write(tbl[T_WRITE], buf, np.uint32(at), voidptr(data + (best % SLOTS) * DATA_MAX),
                      slots[s + S_SIZE]) != 0:
            tbl[C_FULL] += 1
            store_atomic(slots_at + (s + S_LIVE) * 8, WAITING)  # not placed: next cycle (a recall said no)
            break  # the port's buffer is full: the rest go next cycle
        last = at
        late_ring[tbl[C_LATE_N] % LATENESS] = cur + (at * span) // n - best_due
        tbl[C_LATE_N] += 1
        tbl[C_PLACED] += 1
    while r < written and slots[(r % SLOTS) * SLOT_WORDS + S_LIVE] != WAITING:
        if slots[(r % SLOTS) * SLOT_WORDS + S_LIVE] == RECALLED:
            tbl[C_RECALLED] += 1
        r += 1
    tbl[C_READ] = r
    return 0


class NativeUnavailable(RuntimeError):
    """The native JACK client could not be made here (no libjack, no server, no compiler)."""


def libjack() -> Any:
    """libjack with the signatures a native client needs (None when it is not installed)."""
    lib = _libjack()
    if lib is None:
        return None
    lib.jack_port_register.restype = ctypes.c_void_p
    lib.jack_port_register.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                                       ctypes.c_ulong]
    lib.jack_port_name.restype = ctypes.c_char_p
    lib.jack_port_name.argtypes = [ctypes.c_void_p]
    lib.jack_set_process_callback.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.jack_activate.argtypes = [ctypes.c_void_p]
    lib.jack_deactivate.argtypes = [ctypes.c_void_p]
    lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    return lib


def address(fn: Any) -> int:
    """A C function's address (for a callback's table)."""
    return int(ctypes.cast(fn, ctypes.c_void_p).value or 0)


def open_client(client: str, port: str, direction: int, callback: int, table: np.ndarray,
                fill: Callable[[int, int], None]) -> tuple[int, int, Any]:
    """A JACK client with one MIDI port whose process callback is native code: opened, the port registered,
    `fill(client, port)` writes the callback's table, then activated. Returns the client, the port and a
    sem_t that libjack posts if the server drops the client (never a Python callback: libjack cancels its
    threads, and one cancelled while waiting for the GIL would take the GIL's mutex with it)."""
    lib, libc = libjack(), c_library()
    if lib is None or libc is None:
        raise NativeUnavailable("libjack is not installed")
    status = ctypes.c_int(0)
    handle = lib.jack_client_open(client.encode(), NO_START_SERVER, ctypes.byref(status))
    if not handle:
        raise NativeUnavailable(f"no JACK server answered (status 0x{status.value:x})")
    port_handle = lib.jack_port_register(handle, port.encode(), JACK_MIDI_TYPE, direction, 0)
    if not port_handle:
        lib.jack_client_close(handle)
        raise NativeUnavailable(f"JACK refused the port '{port}'")
    fill(handle, port_handle)
    gone = ctypes.create_string_buffer(64)  # sem_t: 32 bytes on 64-bit glibc
    libc.sem_init(gone, 0, 0)
    lib.jack_on_shutdown(handle, ctypes.cast(libc.sem_post, ctypes.c_void_p), gone)
    lib.jack_set_process_callback(handle, callback, table.ctypes.data)
    if lib.jack_activate(handle) != 0:
        lib.jack_client_close(handle)
        raise NativeUnavailable("JACK would not activate the client")
    return handle, port_handle, gone


# Clients of a server that died, with the arrays their callback points into: never closed, never freed.
_GRAVEYARD: list[Any] = []


class NativeJackOut:
    """One JACK MIDI output port fed ahead of time. `send(data, due)` is the producer (one thread at a
    time: a lock, uncontended, guards the ring's write end); the callback is the consumer."""

    def __init__(self, port: str, client: str, lookahead: float) -> None:
        lib, libc = libjack(), c_library()
        if lib is None or libc is None:
            raise NativeUnavailable("libjack is not installed")
        self._lib = lib
        self.table = np.zeros(TABLE, dtype=np.int64)
        self.slots = np.zeros(SLOTS * SLOT_WORDS, dtype=np.int64)
        self.data = np.zeros(SLOTS * DATA_MAX, dtype=np.uint8)
        self.lateness_us = np.zeros(LATENESS, dtype=np.int64)
        self._scratch = np.zeros(4, dtype=np.int64)
        self._lock = threading.Lock()
        try:
            callback = process.address  # compiled (or loaded from numba's cache) before any client exists
            take(self.slots.ctypes.data, RECALLED, RECALLED)
            publish(self._scratch.ctypes.data, 0)
        except Exception as exc:  # noqa: BLE001 - numba/LLVM trouble: the rtmidi path stays
            raise NativeUnavailable(f"the callback could not be compiled ({exc})") from None

        def fill(handle: int, port_handle: int) -> None:
            t = self.table
            t[T_CLIENT], t[T_PORT] = handle, port_handle
            t[T_GET_BUFFER] = address(lib.jack_port_get_buffer)
            t[T_CLEAR] = address(lib.jack_midi_clear_buffer)
            t[T_WRITE] = address(lib.jack_midi_event_write)
            t[T_GET_TIME] = address(lib.jack_get_time)
            t[T_CYCLE_TIMES] = address(lib.jack_get_cycle_times)
            t[T_SLOTS], t[T_DATA] = self.slots.ctypes.data, self.data.ctypes.data
            t[T_LATE_RING], t[T_SCRATCH] = self.lateness_us.ctypes.data, self._scratch.ctypes.data

        handle, port_handle, self.gone = open_client(client, port, PORT_IS_OUTPUT, callback, self.table, fill)
        self._client = handle
        self.full_name = (lib.jack_port_name(port_handle) or b"").decode(errors="replace")
        rate = max(1, lib.jack_get_sample_rate(handle))
        self.period = lib.jack_get_buffer_size(handle) / rate
        # The ring must hold a message before the cycle it falls in starts: at least two cycles ahead.
        self.lookahead = max(float(lookahead), 2.0 * self.period + 0.001)
        self._libc = libc
        self._dead = False
        self._head = self.table.ctypes.data + C_WRITTEN * 8
        self._slots_at = self.slots.ctypes.data
        self.reaimed = 0  # messages moved to a new time after hand-over (each also counts as recalled)

    # -- producer (the dispatch thread, or whoever sends) -----------------------------------------------
    def send(self, data: bytes | list[int], due: float) -> int:
        """Hand one message over, due at `due` (Link clock, seconds); returns its ticket for `recall`."""
        size = len(data)
        if not 0 < size <= DATA_MAX:
            raise ValueError(f"a native MIDI message is 1..{DATA_MAX} bytes, got {size}")
        with self._lock:
            return self._put(bytes(data), due)

    def _put(self, data: bytes, due: float) -> int:
        t = self.table
        written = int(t[C_WRITTEN])
        if written - int(t[C_READ]) >= SLOTS:
            raise OverflowError("the MIDI ring is full: JACK has not run for a while")
        i = written % SLOTS
        s = i * SLOT_WORDS
        self.data[i * DATA_MAX:i * DATA_MAX + len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.slots[s + S_DUE] = int(due * 1e9)
        self.slots[s + S_TICKET] = written
        self.slots[s + S_SIZE] = len(data)
        self.slots[s + S_LIVE] = WAITING
        publish(self._head, written + 1)  # the slot's words are seen before the head moves on
        return written

    def reaim(self, ticket: int, due: float) -> int | None:
        """Move a message handed over but not yet placed to a new due time (the tempo changed after it was
        handed over): it is recalled and handed over again. Its new ticket, or None when the callback took
        it already. (The callback counts the old slot as recalled.)"""
        s = (ticket % SLOTS) * SLOT_WORDS
        with self._lock:  # no send meanwhile: the slot's bytes stay until they are copied
            if int(self.slots[s + S_TICKET]) != ticket or not take(self._slots_at + (s + S_LIVE) * 8, WAITING,
                                                                     RECALLED):
                return None
            i = ticket % SLOTS
            self.reaimed += 1
            return self._put(self.data[i * DATA_MAX:i * DATA_MAX + int(self.slots[s + S_SIZE])].tobytes(), due)

    def recall(self, ticket: int) -> bool:
        """Withdraw a message handed over but not yet placed. False: the callback took it already."""
        s = (ticket % SLOTS) * SLOT_WORDS
        if int(self.slots[s + S_TICKET]) != ticket:
            return False
        # The callback may be placing it this very instant: whichever swap comes first has it.
        return bool(take(self._slots_at + (s + S_LIVE) * 8, WAITING, RECALLED))

    # -- reading what the callback did -------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        t = self.table
        return {"handed": int(t[C_WRITTEN]), "placed": int(t[C_PLACED]), "late": int(t[C_LATE]),
                "recalled": int(t[C_RECALLED]), "reaimed": self.reaimed, "full": int(t[C_FULL]),
                "cycles": int(t[C_CYCLES])}

    def placements(self, since: int = 0) -> tuple[np.ndarray, int]:
        """Placement errors (placed − due, seconds) from placement number `since` on (those still in the
        ring), and the number to pass next time."""
        total = int(self.table[C_LATE_N])
        first = max(since, total - LATENESS + 1024)  # leave the part the callback may be overwriting
        if first >= total:
            return np.zeros(0), total
        idx = np.arange(first, total) % LATENESS
        return self.lateness_us[idx] * 1e-6, total

    @property
    def dead(self) -> bool:
        """The server dropped this client (it stopped or restarted)."""
        if not self._dead and self._libc.sem_trywait(self.gone) == 0:
            self._dead = True  # the semaphore is posted once: remember it
        return self._dead

    def drain(self, timeout: float) -> bool:
        """Wait until the callback has placed (or skipped, recalled) everything handed over, at most
        `timeout` seconds: what was handed over counts as sent, so a port closing must not drop it. True
        when nothing is left."""
        deadline = time.monotonic() + timeout
        while self.table[C_READ] < self.table[C_WRITTEN]:
            if time.monotonic() >= deadline or self.dead:
                return False
            time.sleep(0.001)
        return True

    def close(self, server_alive: bool = True) -> None:
        """Stop the callback and close the client (on a live server only: see `jack_server.settle`)."""
        if self._client is None:
            return
        handle, self._client = self._client, None
        if not server_alive or self.dead:
            _GRAVEYARD.append(self)
            return
        self.drain(self.lookahead + 2 * self.period + 0.01)
        settle()  # jack2 issue #216: no port goes while a client walks its port list
        self._lib.jack_deactivate(handle)
        self._lib.jack_client_close(handle)
