"""Memory a hostile sender can make the session keep: thousands of distinct garbage words and texts through
the real intent listener on a real UDP socket, and what the parser remembers of them stays small; actions
no target can take are refused and said, and not listed for ever.

The parser's near-miss cache (`fuzzy.word_distance`) used to keep every (heard, expected) pair it was asked
about — every garbage word against every anchor word, the garbage word itself as the key, however long —
so a fuzz run or a soak filled it to 65,536 entries (~20 MB) and a sender with long words could make it
hold tens of MB. Only pairs that could be near-misses (short words of about the expected length) are worth
remembering; the rest are refused by a length check cheaper than the cache lookup.
"""

from __future__ import annotations

import random
import socket
import string
import time
import tracemalloc

from copilot.bridge.osc import IntentServer
from copilot.intents import fuzzy
from copilot.tests.fuzz_corpus import osc

GARBAGE = 700  # distinct garbage words, one datagram each: ~80,000 (garbage, anchor word) pairs
LONG = 2000  # characters in a long garbage word


def _through_udp(texts: list[str]) -> IntentServer:
    """Each text as /copilot/intent over UDP to a live server (replies off); returns it once all arrived."""
    server = IntentServer(lambda intent: None, "127.0.0.1:0", reply=False)
    server.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i, text in enumerate(texts):
            sock.sendto(osc("/copilot/intent", text), (server.host, server.port))
            if i % 10 == 9:  # never ahead of the listener by more than the socket's buffer holds (ten 2 kB
                # datagrams: a hundred of them overflowed it once the listener fell behind, and were dropped)
                deadline = time.monotonic() + 30
                while server.receiver.datagrams < i + 1 and time.monotonic() < deadline:
                    time.sleep(0.001)
        deadline = time.monotonic() + 60
        while server.receiver.datagrams < len(texts) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sock.close()
        server.close()
    assert server.receiver.datagrams == len(texts) and server.counters.errors == 0
    return server


def _forget() -> None:
    """Empty every cache of the near-miss module (whatever it caches), so a test measures its own words."""
    for value in vars(fuzzy).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def _kept_after(texts: list[str]) -> int:
    """Bytes Python still holds once the texts went through a live listener (the listener itself closed)."""
    _through_udp(["loop 4 on deck A"])  # what a first listener and parse import and build is not the garbage's
    _forget()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _through_udp(texts)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_garbage_words_over_udp_leave_little_behind():
    rng = random.Random(12)
    words = ["".join(rng.choices(string.ascii_lowercase + "☃é", k=rng.randint(3, 40))) for _ in range(GARBAGE)]
    kept = _kept_after([f"loop {w} on deck {w}" for w in words])
    # the old cache: 65,536 pairs of (garbage, anchor word), ~15 MB
    assert kept < 4_000_000, f"{kept / 1e6:.1f} MB kept after {GARBAGE} garbage words"


def test_long_garbage_words_are_not_remembered():
    rng = random.Random(13)
    kept = _kept_after([f"loop {''.join(rng.choices(string.ascii_lowercase, k=LONG))}" for _ in range(300)])
    # 300 words of 2 kB is 0.6 MB; the old cache kept every one of them, ~100 times over in its pairs: ~6 MB
    assert kept < 300_000, f"{kept / 1e6:.1f} MB kept after 300 long garbage words"


def test_near_misses_still_read():
    _forget()
    assert fuzzy.word_distance("lube", "loop") is not None  # what Whisper writes for "loop"
    assert fuzzy.word_distance("lopp", "loop") is not None  # by spelling and sound
    assert fuzzy.word_distance("dekk", "deck") is not None
    assert fuzzy.word_distance("really", "roll") is None
    assert fuzzy.word_distance("let", "load") is None
    assert fuzzy.word_distance("x" * 5000, "loop") is None
    assert fuzzy.word_distance("loop", "loop") == 0.0
    assert fuzzy.word_distance("lopp", "loop") == fuzzy.word_distance("lopp", "loop")  # the cached answer


def test_actions_no_target_can_take_leave_nothing_behind():
    """A remote sender asking for a crossfade again and again on a host without a crossfader: each is
    refused with a line, and nothing about it is kept (the router used to list every one, read by no one)."""
    from copilot.bridge.actions import Action, ActionKind
    from copilot.bridge.clock import ManualClock
    from copilot.bridge.dispatch import Dispatcher
    from copilot.bridge.host import TargetHost
    from copilot.bridge.router import Router
    from copilot.bridge.state import HostState
    from copilot.plugins import serato

    said = [0]
    clock = ManualClock(120.0)
    dispatcher = Dispatcher(clock)
    host = TargetHost(plugins=[serato], entry_points=False)
    router = Router([host.get("serato-dj-pro")], dispatcher, HostState(), clock,
                    lambda line: said.__setitem__(0, said[0] + 1))
    fade = {"param": "crossfader", "value": 0.2}
    fades = [Action(ActionKind.CONTROL, None, 4.0 + i, params=fade) for i in range(100)]
    router.dispatch(fades)  # the first ones import and build what routing needs once
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            router.dispatch(fades)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert said[0] == 20_100 and dispatcher.pending() == 0  # every one refused, and said
    assert grown < 200_000, f"{grown / 1e6:.1f} MB kept after 20,000 refused crossfades"

