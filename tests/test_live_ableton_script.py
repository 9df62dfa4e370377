"""The generated User Remote Script, read the way Live's `_UserScript` reads it, and the bytes the target
sends checked against what that file binds."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from copilot.bridge.actions import Action, ActionKind
from copilot.bridge.host import TargetHost
from copilot.bridge.params import PARAMS
from copilot.bridge.state import HostState
from copilot.intents.schema import Deck
from copilot.mappings import ableton as table_mod
from copilot.mappings.ableton import (
    MAP_MODES,
    TRANSPORT_KEYS,
    TableError,
    live_preference_folders,
    load_table,
    user_configuration,
    user_script_folders,
)
from copilot.plugins import ableton as plugin
from copilot.plugins.ableton import AbletonLive


def live_reads(text: str) -> configparser.ConfigParser:
    """Like Live: a default ConfigParser (strict, no inline comments), integers through getint."""
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return parser


def bound_controls(parser: configparser.ConfigParser) -> dict[str, tuple[int, int, str]]:
    """What Live would bind, per control name: (channel, cc, map mode), as GenericScript does it."""
    g = parser.getint("Globals", "GlobalChannel")
    dev, mix = parser["DeviceControls"], parser["MixerControls"]
    out: dict[str, tuple[int, int, str]] = {}
    for i in range(1, 17):
        cc, ch = dev.getint(f"Encoder{i}"), dev.getint(f"EncoderChannel{i}")
        if 0 <= cc < 128:
            out[f"Encoder{i}"] = (ch if 0 <= ch < 16 else g, cc, dev["EncoderMapMode"])
    for i in range(1, 9):
        cc, ch = mix.getint(f"VolumeSlider{i}"), mix.getint(f"Slider{i}Channel")
        if 0 <= cc < 128:
            out[f"VolumeSlider{i}"] = (ch if 0 <= ch < 16 else g, cc, mix["VolumeMapMode"])
        for n in (1, 2):
            cc = mix.getint(f"Send{n}Knob{i}")
            if 0 <= cc < 128 and not 0 <= mix.getint(f"TrackArmButton{i}") < 128:
                out[f"Send{n}Knob{i}"] = (g, cc, mix["SendsMapMode"])
    if 0 <= mix.getint("MasterVolumeSlider") < 128:
        ch = mix.getint("MasterSliderChannel")
        out["MasterVolumeSlider"] = (ch if 0 <= ch < 16 else g, mix.getint("MasterVolumeSlider"), mix["VolumeMapMode"])
    if 0 <= mix.getint("CrossfaderSlider") < 128:
        ch = mix.getint("CrossfaderSliderChannel")
        out["CrossfaderSlider"] = (ch if 0 <= ch < 16 else g, mix.getint("CrossfaderSlider"),
                                   mix["CrossfaderMapMode"])
    for key in TRANSPORT_KEYS:
        cc = parser.getint("TransportControls", f"{key}Button")
        if 0 <= cc < 128:
            out[f"{key}Button"] = (g, cc, "Absolute")
    return out


def test_file_is_what_live_parses() -> None:
    table = load_table()
    text = user_configuration(table)
    parser = live_reads(text)
    assert parser.sections() == ["Globals", "DeviceControls", "MixerControls", "TransportControls"]
    for section in parser.sections():
        for key, value in parser[section].items():
            if key in ("inputname", "outputname") or key.endswith("mapmode"):
                continue
            assert -1 <= int(value) <= 127, f"{section}.{key} = {value}"  # getint works on every number
    assert parser["Globals"]["InputName"] == "Copilot Out"
    for key in ("EncoderMapMode",):
        assert parser["DeviceControls"][key] in MAP_MODES
    for key in ("VolumeMapMode", "SendsMapMode", "CrossfaderMapMode"):
        assert parser["MixerControls"][key] in MAP_MODES
    # no two controls share a CC on a channel, counting the LSB (CC + 32) of every 14-bit control
    used: dict[tuple[int, int], str] = {}
    for name, (ch, cc, mode) in bound_controls(parser).items():
        for wire in ((cc, cc + 32) if mode == "Absolute14Bit" else (cc,)):
            assert (ch, wire) not in used, f"{name} collides with {used.get((ch, wire))}"
            used[(ch, wire)] = name
        if mode == "Absolute14Bit":
            assert cc <= 31
    assert len(bound_controls(parser)) == 8 + 8 + 16 + 1 + 1 + 2


def test_every_parameter_goes_out_where_the_file_binds_it() -> None:
    target = AbletonLive()
    bound = bound_controls(live_reads(user_configuration(target.table)))
    by_wire = {(ch, cc): (name, mode) for name, (ch, cc, mode) in bound.items()}
    expected_control = {"filter": "Encoder1", "fx_depth": "Encoder2", "room": "Encoder3", "energy": "Encoder4",
                        "tension": "Encoder5", "tremolo": "Encoder6", "roll": "Encoder7",
                        "master_gain": "MasterVolumeSlider", "crossfader": "CrossfaderSlider"}
    for param in sorted(target.capabilities().params):
        decks = [Deck.A, Deck.B, Deck.C, Deck.D] if PARAMS[param].per_deck else [None]
        for deck in decks:
            action = Action(ActionKind.CONTROL, deck, 8.0, params={"param": param, "value": 0.3})
            wire = [t.payload.data for t in target.render(action, HostState())]
            status, cc = wire[0][0], wire[0][1]
            assert status & 0xF0 == 0xB0
            name, mode = by_wire[(status & 0x0F, cc)]
            if param == "volume":
                assert name == f"VolumeSlider{deck.index + 1}"
            elif param == "fx_send":
                assert name == f"Send1Knob{deck.index + 1}"
            else:
                assert name == expected_control[param]
            if mode == "Absolute14Bit":  # MSB then LSB, the pair Live's absolute_14_bit expects
                assert len(wire) == 2 and wire[1][1] == cc + 32 and wire[1][0] == status
                value = ((wire[0][2] << 7) | wire[1][2]) / 16383
            else:
                assert len(wire) == 1
                value = wire[0][2] / 127
            scale = {"volume": 0.85, "master_gain": 1.7}.get(param, 1.0)
            assert value == pytest.approx(0.3 * scale, abs=1 / 127 if mode == "Absolute" else 1 / 16383)


def test_transport_and_loop_hit_the_bound_buttons_and_macros() -> None:
    target = AbletonLive()
    bound = bound_controls(live_reads(user_configuration(target.table)))
    play = Action(ActionKind.PLAY, Deck.A, 16.0)
    wire = [(t.beat, t.payload.data) for t in target.render(play, HostState())]
    ch, cc, _ = bound["PlayButton"]
    assert [d for _, d in wire] == [bytes([0xB0 | ch, cc, 127]), bytes([0xB0 | ch, cc, 0])]
    assert wire[0][0] == pytest.approx(16.0 - 0.25 * 2)  # pressed 0.25 s (at 120 BPM) before Live's bar
    stop = target.render(Action(ActionKind.PAUSE, Deck.A, 16.0), HostState())
    assert stop[0].beat == 16.0 and stop[0].payload.data == bytes([0xB0 | ch, bound["StopButton"][1], 127])
    loop = target.render(Action(ActionKind.LOOP, Deck.A, 9.0, params={"beats": 1.0}), HostState())
    data = [t.payload.data for t in loop]
    assert [d[1] for d in data] == [8, 40, 7, 39]  # grid macro (8) then Beat Repeat on (7), 14-bit
    grid = ((data[0][2] << 7) | data[1][2]) / 16383
    assert grid == pytest.approx(3 / 7, abs=1e-4)  # 1 beat = 4th of the 8 Beat Repeat grid steps
    exit_loop = target.render(Action(ActionKind.EXIT_LOOP, Deck.A, 10.0), HostState())
    assert [t.payload.data for t in exit_loop] == [bytes([0xBF, 7, 0]), bytes([0xBF, 39, 0])]


def test_feedback_reads_the_play_light() -> None:
    target = AbletonLive()
    assert target.on_feedback(bytes([0xBF, 80, 127]))[0].fields == {"playing": True}
    assert target.on_feedback(bytes([0xBF, 80, 0]))[0].fields == {"playing": False}
    assert target.on_feedback(bytes([0xB0, 80, 127])) == []  # another channel
    assert target.on_feedback(bytes([0xBF, 81])) == []  # truncated


def test_panic_puts_every_bound_reset_parameter_back_at_once() -> None:
    target = AbletonLive()
    neutral = {n: p.neutral for n, p in PARAMS.items() if p.reset_on_panic}
    out = target.render(Action(ActionKind.PANIC, None, None, params={"neutral": neutral}), HostState())
    assert all(t.beat is None for t in out)
    ccs = {(t.payload.data[0], t.payload.data[1]) for t in out}
    assert (0xBF, 1) in ccs and (0xBF, 33) in ccs  # filter (14-bit), open = 0.5
    assert {(0xBF, c) for c in (64, 65, 66, 67)} <= ccs  # fx_send of the four deck strips
    filt = [t.payload.data for t in out if t.payload.data[1] in (1, 33)]
    assert ((filt[0][2] << 7) | filt[1][2]) == 8192  # round(0.5 × 16383)


def test_table_errors_name_the_entry(tmp_path: Path) -> None:
    base = table_mod.TABLE_PATH.read_text()
    cases = {
        'macros = [\n    { macro = 1, cc = 1, param = "filter" },': (
            'macros = [\n    { macro = 1, cc = 9, param = "filter" },', "both use CC 9"),
        'map_mode = "Absolute14Bit"\nchannel = 15': ('map_mode = "Absolute15Bit"\nchannel = 15', "unknown map mode"),
        "master_volume_cc = 17": ("master_volume_cc = 40", "MSB on CC 0..31"),
        "Play = 80": ("Pause = 80", "unknown transport button"),
        'folder = "Copilot"': ('folder = "1Copilot"', "start with a letter"),
        '{ macro = 3, cc = 3, param = "room" }': ('{ macro = 3, cc = 3, param = "rooom" }', "unknown parameter"),
    }
    for old, (new, why) in cases.items():
        assert old in base, old
        path = tmp_path / "t.toml"
        path.write_text(base.replace(old, new))
        with pytest.raises(TableError, match=why):
            load_table(path, known_params=PARAMS)


def test_live_folders_per_os(tmp_path: Path) -> None:
    mac = tmp_path / "mac"
    for version in ("Live 11.3.13", "Live 12.1.5"):
        (mac / "Library" / "Preferences" / "Ableton" / version).mkdir(parents=True)
    (mac / "Library" / "Preferences" / "Ableton" / "Unrelated").mkdir()
    assert user_script_folders("darwin", home=mac) == [
        mac / "Library/Preferences/Ableton/Live 11.3.13/User Remote Scripts",
        mac / "Library/Preferences/Ableton/Live 12.1.5/User Remote Scripts",
    ]
    appdata = tmp_path / "Roaming"
    (appdata / "Ableton" / "Live 12.0.1" / "Preferences").mkdir(parents=True)
    assert user_script_folders("win32", appdata=str(appdata)) == [
        appdata / "Ableton/Live 12.0.1/Preferences/User Remote Scripts"]
    assert live_preference_folders("linux", home=mac) == []
    assert user_script_folders("darwin", home=tmp_path / "nobody") == []


def test_target_ships_the_script_and_doctor_sees_it(tmp_path: Path) -> None:
    host = TargetHost(plugins=[plugin], entry_points=False)
    (f,) = host.get("ableton-live").mapping_files()
    assert f.relpath == "Copilot/UserConfiguration.txt"
    assert live_reads(f.content.decode()).getint("TransportControls", "PlayButton") == 80
    steps = host.get("ableton-live").install_steps()
    assert any("Control Surface 'Copilot'" in s for s in steps)
    folder = tmp_path / "Live 12.1.5" / "User Remote Scripts"
    (script,) = [c for c in plugin.doctor_checks({"osc_port": 9, "timeout": 0.05, "reply_port": 0}, [folder])
                 if c.name == "Ableton Live user script"]
    assert not script.ok and "Live 12.1.5" in script.detail and script.fix == "copilot mappings install ableton-live"
    (folder / f.relpath).parent.mkdir(parents=True)
    (folder / f.relpath).write_bytes(f.content)
    (script,) = [c for c in plugin.doctor_checks({"osc_port": 9, "timeout": 0.05, "reply_port": 0}, [folder])
                 if c.name == "Ableton Live user script"]
    assert script.ok
