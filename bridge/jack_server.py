"""The JACK server, asked through libjack directly (ctypes: the GIL is released for every call).

What rtmidi cannot tell: every port on the server (a fresh client each time, the only true view after a
restart), and when the graph has settled after a change (see `settle`).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

_LIBJACK: Any = None


def _libjack() -> Any:
    global _LIBJACK
    if _LIBJACK is not None:
        return _LIBJACK
    import ctypes.util

    path = ctypes.util.find_library("jack")
    if not path:
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    if not os.environ.get("COPILOT_JACK_VERBOSE"):
        # libjack prints every failed connection to stderr; copilot says what is wrong in its own words.
        quiet = _c_no_op()
        if quiet is not None:
            lib.jack_set_error_function(quiet)
            lib.jack_set_info_function(quiet)
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_close.argtypes = [ctypes.c_void_p]
    lib.jack_get_ports.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.jack_get_ports.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
    lib.jack_free.argtypes = [ctypes.c_void_p]
    for name in ("jack_get_buffer_size", "jack_get_sample_rate", "jack_recompute_total_latencies"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    _LIBJACK = lib
    return lib


_PROBES = itertools.count()


def _open_client(kind: bytes) -> int | None:
    """A short-lived client, or None when no server answers. Never starts a server.

    A name of its own each time: the server tears a closed client down after jack_client_close returns,
    and a new client of the same name could lose its semaphore to that teardown — the probe failed now
    and then (6 in 400 back to back) and twice running made the watchdog think the MIDI system gone."""
    status = ctypes.c_int(0)
    no_start_server = 0x01
    name = b"copilot-%s-%d-%d" % (kind, os.getpid(), next(_PROBES))
    return _libjack().jack_client_open(name, no_start_server, ctypes.byref(status)) or None


def jack_ports() -> list[str] | None:
    """Every port on the JACK server, or None when no server answers. Never starts a server.

    Goes through ctypes, which releases the GIL for the whole call: a fresh client (the only reliable
    view after a server restart) costs the dispatch thread nothing.
    """
    lib = _libjack()
    if lib is None:
        return None
    client = _open_client(b"probe")
    if not client:
        return None
    try:
        found = lib.jack_get_ports(client, None, None, 0)
        names: list[str] = []
        i = 0
        while found and found[i]:
            names.append(found[i].decode(errors="replace"))
            i += 1
        if found:
            lib.jack_free(found)
        return names
    finally:
        lib.jack_client_close(client)


def _c_no_op() -> Any:
    """A C function that reads its `const char *` and does nothing (libc's strlen), or None.

    Never a Python callback: libjack calls these from its own client threads, and cancels those threads
    (pthread_cancel) when a client closes. A thread cancelled while it waits for the GIL inside a Python
    callback dies holding the GIL's mutex, and every Python thread of the process then waits for ever —
    the soak froze whole after 12 minutes of a watchdog probing the server once a second."""
    libc = c_library()
    try:
        return ctypes.cast(libc.strlen, ctypes.c_void_p)
    except AttributeError:
        return None  # libjack's chatter stays on stderr: harmless


def jack_running() -> bool:
    """Is a JACK server answering (the default one, or $JACK_DEFAULT_SERVER)? Never starts one."""
    return jack_ports() is not None


def settle() -> None:
    """Return once the JACK graph has taken in every change made so far and told every client.

    Call it before a port is unregistered. libjack's notification thread walks a client's own port list
    whenever the graph changes (the latency callback) while `jack_port_unregister` erases from that same
    list on the caller's thread, unlocked (jack2 issue #216, still open): a port closed a moment after
    a connection or disconnection crashed the process. So: wait a few cycles, for the graph switch that
    publishes the last change, then ask the server to recompute every latency. That request is answered
    only after every client has run its latency callback, so none is walking its list when the port
    goes. A few milliseconds, on a client kept for the purpose (opening one costs tens)."""
    with _SETTLER_LOCK:
        settler = _settler()
        if settler is None:
            return
        time.sleep(settler.wait)
        for _ in range(2):  # twice: a notice queued behind the first request is answered before the second
            if _libjack().jack_recompute_total_latencies(settler.client) != 0:
                break


@dataclass
class _Settler:
    server: str
    client: int
    gone: Any  # a sem_t that libjack posts when the server shuts this client down
    wait: float  # a few of the server's cycles


_SETTLER: _Settler | None = None
_SETTLER_LOCK = threading.Lock()
_ABANDONED: list[_Settler] = []  # clients of a server that went away: never closed (that can crash libjack)


def _settler() -> _Settler | None:
    global _SETTLER
    lib, libc = _libjack(), c_library()
    if lib is None or libc is None:
        return None
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    old = _SETTLER
    if old is not None:
        dead = libc.sem_trywait(old.gone) == 0
        if dead:
            _ABANDONED.append(old)
        elif old.server != server:  # another server now (tests start their own): this one is still up
            lib.jack_client_close(old.client)
        if dead or old.server != server:
            _SETTLER = None
    if _SETTLER is None:
        client = _open_client(b"settle")
        if client is None:
            return None
        gone = ctypes.create_string_buffer(64)  # sem_t: 32 bytes on 64-bit glibc
        libc.sem_init(gone, 0, 0)
        lib.jack_on_shutdown(client, ctypes.cast(libc.sem_post, ctypes.c_void_p), gone)
        period = lib.jack_get_buffer_size(client) / max(1, lib.jack_get_sample_rate(client))
        _SETTLER = _Settler(server, client, gone, wait=max(0.003, 3 * period))
    return _SETTLER


@functools.cache
def c_library() -> Any:
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None)
    except OSError:
        return None
