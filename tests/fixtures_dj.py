"""Test hosts for the DJ targets, driven by the *installed* mapping files themselves.

Serato and Mixxx cannot run here, so these read the generated preset files the way the hosts do and
answer "which host function did this MIDI message reach, on which deck, with which value" — and, for
feedback, which bytes the host would send back. They never import the copilot table: what they know
comes from the files alone, so a file that disagrees with what the target sends shows up as a miss.

- SeratoHost: the preset XML (controls, click/output userio blocks, translations, toggles).
- MixxxHost: the .midi.xml plus its script, whose functions run for real in Node with a recording
  `engine` object; Mixxx's MIDI value handling (14-bit pairs, the 0..64..127 potmeter mapping,
  push buttons, selectknob) is reproduced from Mixxx's source, and <output>s are sent back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


# -- Serato ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeratoFunction:
    name: str
    deck_set: str
    deck_id: int
    slot_id: int
    action_on: str
    behaviour: str


@dataclass(frozen=True)
class SeratoEvent:
    """One function Serato triggers: value is 0..127 (what the message carried)."""

    function: SeratoFunction
    value: int
    on: bool | None  # a toggle's new state, None for other behaviours


class SeratoHost:
    def __init__(self, xml: bytes | Path) -> None:
        data = xml.read_bytes() if isinstance(xml, Path) else xml
        self.root = ET.fromstring(data)
        self.clicks: dict[tuple[int, int], list[SeratoFunction]] = {}
        self.outputs: dict[tuple[str, str, int, int], tuple[int, int, int, int]] = {}
        self.toggles: dict[tuple[str, str, int, int], bool] = {}
        for control in self.root.findall("control"):
            kind = {"Note On": 0x90, "Control Change": 0xB0}[control.get("event_type")]
            status = kind | (int(control.get("channel")) - 1)
            number = int(control.get("control"))
            for userio in control.findall("userio"):
                for fn in userio:
                    key = (fn.tag, fn.get("deck_set"), int(fn.get("deck_id")), int(fn.get("slot_id")))
                    tr = fn.find("translation")
                    if userio.get("event") == "click":
                        self.clicks.setdefault((status, number), []).append(
                            SeratoFunction(*key, tr.get("action_on"), tr.get("behaviour")))
                    else:
                        aliases = {a.get("name"): int(a.get("value")) for a in tr.findall("alias")}
                        self.outputs[key] = (status, number, aliases["on"], aliases["off"])

    def handle(self, message: bytes) -> list[SeratoEvent]:
        status, number, value = message
        if status & 0xF0 == 0x80:
            status, value = 0x90 | (status & 0x0F), 0
        events = []
        for fn in self.clicks.get((status, number), []):
            pressed = value > 0
            if fn.action_on == "press" and not pressed:
                continue
            if fn.action_on == "release" and pressed:
                continue
            on = None
            if fn.behaviour == "toggle":
                key = (fn.name, fn.deck_set, fn.deck_id, fn.slot_id)
                on = self.toggles[key] = not self.toggles.get(key, False)
            events.append(SeratoEvent(fn, value, on))
        return events

    def output(self, function: str, deck_set: str, deck_id: int, slot_id: int, on: bool) -> bytes:
        """The bytes Serato sends back for a function's state, per the file's output block."""
        status, number, on_value, off_value = self.outputs[(function, deck_set, deck_id, slot_id)]
        return bytes((status, number, on_value if on else off_value))


# -- Mixxx -------------------------------------------------------------------------------------------------
NODE_HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [path, prefix, names] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
const calls = [];
const engine = {setValue: (g, k, v) => calls.push([g, k, v]), getValue: () => 0};
const ctx = vm.createContext({engine: engine, console: console});
vm.runInContext(fs.readFileSync(path, "utf8"), ctx, {filename: path});
const api = ctx[prefix];
api.init("copilot-test", false);
const out = {};
for (const name of names) {
    for (let channel = 0; channel < 16; channel++) {
        for (const value of [127, 0]) {
            calls.length = 0;
            api[name](channel, 0, value, 0x90 + channel, "");
            out[name + "|" + channel + "|" + value] = calls.slice();
        }
    }
}
api.shutdown();
process.stdout.write(JSON.stringify(out));
"""

PUSH_SUFFIXES = ("_activate", "LoadSelectedTrack", "cue_default")
RELATIVE = {"selectknob"}


