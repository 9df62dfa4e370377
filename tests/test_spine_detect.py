"""`--target auto` by handshake: a host is chosen only on something only it does (the output blocks of
our own mapping arriving on its feedback port, over real JACK MIDI; a running program is a hint, not
proof). The AbletonOSC and Link halves run in a private network namespace (test_spine_link)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.ports import close_client
from copilot.bridge.session import Session, SessionOptions
from copilot.mappings import mixxx as mixxx_files
from copilot.mappings import serato as serato_xml
from copilot.plugins import ableton, midi_monitor, mixxx, serato
from copilot.plugins.host_evidence import session_evidence
from copilot.tests.fixtures import free_udp_port


def make_session(tmp_path, said: list[str], auto_wait: float = 2.0, midi_api: str = "jack",
                 target: str = "auto") -> Session:
    path = tmp_path / "set.txt"
    path.write_text("")
    (tmp_path / "logs").mkdir(exist_ok=True)
    options = SessionOptions(target=target, script=path, link=False, osc=None, auto_wait=auto_wait,
                             midi_api=midi_api, log=tmp_path / "logs" / f"session-{target}.jsonl")
    # Live's AbletonOSC is asked on a port nobody listens on: it never answers here.
    config = {"ableton-live": {"osc_port": free_udp_port(), "reply_port": free_udp_port(), "timeout": 0.1}}
    host = TargetHost(config, plugins=[midi_monitor, ableton, serato, mixxx], entry_points=False)
    return Session(options, Config(), host=host, report=said.append)


def mixxx_outputs() -> list[bytes]:
    """The <output> blocks of the Mixxx mapping we generate: what Mixxx sends once it loaded it."""
    target = mixxx.MixxxTarget()
    root = ET.fromstring(mixxx_files.generate_xml(target.table))
    return [bytes([int(o.findtext("status"), 0), int(o.findtext("midino"), 0), int(o.findtext("on") or "0x7f", 0)])
            for o in root.iter("output")]


def serato_outputs() -> list[bytes]:
    """The `userio event="output"` blocks of the Serato preset we generate."""
    root = ET.fromstring(serato_xml.generate(serato.SeratoTarget().table))
    out = []
    for control in root.iter("control"):
        if any(u.get("event") == "output" for u in control.iter("userio")):
            kind = 0x90 if control.get("event_type") == "Note On" else 0xB0
            out.append(bytes([kind | (int(control.get("channel")) - 1), int(control.get("control")), 127]))
    return out


class FakeHost:
    """A JACK MIDI peer that connects to one of copilot's input ports as soon as it appears and sends."""

    def __init__(self, port: str, messages: list[bytes], every: float = 0.05) -> None:
        import rtmidi

        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fake-dj-host")
        self.port, self.messages, self.every = port, messages, every
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ports = self.out.get_ports()
            index = next((i for i, p in enumerate(ports) if p.endswith(f":{self.port}")), None)
            if index is not None:
                self.out.open_port(index)
                break
            time.sleep(0.02)
        while not self._stop.wait(self.every):
            self.out.send_message(list(self.messages[self.sent % len(self.messages)]))
            self.sent += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        close_client(self.out)


def choose(tmp_path, port: str, messages: list[bytes]) -> tuple[list[str], str, int]:
    said: list[str] = []
    session = make_session(tmp_path, said)
    peer = FakeHost(port, messages)
    try:
        session._open_ports()
        names = session.choose_targets()
        return names, session.target_reason, peer.sent
    finally:
        peer.close()
        session.stop()


@pytest.mark.jack
def test_mixxx_output_blocks_on_its_port_make_the_target_mixxx(tmp_path, jack_server):
    outputs = mixxx_outputs()
    assert outputs
    names, reason, sent = choose(tmp_path, "Copilot MIDI 1 In", outputs[:1])
    assert sent >= 1
    assert names == ["mixxx"], reason
    assert "output arrived on 'Copilot MIDI 1 In'" in reason


@pytest.mark.jack
def test_doctor_says_per_host_what_the_last_session_proved(tmp_path, jack_server):
    names, _, _ = choose(tmp_path, "Copilot MIDI 1 In", mixxx_outputs()[:1])
    assert names == ["mixxx"]
    fix = "load the mapping"
    line = session_evidence("mixxx", "Mixxx", fix, logs=tmp_path / "logs")
    assert line.ok and "Mixxx proved itself — our mapping's" in line.detail, line
    line = session_evidence("serato-dj-pro", "Serato", fix, logs=tmp_path / "logs")
    assert line.ok and "was looked for and did not answer" in line.detail and line.fix == fix, line
    assert "no recent session" in session_evidence("mixxx", "Mixxx", fix, logs=tmp_path / "none").detail

    # chosen by hand, started, and Mixxx never said a word: that is the line to fix
    later = tmp_path / "later"
    later.mkdir()
    session = make_session(later, [], target="mixxx")
    session.start()
    session.stop()
    line = session_evidence("mixxx", "Mixxx", fix, logs=later / "logs")
    assert not line.ok and "never answered" in line.detail and line.fix == fix, line


@pytest.mark.jack
def test_serato_output_blocks_on_copilot_in_make_the_target_serato(tmp_path, jack_server):
    outputs = serato_outputs()
    assert outputs
    names, reason, _ = choose(tmp_path, "Copilot In", outputs[:1])
    assert names == ["serato-dj-pro"], reason
    assert "output arrived on 'Copilot In'" in reason


@pytest.mark.jack
def test_midi_that_is_not_our_mapping_proves_nothing(tmp_path, jack_server):
    # A keyboard (or another program) on the port: something arrived, but none of our output blocks.
    mapped = {m[:2] for m in serato_outputs()}
    stray = next(bytes([0x9F, n, 100]) for n in range(128) if bytes([0x9F, n]) not in mapped)
    names, reason, sent = choose(tmp_path, "Copilot In", [stray])
    assert sent >= 1
    assert names == ["midi-monitor"], reason
    assert "--target" in reason


@pytest.fixture
def programs(tmp_path):
    """Real processes with a host's program name (a copy of `sleep`), as the OS lists them."""
    started: list[subprocess.Popen] = []

    def start(name: str) -> None:
        exe = tmp_path / name
        shutil.copy(shutil.which("sleep"), exe)
        started.append(subprocess.Popen([str(exe), "30"]))

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_one_running_host_program_is_chosen_and_said_to_be_unproven(tmp_path, programs):
    programs("mixxx")
    said: list[str] = []
    session = make_session(tmp_path, said, auto_wait=0.3)  # no MIDI ports opened
    try:
        assert session.choose_targets() == ["mixxx"]
        assert "mixxx is running" in session.target_reason and "no handshake" in session.target_reason
    finally:
        session.stop()


def test_several_running_host_programs_and_no_proof_say_how_to_choose(tmp_path, programs):
    programs("mixxx")
    programs("serato dj pro")
    said: list[str] = []
    session = make_session(tmp_path, said, auto_wait=0.3)  # no MIDI ports opened
    try:
        assert session.choose_targets() == ["midi-monitor"]  # the fallback: there is sound
        assert "no host proved itself" in session.target_reason
        assert "--target serato-dj-pro|mixxx" in session.target_reason
    finally:
        session.stop()
