"""Fuzz: motion OSC and mocopi datagrams. Ten thousand hostile datagrams per surface through the decoder and
the registry (a seeded corpus, plus hypothesis), then a share over real UDP through a live listener:
nothing escapes, the thread lives, and a real phone's readings between the garbage are still taken."""

from __future__ import annotations

import logging
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot.motion.registry import Registry
from copilot.motion.sources import Bind, Listener, MocopiSource, OscSource
from copilot.tests.fixtures import free_udp_port
from copilot.tests.fuzz_corpus import MOTION_ADDRESSES, corpus, osc, valid
from copilot.tests.fuzz_harness import FUZZ_INPUTS, VALID_EVERY, blast, errors_logged
from copilot.tests.fuzz_harness import share as fuzz_share

SENDER = ("127.0.0.1", 50000)
HYPOTHESIS = settings(max_examples=300, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow])


def source_for(surface: str, registry: Registry) -> OscSource | MocopiSource:
    return OscSource(registry) if surface == "motion" else MocopiSource(registry)


def good_device(surface: str) -> str:
    return "zigsim:GOOD" if surface == "motion" else "mocopi@127.0.0.1"


@pytest.mark.parametrize("surface", ["motion", "mocopi"])
def test_ten_thousand_hostile_datagrams_never_reach_the_solver_and_a_real_sender_still_does(surface, caplog):
    caplog.set_level(logging.WARNING)
    registry = Registry()
    source = source_for(surface, registry)
    t = 1000.0
    missed = []
    for i, data in enumerate(corpus(surface, FUZZ_INPUTS, seed=1)):
        t += 0.01
        if i % VALID_EVERY == 0:  # three ticks of a real sender (a mocopi body needs two to move)
            for k in range(3):
                t += 0.02
                source.datagram(valid(surface, i + k), t, SENDER)
            dev = registry.devices.get(good_device(surface))
            if dev is None or dev.last_seen != t:
                missed.append(i)
            t += 0.01
        source.datagram(data, t, SENDER)
    assert not missed, f"real readings not taken at inputs {missed[:10]}"
    assert not errors_logged(caplog.records), errors_logged(caplog.records)[:5]
    counts = registry.counts()
    assert sum(v for k, v in counts.items() if k != "accepted") > FUZZ_INPUTS // 3  # refused, by reason
    for frame in registry.performers.values():  # nothing non-finite or beyond a body's reach was stored
        assert all(math.isfinite(v) for v in frame.buffer if v != -math.inf)
        assert abs(frame.accel).max() <= 32.0 and abs(frame.gyro).max() <= 3000 * math.pi / 180 + 1e-6
    assert len(registry.devices) <= 64


@HYPOTHESIS
@given(data=st.binary(max_size=1500))
def test_any_bytes_as_motion_or_mocopi(data):
    registry = Registry()
    for source in (OscSource(registry), MocopiSource(registry)):
        source.datagram(data, 1.0, SENDER)


ARG = st.one_of(st.integers(-(2**31), 2**31 - 1), st.floats(width=32), st.text(max_size=30),
                st.binary(max_size=16), st.booleans(), st.none())


@HYPOTHESIS
@given(address=st.one_of(st.sampled_from(MOTION_ADDRESSES),
                         st.from_regex(r"/(ZIGSIM/)?[A-Za-z0-9:_-]{1,70}/(accel|gyro|gravity|quaternion|compass)",
                                       fullmatch=True),
                         st.from_regex(r"/copilot/motion(/[a-z_]{1,12}){1,4}", fullmatch=True)),
       args=st.lists(ARG, max_size=8))
def test_any_message_on_a_motion_address(address, args):
    registry = Registry()
    try:
        data = osc(address, *args)
    except Exception:  # noqa: BLE001 - python-osc cannot build it: nobody can send it
        return
    OscSource(registry).datagram(data, 1.0, SENDER)
    for frame in registry.performers.values():
        assert all(math.isfinite(v) for v in frame.buffer if v != -math.inf)


@pytest.mark.parametrize("surface", ["motion", "mocopi"])
def test_a_real_udp_share_leaves_the_listener_alive_and_taking_readings(surface, caplog):
    caplog.set_level(logging.WARNING)
    registry = Registry()
    listener = Listener(Bind("127.0.0.1", free_udp_port()), source_for(surface, registry))
    listener.start()
    try:
        share = fuzz_share(surface)
        blast(listener.port, share, lambda: listener.datagrams)
        assert listener._receiver.alive and listener._receiver.errors == 0
        assert not errors_logged(caplog.records)
        before = registry.counts()["accepted"]
        blast(listener.port, [valid(surface, i) for i in range(3)], lambda: listener.datagrams)
        assert registry.counts()["accepted"] > before  # still listening, still taking a real sender
        assert good_device(surface) in registry.devices
    finally:
        listener.stop()