def midi_to_parameter(midi: float) -> float:
    """Mixxx's ControlPotmeterBehavior: MIDI 0..64 → 0..0.5, 64..127 → 0.5..1 (64 is exactly the middle)."""
    if midi <= 64.0:
        return midi / 128.0
    return 0.5 + (midi - 64.0) / 126.0


@dataclass
class MixxxBinding:
    group: str
    key: str
    options: tuple[str, ...]


@dataclass
class MixxxOutput:
    group: str
    key: str
    status: int
    midino: int
    on: int
    off: int
    minimum: float
    maximum: float


@dataclass(frozen=True)
class MixxxEvent:
    group: str
    key: str
    value: float


@dataclass
class MixxxHost:
    """Mixxx's controller engine for one mapping: MIDI in → control values; control changes → outputs."""

    xml_path: Path
    send_back: Any = None  # callable(bytes): where <output> messages go (a real MIDI port in tests)
    values: dict[tuple[str, str], float] = field(default_factory=dict)
    events: list[tuple[float, MixxxEvent]] = field(default_factory=list)

    def __post_init__(self) -> None:
        root = ET.fromstring(self.xml_path.read_bytes())
        assert root.tag == "MixxxControllerPreset"
        self.bindings: dict[tuple[int, int], list[MixxxBinding]] = {}
        for c in root.iter("control"):
            key = (int(c.findtext("status"), 0), int(c.findtext("midino"), 0))
            options = tuple(o.tag for o in c.find("options"))
            self.bindings.setdefault(key, []).append(MixxxBinding(c.findtext("group"), c.findtext("key"), options))
        self.outputs = [
            MixxxOutput(o.findtext("group"), o.findtext("key"), int(o.findtext("status"), 0),
                        int(o.findtext("midino"), 0), int(o.findtext("on"), 0), int(o.findtext("off"), 0),
                        float(o.findtext("minimum")), float(o.findtext("maximum")))
            for o in root.iter("output")
        ]
        files = root.find("controller/scriptfiles")
        self.scripts: dict[str, list[list[Any]]] = {}
        if files is not None and len(files):
            entry = files[0]
            self.scripts = run_script(self.xml_path.parent / entry.get("filename"), entry.get("functionprefix"),
                                      {b.key.split(".", 1)[1] for bs in self.bindings.values() for b in bs
                                       if "script-binding" in b.options})
            self.prefix = entry.get("functionprefix")
        self._half: dict[tuple[str, str], tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._sent: dict[int, bool] = {}

    def handle(self, message: bytes, at: float = 0.0) -> list[MixxxEvent]:
        status, number, value = message
        op = status & 0xF0
        if op == 0x80:
            status, value = 0x90 | (status & 0x0F), 0
        out: list[MixxxEvent] = []
        with self._lock:
            for b in self.bindings.get((status, number), []):
                if "script-binding" in b.options:
                    name = b.key.split(".", 1)[1]
                    for group, key, v in self.scripts[f"{name}|{status & 0x0F}|{127 if value else 0}"]:
                        out.append(self._set(group, key, float(v)))
                    continue
                if "fourteen-bit-msb" in b.options or "fourteen-bit-lsb" in b.options:
                    half = "msb" if "fourteen-bit-msb" in b.options else "lsb"
                    other = self._half.pop((b.group, b.key), None)
                    if other is None or other[0] == half:
                        self._half[(b.group, b.key)] = (half, value)
                        continue
                    msb, lsb = (value, other[1]) if half == "msb" else (other[1], value)
                    midi = min(127.0, ((msb << 7) | lsb) / 128.0)
                    out.append(self._set(b.group, b.key, self._scale(b.key, midi_to_parameter(midi))))
                elif set(b.options) & RELATIVE:
                    step = value - 128 if value >= 64 else value
                    out.append(MixxxEvent(b.group, b.key, float(step)))
                elif b.key.endswith(PUSH_SUFFIXES):
                    out.append(self._set(b.group, b.key, 1.0 if value > 0 else 0.0))
                    if value > 0:
                        self._consequences(b.group, b.key)
                else:
                    out.append(self._set(b.group, b.key, self._scale(b.key, midi_to_parameter(float(value)))))
        for event in out:
            self.events.append((at, event))
        self._update_outputs()
        return out

    @staticmethod
    def _scale(key: str, parameter: float) -> float:
        """Parameter 0..1 → the control's value, for the controls whose range we check (−1..1 ones)."""
        if key in ("rate", "crossfader"):
            return parameter * 2.0 - 1.0
        return parameter

    def _set(self, group: str, key: str, value: float) -> MixxxEvent:
        self.values[(group, key)] = value
        if key == "play":  # the deck really plays when asked to and a track is loaded
            self.values[(group, "play_latched")] = value if self.values.get((group, "track_loaded")) else 0.0
        return MixxxEvent(group, key, value)

    def _consequences(self, group: str, key: str) -> None:
        """What Mixxx itself does after a push: a loaded track, an enabled loop, a set hot cue."""
        if key == "LoadSelectedTrack":
            self.values[(group, "track_loaded")] = 1.0
        elif key.startswith("beatloop_"):
            self.values[(group, "loop_enabled")] = 1.0
        elif key.startswith("hotcue_") and key.endswith("_activate"):
            self.values[(group, key.replace("_activate", "_status"))] = 1.0

    def _update_outputs(self) -> None:
        for i, o in enumerate(self.outputs):
            on = o.minimum <= self.values.get((o.group, o.key), 0.0) <= o.maximum
            if self._sent.get(i) == on:
                continue  # Mixxx suppresses repeats
            first = i not in self._sent
            self._sent[i] = on
            if first and not on:
                continue
            if self.send_back is not None:
                self.send_back(bytes((o.status, o.midino, o.on if on else o.off)))

    def set_from_gui(self, group: str, key: str, value: float) -> None:
        """The DJ changes something with the mouse: outputs follow."""
        with self._lock:
            self._set(group, key, value)
        self._update_outputs()


def run_script(path: Path, prefix: str, names: set[str]) -> dict[str, list[list[Any]]]:
    """Run every named script function in Node (channels 0..15, press and release) and record the
    engine.setValue calls each makes."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Debian nodejs); it runs the generated Mixxx script")
    done = subprocess.run([node, "-e", NODE_HARNESS, str(path), prefix, json.dumps(sorted(names))],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- a real JACK MIDI port on the host's side -----------------------------------------------------------------
class HostPorts:
    """The host's end of the wires: reads copilot's output port, writes into copilot's input port.

    Incoming messages are *polled* from a plain thread: python-rtmidi runs a callback inside JACK's
    process cycle, where waiting for the GIL makes the client miss the cycle and JACK drops that
    cycle's MIDI. Arrival times come from rtmidi's frame-accurate deltas, anchored to our clock by
    the earliest poll (`timeline()`); `on_message(data, index)` sees each message live, in order.
    """

    def __init__(self, copilot_out: str, copilot_in: str | None, on_message: Any, client: str) -> None:
        import rtmidi

        self.on_message = on_message
        self.received: list[tuple[float, float, bytes]] = []  # (sum of rtmidi deltas, poll time, bytes)
        self._in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"{client}-in", queue_size_limit=65536)
        self._in.ignore_types(sysex=False, timing=False, active_sense=False)
        self._in.open_port(_find(self._in.get_ports, copilot_out), "from-copilot")
        self._out = None
        if copilot_in is not None:
            self._out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=f"{client}-out")
            self._out.open_port(_find(self._out.get_ports, copilot_in), "to-copilot")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="test-host-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        from copilot.bridge.clock import host_time

        total = 0.0
        while not self._stop.is_set():
            got = self._in.get_message()
            if got is None:
                time.sleep(0.0005)
                continue
            data, delta = got
            total += delta
            self.received.append((total, host_time(), bytes(data)))
            self.on_message(bytes(data), len(self.received) - 1)

    def timeline(self) -> list[float]:
        """Arrival time of every message received so far, on copilot's clock."""
        if not self.received:
            return []
        offset = min(poll - total for total, poll, _ in self.received)
        return [offset + total for total, _, _ in self.received]

    def send(self, data: bytes) -> None:
        self._out.send_message(list(data))

    def close(self) -> None:
        from copilot.bridge.ports import close_client

        self._stop.set()
        self._thread.join(2.0)
        for port in (self._in, self._out):
            if port is not None:
                close_client(port)
        self._in = self._out = None


def _find(get_ports: Any, name: str, timeout: float = 3.0) -> int:
    """A port by its own name (after the client's "Client:" prefix), waiting a moment for it to appear."""
    deadline = time.monotonic() + timeout
    while True:
        ports = get_ports()
        for i, p in enumerate(ports):
            if p.split(":", 1)[-1] == name or p.endswith(":" + name):
                return i
        if time.monotonic() > deadline:
            raise LookupError(f"no MIDI port {name!r} among {ports}")
        time.sleep(0.05)
