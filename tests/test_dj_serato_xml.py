"""The generated Serato preset against the shape of Serato's own files (shared/reference/serato-dj-pro.md)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from copilot.plugins.serato import SeratoTarget

# Function ids the reference lists (any other element name would be invented).
REFERENCE_FUNCTIONS = {
    "play", "cue", "sync", "sync_off", "pitch_slider", "auto_loop_enable", "auto_loop_specific_length",
    "auto_loop_roll_specific_length", "reloop", "loop_in", "loop_out", "cue_point", "cue_point_delete",
    "load_track", "midi_library_scroll", "library_scroll", "effect_level_1_slot_enable",
    "effect_level_1_slot_parameter_1", "effect_bank_beats_multiplier", "effect_bank_channel_assign",
    "master_gain", "deck_eq_lo", "deck_eq_mid", "deck_eq_hi", "upfader", "deck_filter_auto", "track_gain",
}
OUTPUTS = {"play", "auto_loop_enable", "cue_point_set", "load_track_feedback", "effect_level_1_slot_enable"}
ACTION_ON = {"any", "press", "release", "hold", "rotate_clockwise", "rotate_counterclockwise"}
BEHAVIOURS = {"explicit", "toggle", "static"}
DECK_SETS = {"Default", "DJ Effects", "Sample Player"}


@pytest.fixture(scope="module")
def preset() -> tuple[bytes, ET.Element]:
    files = SeratoTarget({}).mapping_files()
    assert [f.relpath for f in files] == ["Copilot.xml"]  # the file name is the preset name
    return files[0].content, ET.fromstring(files[0].content)


def test_root_is_midi_with_app_version_like_serato_writes_it(preset: tuple[bytes, ET.Element]) -> None:
    raw, root = preset
    assert root.tag == "midi"
    assert root.get("app", "").startswith(" ") and root.get("app").strip()[0].isdigit()
    assert raw.startswith(b'<midi app=" ')  # no XML declaration, like Serato's own files
    assert len(root) > 0 and all(c.tag == "control" for c in root)


def test_every_control_is_well_formed(preset: tuple[bytes, ET.Element]) -> None:
    _, root = preset
    seen = set()
    for control in root:
        channel, number = int(control.get("channel")), int(control.get("control"))
        assert 1 <= channel <= 16 and 0 <= number <= 127
        assert control.get("event_type") in ("Note On", "Control Change")
        assert (channel, control.get("event_type"), number) not in seen, "two controls for one message"
        seen.add((channel, control.get("event_type"), number))
        if control.get("event_type") == "Control Change":
            assert control.get("data_type") in ("Absolute 7", "Relative 2's Complement")
        else:
            assert control.get("data_type") is None
        clicks = [u for u in control if u.get("event") == "click"]
        assert len(clicks) == 1 and len(clicks[0]) == 1
        fn = clicks[0][0]
        assert fn.tag in REFERENCE_FUNCTIONS
        assert fn.get("deck_set") in DECK_SETS
        assert int(fn.get("deck_id")) >= 0 and int(fn.get("slot_id")) >= 0
        translations = fn.findall("translation")
        assert len(translations) == 1
        assert translations[0].get("action_on") in ACTION_ON
        assert translations[0].get("behaviour") in BEHAVIOURS


def test_output_blocks_for_the_state_copilot_reads_back(preset: tuple[bytes, ET.Element]) -> None:
    _, root = preset
    outputs: dict[str, set[int]] = {}
    for control in root:
        for userio in control:
            if userio.get("event") != "output":
                continue
            (fn,) = list(userio)
            (tr,) = fn.findall("translation")
            assert tr.get("action_on") == "any"
            assert {a.get("name"): a.get("value") for a in tr.findall("alias")} == {"on": "127", "off": "0"}
            outputs.setdefault(fn.tag, set()).add(int(fn.get("deck_id")))
    assert set(outputs) == OUTPUTS
    assert outputs["play"] == {0, 1, 2, 3} and outputs["auto_loop_enable"] == {0, 1, 2, 3}
    assert outputs["effect_level_1_slot_enable"] == {0, 1}  # two FX units


def test_play_control_is_the_reference_example(preset: tuple[bytes, ET.Element]) -> None:
    _, root = preset
    control = next(c for c in root if c.get("channel") == "1" and c.get("control") == "16")
    assert control.attrib == {"channel": "1", "event_type": "Note On", "control": "16"}
    (play,) = control.find("userio[@event='click']")
    assert play.tag == "play"
    assert play.attrib == {"deck_set": "Default", "deck_id": "0", "slot_id": "0"}
    assert play.find("translation").attrib == {"action_on": "press", "behaviour": "toggle"}


def test_deck_ids_follow_channels_and_hot_cues_their_slots(preset: tuple[bytes, ET.Element]) -> None:
    _, root = preset
    for control in root:
        (fn,) = control.find("userio[@event='click']")
        channel = int(control.get("channel"))
        if fn.get("deck_set") == "Default" and channel <= 4:
            assert int(fn.get("deck_id")) == channel - 1
        if fn.tag == "cue_point":
            assert int(fn.get("slot_id")) == int(control.get("control")) - 0x40  # hot cue n ↔ slot n-1
        if fn.tag == "auto_loop_specific_length":
            assert 0 <= int(fn.get("slot_id")) <= 10
        if fn.get("deck_set") == "DJ Effects":
            assert int(fn.get("deck_id")) == (channel - 1) % 2  # FX unit serving the deck


def test_apostrophe_escaped_as_serato_writes_it(preset: tuple[bytes, ET.Element]) -> None:
    raw, root = preset
    assert b'data_type="Relative 2&apos;s Complement"' in raw
    scroll = next(c for c in root if c.find("userio/midi_library_scroll") is not None)
    assert scroll.get("data_type") == "Relative 2's Complement"


def test_no_crossfader_anywhere(preset: tuple[bytes, ET.Element]) -> None:
    raw, _ = preset
    assert b"crossfader" not in raw
