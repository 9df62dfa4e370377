"""The generated Mixxx mapping against Mixxx's schema (shared/reference/mixxx.md), and its script."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from copilot.plugins.mixxx import MixxxTarget, mixxx_pairs
from copilot.tests.fixtures_dj import run_script

OPTIONS = {"normal", "invert", "button", "switch", "soft-takeover", "selectknob", "diff", "rot64", "rot64inv",
           "rot64fast", "spread64", "hercjog", "hercjogfast", "script-binding", "fourteen-bit-msb",
           "fourteen-bit-lsb"}
# Mixxx controls the reference names (plus loop/hot cue families); nothing else may appear.
KEY_PATTERNS = [r"play", r"play_latched", r"cue_default", r"sync_enabled", r"beatloop_[0-9.]+_activate",
                r"loop_enabled", r"hotcue_[1-8]_activate", r"hotcue_[1-8]_status", r"rate", r"volume", r"pregain",
                r"LoadSelectedTrack", r"track_loaded", r"crossfader", r"gain", r"MoveVertical", r"parameter[123]",
                r"super1", r"mix", r"enabled", r"group_\[Channel[1-4]\]_enable"]
GROUP_PATTERNS = [r"\[Channel[1-4]\]", r"\[Master\]", r"\[Library\]", r"\[EqualizerRack1_\[Channel[1-4]\]_Effect1\]",
                  r"\[QuickEffectRack1_\[Channel[1-4]\]\]", r"\[EffectRack1_EffectUnit[1-4]\]"]


def matches(patterns: list[str], value: str) -> bool:
    return any(re.fullmatch(p, value) for p in patterns)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ET.Element]:
    folder = tmp_path_factory.mktemp("mixxx")
    files = MixxxTarget({}).mapping_files()
    for f in files:
        (folder / f.relpath).write_bytes(f.content)
    assert [f.relpath for f in files] == ["Copilot.midi.xml", "Copilot-scripts.js"]
    xml = folder / "Copilot.midi.xml"
    return xml, folder / "Copilot-scripts.js", ET.fromstring(xml.read_bytes())


def test_schema(installed: tuple[Path, Path, ET.Element]) -> None:
    _, js, root = installed
    assert root.tag == "MixxxControllerPreset" and root.get("schemaVersion") == "1"
    assert [child.tag for child in root] == ["info", "controller"]
    info = root.find("info")
    assert info.findtext("name") == "Copilot" and info.findtext("author") and info.findtext("description")
    controller = root.find("controller")
    assert controller.get("id")
    assert [child.tag for child in controller] == ["scriptfiles", "controls", "outputs"]
    (script,) = controller.find("scriptfiles")
    assert script.get("filename") == js.name and script.get("functionprefix").isidentifier()


def test_controls(installed: tuple[Path, Path, ET.Element]) -> None:
    _, _, root = installed
    prefix = root.find("controller/scriptfiles/file").get("functionprefix")
    controls = root.findall("controller/controls/control")
    assert len(controls) > 100
    seen = set()
    for c in controls:
        assert {e.tag for e in c} == {"group", "key", "description", "status", "midino", "options"}
        status, midino = int(c.findtext("status"), 0), int(c.findtext("midino"), 0)
        assert status & 0xF0 in (0x90, 0xB0) and 0 <= midino <= 127
        assert (status, midino) not in seen
        seen.add((status, midino))
        options = [o.tag for o in c.find("options")]
        assert options and set(options) <= OPTIONS
        assert matches(GROUP_PATTERNS, c.findtext("group")), c.findtext("group")
        key = c.findtext("key")
        if "script-binding" in options:
            assert key.startswith(prefix + ".") and status & 0xF0 == 0x90
        else:
            assert matches(KEY_PATTERNS, key), key


def test_fourteen_bit_controls_come_in_msb_lsb_pairs(installed: tuple[Path, Path, ET.Element]) -> None:
    _, _, root = installed
    halves: dict[tuple[str, str, int], dict[str, int]] = {}
    for c in root.findall("controller/controls/control"):
        options = {o.tag for o in c.find("options")}
        for half in ("fourteen-bit-msb", "fourteen-bit-lsb"):
            if half in options:
                key = (c.findtext("group"), c.findtext("key"), int(c.findtext("status"), 0))
                halves.setdefault(key, {})[half] = int(c.findtext("midino"), 0)
    assert {k[1] for k in halves} == {"rate", "volume", "super1", "crossfader"}
    for pair in halves.values():
        assert pair["fourteen-bit-lsb"] == pair["fourteen-bit-msb"] + 32


def test_outputs(installed: tuple[Path, Path, ET.Element]) -> None:
    _, _, root = installed
    outputs = root.findall("controller/outputs/output")
    keys = {}
    for o in outputs:
        assert {e.tag for e in o} == {"group", "key", "description", "status", "midino", "on", "off", "minimum",
                                      "maximum"}
        assert int(o.findtext("on"), 0) == 0x7F and int(o.findtext("off"), 0) == 0
        low, high = float(o.findtext("minimum")), float(o.findtext("maximum"))
        assert 0 < low <= high  # a stopped deck (value 0) must read "off"
        keys.setdefault(re.sub(r"\d", "N", o.findtext("key")), set()).add(o.findtext("group"))
    assert set(keys) == {"play_latched", "loop_enabled", "track_loaded", "hotcue_N_status",
                         "group_[ChannelN]_enable"}
    assert keys["play_latched"] == {f"[Channel{n}]" for n in range(1, 5)}


def test_script_passes_node_check_and_defines_every_bound_function(installed: tuple[Path, Path, ET.Element]) -> None:
    _, js, root = installed
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Debian nodejs)")
    done = subprocess.run([node, "--check", str(js)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    prefix = root.find("controller/scriptfiles/file").get("functionprefix")
    bound = {c.findtext("key").split(".", 1)[1] for c in root.findall("controller/controls/control")
             if c.find("options/script-binding") is not None}
    effects = run_script(js, prefix, bound)  # throws in Node if a function is missing
    # channel = deck: deck 2's play sets [Channel2] play = 1; the release does nothing
    assert effects["play|1|127"] == [["[Channel2]", "play", 1]]
    assert effects["play|1|0"] == []
    assert effects["pause|0|127"] == [["[Channel1]", "play", 0]]
    assert effects["sync|3|127"] == [["[Channel4]", "sync_enabled", 1]]
    assert effects["loop_off|2|127"] == [["[Channel3]", "loop_enabled", 0]]
    assert effects["fx_on|1|127"] == [["[EffectRack1_EffectUnit2]", "enabled", 1],
                                      ["[EffectRack1_EffectUnit2]", "group_[Channel2]_enable", 1]]
    assert effects["fx_off|0|127"] == [["[EffectRack1_EffectUnit1]", "group_[Channel1]_enable", 0]]


def test_default_ports_pair_into_one_mixxx_controller() -> None:
    # Mixxx's own unit-test cases for its pairing rule …
    assert mixxx_pairs("Vestax VCI-100", "Vestax VCI-100")
    assert not mixxx_pairs("Vestax VCI-100", "Vestax VCI-300")
    assert mixxx_pairs("From: Vestax VCI-100", "To: Vestax VCI-100")
    assert mixxx_pairs("Vestax VCI-100 MIDI 1 OtherJunk", "VesTaX VCI-100 MIDI 1 123 Doesn't Matter")
    assert not mixxx_pairs("Vestax VCI-100 MIDI 1", "Vestax VCI-100 MIDI 2")
    # … say the spine's port names would leave Mixxx without an output, and ours pair.
    assert not mixxx_pairs("Copilot Out", "Copilot In")
    target = MixxxTarget({})
    assert mixxx_pairs(target.port_name, target.feedback_port)
