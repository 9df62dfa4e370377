"""Copilot on a real Link session with an independent peer: Debian's LinkHut (Link 3, C++), driven
through its stdin, inside a private network namespace, its metronome on the JACK dummy server.
Copilot runs as its own process in the same namespace (copilot.tests.link_live_peer)."""

from __future__ import annotations

import itertools
import os
import statistics
import time

import pytest

from copilot.tests.fixtures import serving_jack
from copilot.tests.fixtures_live import CopilotPeer, LinkHut

pytestmark = [pytest.mark.netns, pytest.mark.jack]


@pytest.fixture(scope="module")
def jack_server():  # type: ignore[no-untyped-def]
    """This module's own JACK server. LinkHut and the peers' click listeners join it from a network
    namespace; in full-suite runs the shared session server, after hundreds of other tests' clients,
    hung on their teardown (jack_lsp blocked for 30 s) where a fresh server never did."""
    with serving_jack(f"copilot-link-{os.getpid()}") as server:
        yield server


@pytest.fixture
def hut(link_netns, jack_server):  # type: ignore[no-untyped-def]
    h = LinkHut(link_netns, jack_server)
    try:
        yield h
    finally:
        h.close()


def _peer(link_netns, *args: str) -> CopilotPeer:  # type: ignore[no-untyped-def]
    return CopilotPeer(link_netns, *args)


def test_copilot_joins_adopts_follows_and_never_resets_the_tempo(hut: LinkHut, link_netns) -> None:  # type: ignore[no-untyped-def]
    hut.keys("a")
    hut.wait(lambda r: r.enabled)
    hut.keys("eee")  # the set runs at 123 BPM before copilot arrives
    hut.wait(lambda r: r.tempo == pytest.approx(123.0))
    time.sleep(1.0)

    peer = _peer(link_netns, "--tempo", "90", "--every", "0.02")
    try:
        ready = peer.wait(lambda d: d.get("ready"), 10)
        joined = peer.wait(lambda d: d.get("peers") == 1 and abs(d.get("tempo", 0) - 123.0) < 0.01, 3)
        assert joined["t"] - ready["t"] < 1.0, "tempo not adopted within 1 s of enabling Link"
        hut.wait(lambda r: r.peers == 1)
        # copilot asked for 90 BPM at start-up: the running set never heard of it
        assert {r.tempo for r in hut.since(peer.started)} == {123.0}

        hut.keys("ww")  # the performer slows down on LinkHut
        changed = hut.wait(lambda r: r.tempo == pytest.approx(121.0))
        followed = peer.wait(lambda d: "tempo" in d and "t" in d and abs(d["tempo"] - 121.0) < 0.01, 2)
        assert followed["_read"] - changed.t < 1.0

        peer.send("tempo 126")  # and copilot's tempo change reaches LinkHut
        hut.wait(lambda r: r.tempo == pytest.approx(126.0), 2)
        # beats advance at the shared tempo on copilot's side (no jumps: anchors lie on one line)
        lines = [d for d in peer.of("beat") if "t" in d and d.get("peers") == 1][-20:]
        for a, b in itertools.pairwise(lines):
            assert b["beat"] - a["beat"] == pytest.approx((b["t"] - a["t"]) * b["tempo"] / 60, abs=0.02)
    finally:
        peer.close()


def _errors_ms(clicks: list[dict]) -> list[float]:
    return [(c["beat"] - round(c["beat"])) * 60000.0 / c["tempo"] for c in clicks]


def test_quantized_starts_land_on_the_bar(hut: LinkHut, link_netns) -> None:  # type: ignore[no-untyped-def]
    hut.keys("as")  # Link on, start/stop sync on
    hut.wait(lambda r: r.enabled and r.sync)
    time.sleep(0.6)
    peer = _peer(link_netns, "--sync", "--every", "0.1", "--clicks", f"{hut.client}:out_1")
    try:
        peer.wait(lambda d: d.get("peers") == 1, 20)  # discovery, not what is judged here
        peer.wait(lambda d: "listening" in d, 5)
        time.sleep(0.8)  # the click listener's time filter fills (512 JACK cycles)

        # 1. copilot starts: on the next bar of the session, and LinkHut's first click is right there
        peer.send("start")
        started = peer.wait(lambda d: "started" in d)
        bar = started["started"]
        assert bar % 4 == 0
        hut.wait(lambda r: r.playing, 3)
        time.sleep(max(0.0, started["at"] - time.clock_gettime(time.CLOCK_MONOTONIC_RAW)) + 3.0)
        clicks = peer.of("click")
        assert clicks, "LinkHut never clicked"
        assert min(c["beat"] for c in clicks) > bar - 0.02, "LinkHut played before the bar copilot started on"
        first = min(clicks, key=lambda c: c["beat"])
        assert abs(first["beat"] - bar) * 60000.0 / first["tempo"] < 5.0
        errors = _errors_ms(clicks)
        assert statistics.median(abs(e) for e in errors) < 1.0, errors

        # 2. LinkHut stops and starts again: its first click lands on a bar line of copilot's grid
        hut.keys(" ")
        hut.wait(lambda r: not r.playing, 3)
        peer.wait(lambda d: d.get("playing") is False, 3)
        time.sleep(0.5)
        seen = len(peer.of("click"))
        hut.keys(" ")
        hut.wait(lambda r: r.playing, 3)
        peer.wait(lambda d: d.get("playing") is True, 3)
        time.sleep(3.0)
        again = peer.of("click")[seen:]
        assert again, "LinkHut's restart produced no clicks"
        first = min(again, key=lambda c: c["beat"])
        nearest_bar = round(first["beat"] / 4) * 4
        assert abs(first["beat"] - nearest_bar) * 60000.0 / first["tempo"] < 5.0, first
        assert statistics.median(abs(e) for e in _errors_ms(again)) < 1.0
    finally:
        peer.close()
