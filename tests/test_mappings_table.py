"""The declarative tables: loading, validation with readable reasons, and user overrides (no code)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from copilot.intents.schema import LOOP_BEATS, Deck
from copilot.mappings import mixxx as mixxx_files
from copilot.mappings import serato as serato_xml
from copilot.mappings.table import TableError, build, load_table, merge, override_path


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user config folder, where copilot looks for table overrides."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def write_override(target: str, text: str) -> Path:
    path = override_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("target", ["serato-dj-pro", "mixxx"])
def test_every_action_the_issue_lists_has_a_row_on_every_deck(target: str) -> None:
    table = load_table(target, override=False)
    for deck in Deck:
        for kind in ("PLAY", "PAUSE", "CUE", "SYNC", "EXIT_LOOP", "LOAD", "TEMPO"):
            assert table.find(kind, deck) is not None, (kind, deck)
        for beats in LOOP_BEATS:
            assert table.find("LOOP", deck, beats=beats) is not None, beats
        for n in range(1, 9):
            assert table.find("HOTCUE", deck, n=n) is not None, n
    assert table.find("SCROLL") is not None


def test_serato_table_marks_the_rows_the_reference_marks_unverified() -> None:
    table = load_table("serato-dj-pro", override=False)
    status = {r.host["function"]: r.status for r in table.rows}
    for unverified in ("deck_eq_lo", "deck_eq_mid", "deck_eq_hi", "upfader", "deck_filter_auto", "track_gain"):
        assert status[unverified] == "U", unverified
    for verified in ("play", "cue", "sync", "pitch_slider", "auto_loop_enable", "cue_point", "load_track",
                     "midi_library_scroll", "effect_level_1_slot_enable", "effect_level_1_slot_parameter_1",
                     "master_gain"):
        assert status[verified] == "V", verified
    assert status["auto_loop_specific_length"] == "I"  # element verified, slot numbers inferred
    assert not table.covers("crossfader")  # Serato has no mappable crossfader


def test_override_replaces_fields_removes_and_adds_rows_without_code(config_home: Path) -> None:
    write_override("serato-dj-pro", """
[table]
preset = "My Copilot"

[[row]]
name = "eq_low"
function = "eq_low_fixed"
status = "V"

[[row]]
name = "trim"
remove = true

[[row]]
name = "sync_off"
actions = ["SYNC_OFF"]
per_deck = true
message = "note"
number = 0x14
function = "sync_off"
action_on = "any"
behaviour = "explicit"
status = "V"
""")
    table = load_table("serato-dj-pro", required=serato_xml.REQUIRED)
    assert table.sources[-1] == str(override_path("serato-dj-pro"))
    assert table.row("eq_low").host["function"] == "eq_low_fixed"
    assert table.row("eq_low").number == 10  # untouched fields stay
    assert table.row("eq_low").status == "V"
    with pytest.raises(KeyError):
        table.row("trim")
    assert table.find("SYNC_OFF", Deck.B).number == 0x14
    # The generated file follows: the corrected function, the new row, the new preset name.
    assert serato_xml.filename(table) == "My Copilot.xml"
    root = ET.fromstring(serato_xml.generate(table))
    functions = {fn.tag for c in root for u in c if u.get("event") == "click" for fn in u}
    assert "eq_low_fixed" in functions and "deck_eq_lo" not in functions
    assert "sync_off" in functions and "track_gain" not in functions


def test_override_reaches_the_target(config_home: Path) -> None:
    from copilot.plugins.mixxx import MixxxTarget

    write_override("mixxx", '[[row]]\nname = "cue"\nnumber = 0x15\n')
    target = MixxxTarget()
    assert target.control("CUE", Deck.A).number == 0x15
    xml = target.mapping_files()[0].content
    assert b"<midino>0x15</midino>" in xml


@pytest.mark.parametrize(("patch", "words"), [
    ('[[row]]\nname = "cue"\nnumber = 200\n', "number must be 0..127"),
    ('[[row]]\nname = "cue"\nnumber = 0x10\n', "both use note 16 on channel 1"),
    ('[[row]]\nname = "cue"\nstatus = "maybe"\n', "status must be V, I or U"),
    ('[[row]]\nname = "cue"\nmessage = "sysex"\n', "message must be 'note' or 'cc'"),
    ('[[row]]\nname = "nothing"\nremove = true\n', "cannot remove row 'nothing'"),
    ('[[row]]\nnumber = 3\n', "every [[row]] needs a name"),
    ('[[row]]\nname = "cue"\nchannel = 3\n', "per-deck row takes the deck's channel"),
    ('[[row]]\nname = "filter"\nfourteen_bit = true\nnumber = 40\n', "14-bit row must be a cc with an MSB"),
    ('[rows]\n', "unknown section"),
    ('[[row]\nname=', "not valid TOML"),
])
def test_a_broken_override_is_refused_with_the_reason(config_home: Path, patch: str, words: str) -> None:
    write_override("mixxx", patch)
    with pytest.raises(TableError) as err:
        load_table("mixxx", required=mixxx_files.REQUIRED)
    assert words in str(err.value)


def test_rows_need_the_host_fields_their_generator_uses() -> None:
    data = merge({"table": {}, "row": []}, {"row": [
        {"name": "x", "actions": ["PLAY"], "per_deck": True, "message": "note", "number": 1, "status": "V"}]})
    with pytest.raises(TableError, match="row 'x': missing function, action_on, behaviour"):
        build("serato-dj-pro", data, serato_xml.REQUIRED)


def test_generators_refuse_values_the_host_would_not_understand() -> None:
    table = load_table("serato-dj-pro", override=False)
    data = {"table": dict(table.meta), "row": [{"name": "play", "actions": ["PLAY"], "per_deck": True,
                                                 "message": "note", "number": 1, "function": "play",
                                                 "action_on": "sometimes", "behaviour": "toggle"}]}
    with pytest.raises(TableError, match="action_on must be one of"):
        serato_xml.generate(build("serato-dj-pro", data))
    mixxx = {"table": {}, "row": [{"name": "x", "actions": ["CUE"], "per_deck": True, "message": "note",
                                   "number": 1, "group": "[Channel{deck}]", "key": "cue_default",
                                   "options": ["sticky"]}]}
    with pytest.raises(TableError, match="unknown Mixxx option"):
        mixxx_files.generate_xml(build("mixxx", mixxx))


def test_show_marks_unverified_rows() -> None:
    from copilot.plugins.serato import SeratoTarget

    text = SeratoTarget().table_markdown()
    eq_line = next(line for line in text.splitlines() if line.startswith("| eq_low "))
    play_line = next(line for line in text.splitlines() if line.startswith("| play "))
    assert "**U** ⚠" in eq_line and "deck_eq_lo" in eq_line
    assert play_line.rstrip().endswith("| V |")
