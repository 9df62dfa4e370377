"""Fuzz: AbletonOSC's reply port. Ten thousand hostile datagrams through the reply decoder (with a query
waiting and the beat listener on), then a share over real UDP: nothing escapes, the listener lives, and
Live's real beats and answers between the garbage still arrive."""

from __future__ import annotations

import logging
import socket
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.bridge.clock import host_time
from copilot.plugins.ableton_osc import AbletonOSC
from copilot.tests.fixtures import free_udp_port
from copilot.tests.fuzz_corpus import ABLETON_ADDRESSES, VALID_BEAT, corpus, osc, valid
from copilot.tests.fuzz_harness import FUZZ_INPUTS, VALID_EVERY, blast, errors_logged
from copilot.tests.fuzz_harness import share as fuzz_share

LIVE = ("127.0.0.1", 11000)


def in_order(wanted: list[int], heard: list[int]) -> bool:
    """Every wanted beat was heard, in order (garbage may have added beats of its own between them)."""
    rest = iter(heard)
    return all(w in rest for w in wanted)


def client() -> tuple[AbletonOSC, list[int]]:
    live = AbletonOSC("127.0.0.1", free_udp_port(), free_udp_port(), timeout=0.05)
    beats: list[int] = []
    live.start_beat_listener(lambda n, t: beats.append(n))
    return live, beats


def test_ten_thousand_hostile_replies_never_answer_a_question_or_move_the_beat(caplog):
    caplog.set_level(logging.WARNING)
    live, beats = client()
    answers: list[object] = []
    asking = threading.Thread(target=lambda: answers.append(live.tempo()))  # a question waits meanwhile
    live.timeout = 30.0
    live.listening = True  # queries need a listener; the datagrams below come straight in
    asking.start()
    for i, data in enumerate(corpus("ableton", FUZZ_INPUTS, seed=1)):
        if i % VALID_EVERY == 0:
            live._on_datagram(valid("ableton", i), host_time(), LIVE)
        live._on_datagram(data, host_time(), LIVE)
    live._on_datagram(osc("/live/song/get/tempo", 123.5), host_time(), LIVE)  # the real answer, at last
    asking.join(5.0)
    assert not errors_logged(caplog.records), errors_logged(caplog.records)[:5]
    assert in_order([VALID_BEAT + i for i in range(0, FUZZ_INPUTS, VALID_EVERY)], beats)  # every real beat
    assert all(0 <= b < 2**31 for b in beats)  # garbage never passes for an absurd beat
    assert answers and answers[0] is not None  # a number answered the question, never garbage
    assert live.stats.garbage > FUZZ_INPUTS // 4
    live.close()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.binary(max_size=1500))
def test_any_bytes_as_a_reply(data):
    live = CLIENT
    live._on_datagram(data, host_time(), LIVE)


CLIENT = AbletonOSC("127.0.0.1", 9, 9)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(address=st.sampled_from(ABLETON_ADDRESSES),
       args=st.lists(st.one_of(st.integers(-(2**31), 2**31 - 1), st.floats(width=32), st.text(max_size=20),
                               st.none(), st.booleans()), max_size=6))
def test_any_arguments_on_lives_addresses(address, args):
    beats: list[int] = []
    CLIENT.start_beat_listener(lambda n, t: beats.append(n))
    try:
        data = osc(address, *args)
    except Exception:  # noqa: BLE001 - python-osc cannot build it: nobody sends it
        return
    CLIENT._on_datagram(data, host_time(), LIVE)
    assert all(isinstance(b, int) for b in beats)
    CLIENT.stop_beat_listener()


def test_a_real_udp_share_leaves_the_reply_listener_alive(caplog):
    caplog.set_level(logging.WARNING)
    live, beats = client()
    assert live.open()
    try:
        share = fuzz_share("ableton")
        blast(live.reply_port, share, lambda: live._receiver.datagrams)
        assert live.alive and live._receiver.errors == 0 and not errors_logged(caplog.records)
        assert in_order([VALID_BEAT + i for i in range(0, 1500, 50)], beats)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(osc("/live/song/get/beat", 7), ("127.0.0.1", live.reply_port))
        deadline = host_time() + 2.0
        while beats[-1] != 7 and host_time() < deadline:
            pass
        assert beats[-1] == 7
    finally:
        live.close()
