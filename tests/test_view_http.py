"""The stage view's HTTP + SSE contract on loopback, against a live session and the view's real process."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from copilot.intents.schema import Deck, Intent, IntentKind
from copilot.tests.fixtures_view import stage_session


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[Any, Any, list[str]]]:
    said: list[str] = []
    session, view = stage_session(tempo=150.0, midi_api="alsa", report=said.append)
    try:
        yield session, view, said
    finally:
        session.stop()


def ask(view: Any, method: str, path: str, body: bytes | str | None = None, token: bool = True,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", view.port, timeout=10)
    sent = dict(headers or {})
    if token:
        sent["X-Copilot-Token"] = view.token
    conn.request(method, path, body=body, headers=sent)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw.decode()


def read_events(view: Any, seconds: float) -> list[tuple[str, dict[str, Any]]]:
    """Every event the stream sends in `seconds` (raw HTTP, as a browser's EventSource reads it)."""
    sock = socket.create_connection(("127.0.0.1", view.port), timeout=5)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    data = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    events = []
    for block in data.split(b"\r\n\r\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\r\n") if line.startswith((b"event: ", b"data: ")))
        if b"event" in lines:
            events.append((lines[b"event"].decode(), json.loads(lines[b"data"])))
    return events


def test_state_and_its_stream_at_ten_or_more_a_second(stage):
    _, view, _ = stage
    status, state = ask(view, "GET", "/state", token=False)  # loopback: reading needs no token
    assert status == 200
    assert {"tempo", "beat", "phase", "quantum", "playing", "link_peers", "decks", "queue", "pending",
            "lateness", "decisions"} <= set(state)
    assert set(state["decks"]["A"]) >= {"track", "playing", "loop", "bpm", "key", "position", "time_left",
                                        "next_phrase"}
    assert state["tempo"] == 150.0
    events = read_events(view, 2.0)
    states = [e for name, e in events if name == "state"]
    # the rate the session sent them at, by its own clock (a busy machine may hold a few back on the way)
    assert len(states) >= 8, len(states)
    assert (len(states) - 1) / (states[-1]["t"] - states[0]["t"]) >= 10.0, [s["t"] for s in states]
    beats = [s["beat"] for s in states]
    assert beats == sorted(beats) and beats[-1] - beats[0] > 1.0  # 150 BPM: 2.5 beats a second
    assert any(name == "lateness" for name, _ in events)


def test_a_decision_is_an_event_as_it_happens(stage):
    session, view, _ = stage
    got: list[tuple[str, dict[str, Any]]] = []
    reader = threading.Thread(target=lambda: got.extend(read_events(view, 1.0)))
    reader.start()
    time.sleep(0.3)
    decision = session.submit(Intent(IntentKind.HOTCUE, Deck.B, {"n": 5}))
    reader.join()
    shown = [e for name, e in got if name == "decision" and e["id"] == decision.intent.id]
    assert shown and shown[0]["verdict"] == "scheduled" and shown[0]["what"] == "hot cue 5 on deck B"
    assert shown[0]["actions"] == [a.id for a in decision.actions]


def test_writes_need_the_token_even_on_loopback(stage):
    session, view, _ = stage
    before = len(session.decisions)
    for path in ("/panic", "/confirm", "/cancel/a1", "/intent"):
        status, body = ask(view, "POST", path, b"play A", token=False)
        assert status == 403 and "token" in body, (path, body)
    wrong = view.token[:-1] + ("y" if view.token.endswith("x") else "x")  # one character off, never the same
    status, _ = ask(view, "POST", "/panic", token=False, headers={"X-Copilot-Token": wrong})
    assert status == 403
    assert len(session.decisions) == before, "a refused request reached the scheduler"


def test_a_page_that_names_another_host_is_refused(stage):
    _, view, _ = stage
    status, body = ask(view, "GET", "/state", token=True, headers={"Host": "rebound.example:8765"})
    assert status == 403 and "127.0.0.1 or localhost" in body
    assert ask(view, "GET", "/state", token=False, headers={"Host": "localhost:1"})[0] == 200


def test_intents_arrive_with_source_remote_as_words_or_json(stage):
    session, view, _ = stage
    status, words = ask(view, "POST", "/intent", "loop 2 on deck B", headers={"Content-Type": "text/plain"})
    assert status == 200 and words["verdict"] == "scheduled" and words["source"] == "remote"
    status, text = ask(view, "POST", "/intent", json.dumps({"text": "hot cue 4 on deck A"}),
                       headers={"Content-Type": "application/json"})
    assert status == 200 and text["what"] == "hot cue 4 on deck A"
    status, given = ask(view, "POST", "/intent", json.dumps({"kind": "LOOP", "deck": "C", "args": {"beats": 8},
                                                             "source": "voice"}),
                        headers={"Content-Type": "application/json"})
    assert status == 200 and given["source"] == "remote" and given["verdict"] == "scheduled"
    assert session.decisions[-1].intent.source.value == "remote"
    status, odd = ask(view, "POST", "/intent", "make it sparkle", headers={"Content-Type": "text/plain"})
    assert status == 200 and odd["verdict"] == "refused" and odd["reason"]
    assert ask(view, "POST", "/intent", "{nope", headers={"Content-Type": "application/json"})[0] == 400
    status, wrong = ask(view, "POST", "/intent", json.dumps({"kind": "LOOP", "args": {"beats": 3}}),
                        headers={"Content-Type": "application/json"})
    assert status == 200 and wrong["verdict"] == "refused" and "power of two" in wrong["reason"]
    assert ask(view, "POST", "/intent", "x" * 9000, headers={"Content-Type": "text/plain"})[0] == 413


