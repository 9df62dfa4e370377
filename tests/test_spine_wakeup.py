"""Cores kept awake while a set plays: the kernel's PM QoS request is held for the set and let go after,
and a machine that will not allow it says why in one line while the set plays on."""

from __future__ import annotations

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.bridge.wakeup import PATH, current, hold
from copilot.plugins import midi_monitor


def a_value_the_kernel_will_show() -> int:
    """The kernel keeps the lowest request of all: a value under the one in force now shows."""
    now = current()
    if now is None:
        pytest.skip(f"{PATH} cannot be read here")
    if now < 2:
        pytest.skip(f"another process holds {PATH} at {now} µs: a lower request cannot show")
    return min(now - 1, 777)


def test_a_request_is_in_force_while_held_and_gone_when_let_go() -> None:
    before = current()
    us = a_value_the_kernel_will_show()
    wake = hold(us)
    try:
        assert wake.held, wake.why
        assert current() == us
        assert f"{us} µs" in wake.line()
    finally:
        wake.release()
    assert current() == before and "let its request go" in wake.line()
    wake.release()  # twice is harmless


def test_off_asks_nothing_and_a_machine_without_the_file_says_why(tmp_path) -> None:
    before = current()
    off = hold(None)
    assert not off.held and "off" in off.line() and current() == before
    missing = hold(0, str(tmp_path / "no-such-file"))
    assert not missing.held and "has no" in missing.line()
    folder = hold(0, str(tmp_path))
    assert not folder.held and str(tmp_path) in folder.line()
    assert current() == before


@pytest.mark.jack
def test_a_set_holds_its_request_while_it_plays_and_lets_go_when_it_stops(tmp_path, jack_server) -> None:
    before = current()
    us = a_value_the_kernel_will_show()
    said: list[str] = []
    options = SessionOptions(target="midi-monitor", link=False, tempo=120.0, osc=None, log=tmp_path / "log.jsonl")
    session = Session(options, Config({"run": {"wake_latency_us": us}}),
                      host=TargetHost(plugins=[midi_monitor], entry_points=False), report=said.append)
    session.start()
    try:
        assert session.wake.held and current() == us
        assert any(f"cores kept awake: wake-up latency held at {us} µs" in line for line in said), said
    finally:
        session.stop()
    assert not session.wake.held and current() == before


def test_an_offline_render_leaves_the_cores_alone(tmp_path) -> None:
    before = current()
    options = SessionOptions(target="standalone", link=False, tempo=120.0, osc=None, out=tmp_path / "mix.wav",
                             duration=0.5, log=tmp_path / "log.jsonl")
    session = Session(options, Config({"run": {"wake_latency_us": 0}}), report=lambda _: None)
    session.start()
    try:
        assert not session.wake.held and current() == before
    finally:
        session.stop()
