"""A JACK client in its own process whose latency callback is slow (as a loaded machine makes any
client's): it prints "ready", then one line per callback, "start END" in CLOCK_MONOTONIC seconds, so a
test can see whether `settle()` returned before every client had finished with the last graph change.
Python in a libjack thread is fine here only because this process is thrown away (the test kills it)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time

SLOW = 0.1  # seconds each latency callback takes


def main() -> None:
    lib = ctypes.CDLL(ctypes.util.find_library("jack"))
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    lib.jack_client_open.restype = ctypes.c_void_p
    for name in ("jack_set_process_callback", "jack_set_latency_callback"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.jack_activate.argtypes = [ctypes.c_void_p]
    client = lib.jack_client_open(f"latency-observer-{os.getpid()}".encode(), 0x01, None)
    if not client:
        sys.exit("no JACK server")

    @ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)
    def on_latency(mode: int, arg: int) -> None:
        start = time.monotonic()
        time.sleep(SLOW)
        print(f"{start:.6f} {time.monotonic():.6f}", flush=True)

    # A process callback makes the client part of the graph (only those get latency callbacks); a C one
    # that returns 0 at once, so no Python runs in the real-time thread.
    lib.jack_set_process_callback(client, ctypes.cast(libc.sched_yield, ctypes.c_void_p), None)
    lib.jack_set_latency_callback(client, ctypes.cast(on_latency, ctypes.c_void_p), None)
    lib.jack_activate(client)
    print("ready", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