def test_cancel_by_id_and_confirm_with_nothing_waiting(stage):
    session, view, _ = stage
    beat = float(int(session.clock.beat) + 20)
    decision = session.submit(Intent(IntentKind.LOOP, Deck.D, {"beats": 1}, at_beat=beat))
    action = decision.actions[0].id
    status, gone = ask(view, "POST", f"/cancel/{action}")
    assert status == 200 and gone["verdict"] == "done" and gone["reason"] == "withdrew 1-beat loop on deck D"
    assert action not in [a["id"] for a in session.telemetry.snapshot()["queue"]]
    status, again = ask(view, "POST", f"/cancel/{action}")
    assert again["verdict"] == "refused"
    status, nothing = ask(view, "POST", "/confirm")
    assert status == 200 and nothing["reason"] == "nothing is waiting for a yes"


def test_a_taken_port_or_a_lan_bind_without_allow_list_is_one_clear_line(stage):
    _, view, _ = stage
    said: list[str] = []
    with pytest.raises(RuntimeError):
        stage_session(view=f"127.0.0.1:{view.port}", midi_api="alsa", report=said.append)
    assert any("input view did not start" in m and "cannot listen" in m for m in said), said
    said.clear()
    with pytest.raises(RuntimeError):
        stage_session(view="0.0.0.0:0", midi_api="alsa", report=said.append)
    assert any("allow-list" in m for m in said), said


def test_the_views_process_ends_with_the_session():
    session, view = stage_session(midi_api="alsa")
    process, port = view.process, view.port
    session.stop()
    assert process.poll() is not None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_what_voice_heard_and_how_the_body_moves_reach_the_stream(tmp_path):
    """Voice (a spoken file through Whisper) and motion (a synthetic phone over real UDP) in a live session:
    the view's stream carries what was heard with its confidence, and each performer's energy, ψ, tension."""
    import soundfile as sf

    from copilot.motion import record, synth
    from copilot.plugins import motion_input, voice_input
    from copilot.tests import voice_corpus
    from copilot.tests.fixtures import free_udp_port
    from copilot.tests.fixtures_voice import say, silence

    wav = tmp_path / "said.wav"
    sf.write(wav, np.concatenate([silence(0.3), say("hot cue three on deck B"), silence(1.2)]), voice_corpus.RATE)
    motion_port = free_udp_port()
    session, view = stage_session(midi_api="alsa", voice=True, motion_osc=f"127.0.0.1:{motion_port}",
                                  extra={"voice": {"file": str(wav)}}, plugins=[voice_input, motion_input])
    assert {i.name for i in session.inputs} == {"view", "voice", "motion"}
    try:
        got: list[tuple[str, dict[str, Any]]] = []
        reader = threading.Thread(target=lambda: got.extend(read_events(view, 8.0)))
        reader.start()
        take = synth.wave_take(tempo=120.0, seconds=4.0, fmt="copilot")
        record.play(take.datagrams, {"osc": ("127.0.0.1", motion_port)})
        reader.join()
    finally:
        session.stop()
    heard = [e for name, e in got if name == "heard"]
    assert heard and "hot cue" in heard[0]["text"].lower() and 0.0 < heard[0]["confidence"] <= 1.0, heard
    assert heard[0]["intent"]["kind"] == "HOTCUE"
    motion = [e for name, e in got if name == "motion"]
    assert motion, "no motion on the stream"
    readings = [r for m in motion for r in m.values()]
    assert all(0.0 <= r["psi"] < 1.0 and 0.0 <= r["tension"] <= 1.0 for r in readings)
    assert max(r["energy"] for r in readings) > 0.05  # it moved while the phone waved, …
    assert readings[-1]["energy"] < max(r["energy"] for r in readings)  # … and settled after


def test_a_reading_that_fails_is_said_once_and_the_view_goes_on(stage):
    _, view, said = stage
    view.publisher.telemetry.publish("heard", object())  # not a Heard: turning it into JSON raises
    view.publisher.telemetry.publish("heard", object())
    states = [e for name, e in read_events(view, 0.8) if name == "state"]
    assert len(states) >= 8, "the stream stopped after a bad reading"
    assert sum("a reading failed" in m for m in said) == 1, said
