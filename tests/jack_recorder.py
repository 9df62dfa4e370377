"""A frame-exact MIDI recorder on JACK: the judge of *when* a message is on the wire.

rtmidi's JACK input stamps a whole cycle's messages with the time its callback ran, so it cannot tell a
message placed on its frame from one put at the start of the next cycle. This client's process callback is
C (a numba @cfunc, as bridge/jack_midi's sender): for every event it takes the cycle's start on JACK's
clock plus the event's frame offset, and puts that instant on Link's clock (CLOCK_MONOTONIC_RAW, read
back to back with `jack_get_time` each cycle). Python reads the rows afterwards.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from numba import carray, cfunc, types
from numba.extending import intrinsic

from copilot.bridge.jack_midi import (
    I8P,
    I32,
    PORT_IS_INPUT,
    address,
    c_call,
    call_cycle_times,
    call_get_buffer,
    call_get_time,
    libjack,
    open_client,
)
from copilot.bridge.jack_server import c_library
from copilot.bridge.native import clock_ns, voidptr

ROWS = 1 << 16
# Table words: client, port, get_buffer, event_count, event_get, get_time, cycle_times, rows, scratch,
# event struct, rows written. A row: wire time (Link ns), size, the first 16 bytes.
R_CLIENT, R_PORT, R_GET_BUFFER, R_COUNT, R_EVENT_GET, R_GET_TIME, R_CYCLE_TIMES = range(7)
R_ROWS, R_SCRATCH, R_EVENT, R_WRITTEN = range(7, 11)
TABLE = 12


@intrinsic
def _call_count(typingctx, fn, buf):  # type: ignore[no-untyped-def]
    """uint32_t jack_midi_get_event_count(void *)"""
    return types.uint32(types.int64, types.voidptr), c_call(I32, [I8P])


@intrinsic
def _call_event_get(typingctx, fn, event, buf, index):  # type: ignore[no-untyped-def]
    """int jack_midi_event_get(jack_midi_event_t *, void *, uint32_t)"""
    return types.int32(types.int64, types.voidptr, types.voidptr, types.uint32), c_call(I32, [I8P, I8P, I32])


# Not cached: compiled once per test run (about a second), so never stale against bridge/jack_midi.py.
@cfunc(types.intc(types.uint32, types.voidptr), nopython=True, cache=False, error_model="numpy")
def record(nframes, arg):  # type: ignore[no-untyped-def]
    tbl = carray(arg, (TABLE,), np.int64)
    n = np.int64(nframes)
    buf = call_get_buffer(tbl[R_GET_BUFFER], voidptr(tbl[R_PORT]), nframes)
    count = np.int64(_call_count(tbl[R_COUNT], buf))
    if count == 0:
        return 0
    base = tbl[R_SCRATCH]
    if call_cycle_times(tbl[R_CYCLE_TIMES], voidptr(tbl[R_CLIENT]), voidptr(base), voidptr(base + 8),
                         voidptr(base + 16), voidptr(base + 24)) != 0:
        return 0
    scratch = carray(voidptr(base), (4,), np.int64)
    cur, span = scratch[1], scratch[2] - scratch[1]
    offset = clock_ns() - call_get_time(tbl[R_GET_TIME]) * 1000
    rows = carray(voidptr(tbl[R_ROWS]), (ROWS * 4,), np.int64)
    event = carray(voidptr(tbl[R_EVENT]), (3,), np.int64)  # {uint32 time; size_t size; uint8 *buffer}
    for i in range(count):
        if _call_event_get(tbl[R_EVENT_GET], voidptr(tbl[R_EVENT]), buf, np.uint32(i)) != 0:
            continue
        frame = event[0] & 0xFFFFFFFF
        size = event[1]
        data = carray(voidptr(event[2]), (size,), np.uint8)
        r = (tbl[R_WRITTEN] % ROWS) * 4
        rows[r] = cur * 1000 + (frame * span * 1000) // n + offset
        rows[r + 1] = size
        rows[r + 2] = 0
        rows[r + 3] = 0
        for k in range(min(size, 16)):  # the first 16 bytes (a longer sysex is cut: its length is kept)
            rows[r + 2 + k // 8] |= np.int64(data[k]) << (8 * (k % 8))
        tbl[R_WRITTEN] += 1
    return 0


_NAMES = itertools.count()
_KEPT: list[JackRecorder] = []


class JackRecorder:
    """A JACK MIDI input wired to `source` (a port name, "client:port" or just "port"); `messages()` gives
    (Link time the message is on the wire, bytes) in order."""

    def __init__(self, source: str, client: str = "copilot-recorder") -> None:
        lib = libjack()
        self._lib = lib
        self.table = np.zeros(TABLE, dtype=np.int64)
        self.rows = np.zeros(ROWS * 4, dtype=np.int64)
        self._scratch = np.zeros(4, dtype=np.int64)
        self._event = np.zeros(3, dtype=np.int64)

        def fill(handle: int, port: int) -> None:
            t = self.table
            t[R_CLIENT], t[R_PORT] = handle, port
            t[R_GET_BUFFER] = address(lib.jack_port_get_buffer)
            t[R_COUNT] = address(lib.jack_midi_get_event_count)
            t[R_EVENT_GET] = address(lib.jack_midi_event_get)
            t[R_GET_TIME] = address(lib.jack_get_time)
            t[R_CYCLE_TIMES] = address(lib.jack_get_cycle_times)
            t[R_ROWS], t[R_SCRATCH], t[R_EVENT] = (self.rows.ctypes.data, self._scratch.ctypes.data,
                                                   self._event.ctypes.data)

        handle, port, self._gone = open_client(f"{client}-{next(_NAMES)}", "in", PORT_IS_INPUT, record.address,
                                               self.table, fill)
        self._client = handle
        self._libc = c_library()
        mine = lib.jack_port_name(port)
        found = lib.jack_get_ports(handle, None, b"8 bit raw midi", 0x2)  # MIDI outputs
        names = []
        i = 0
        while found and found[i]:
            names.append(found[i].decode())
            i += 1
        lib.jack_free(found)
        wanted = [p for p in names if p == source or p.endswith(":" + source)]
        if not wanted or lib.jack_connect(handle, wanted[0].encode(), mine) != 0:
            self.close()
            raise LookupError(f"no MIDI port {source!r} to record among {names}")
        self._read = 0

    def messages(self) -> list[tuple[float, bytes]]:
        """Everything recorded since the last call, oldest first."""
        total = int(self.table[R_WRITTEN])
        out = []
        for k in range(self._read, total):
            r = (k % ROWS) * 4
            size = int(self.rows[r + 1])
            packed = self.rows[r + 2:r + 4].astype("<i8").tobytes()
            out.append((self.rows[r] * 1e-9, packed[:min(size, 16)]))
        self._read = total
        return out

    def wait_for(self, count: int, timeout: float = 2.0) -> list[tuple[float, bytes]]:
        got: list[tuple[float, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            got += self.messages()
            time.sleep(0.005)
        return got + self.messages()

    def close(self) -> None:
        from copilot.bridge.jack_server import settle

        if self._client is None:
            return
        handle, self._client = self._client, None
        if self._libc.sem_trywait(self._gone) == 0:
            _KEPT.append(self)  # its server is gone: closing the client could crash libjack; keep it
            return
        settle()
        self._lib.jack_deactivate(handle)
        self._lib.jack_client_close(handle)
