"""copilot.toml held to one set of rules before anything starts, and every key reaching what reads it.

Bad files go through the real command (`copilot run`) and must end in exit 2 with one line that names
the file, the key and what is allowed — with nothing rendered or opened. Precedence (flag > file >
default) is checked on real runs. Then every key the rules know is set to a value other than its
default and looked for in the object that uses it: a key no consumer reads fails here.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from copilot.bridge.config import Config, ConfigError
from copilot.bridge.host import TargetHost
from copilot.bridge.params import PARAMS
from copilot.bridge.safety import Grid, SafetyConfig
from copilot.bridge.settings import Num, SettingError, leaves
from copilot.intents.schema import IntentKind

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                      ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):
        monkeypatch.setenv(name, str(home / sub) if sub else str(home))
    monkeypatch.delenv("COPILOT_CONFIG", raising=False)
    return home


def copilot(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, JACK_DEFAULT_SERVER="copilot-no-such-server", COLUMNS="80")
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


# -- bad files: one line, exit 2, nothing started --------------------------------------------------------
BAD = [  # (copilot.toml, what the line must say)
    ("[safety]\ntempo_jump_cap = nan\n", ["[safety] tempo_jump_cap = nan", "0 to 20 BPM"]),
    ("[safety]\nmin_confidence = nan\n", ["[safety] min_confidence = nan", "from 0.25 to 1"]),
    ("[safety.params.trim]\nhi = 0.9\n", ["[safety.params.trim] hi = 0.9", "0 to 0.75", "built-in caps"]),
    ("[safety.params.master_gain]\nmax_slope = 5.0\n", ["max_slope = 5", "the built-in cap"]),
    ("[safety]\ngrid = 3\n", ["[safety] grid must be a table"]),
    ('[safety.grid]\nLOOP = "bra"\n', ["[safety.grid] LOOP = 'bra'", "did you mean 'bar'"]),
    ("[safety]\nphase_windw = 0.1\n", ["[safety] has no setting 'phase_windw'", "did you mean 'phase_window'"]),
    ("safety = 3\n", ["[safety] must be a table"]),
    ("[targets]\nstandalone = 3\n", ["[targets] standalone must be a table"]),
    ('[targets.serato]\nport = "x"\n', ["[targets] has no setting 'serato'", "did you mean 'serato-dj-pro'"]),
    ('[targets.standalone.master]\ntilt_db = 9\n', ["[targets.standalone.master] tilt_db = 9", "-6 to 6 dB"]),
    ('[targets.ableton-live.fx.echo]\ndevice = 2\n', ["[targets.ableton-live.fx.echo] needs 'parameter'"]),
    ("[motion]\ndevices = 1\n", ["[motion] devices must be a table"]),
    ('[motion.map.fx_depth]\nhi = 2.0\n', ["[motion.map.fx_depth] hi = 2", "0 to 1"]),
    ("[osc]\nallow = 5\n", ["[osc] allow = 5", "address or network"]),
    ('[osc]\nbind = "foo"\n', ["[osc] bind = 'foo'", "[HOST:]PORT"]),
    ('[ports]\napi = "jak"\n', ["[ports] api = 'jak'", "did you mean 'jack'"]),
    ("[run]\ntempo = 0\n", ["[run] tempo = 0", "20 to 999 BPM"]),
    ('[voice]\nmode = 3\n', ["[voice] mode = 3", "hands-free, push-to-talk"]),
    ("[voice]\nwindow_s = inf\n", ["[voice] window_s = inf", "6 to 30 s"]),
    ('[view]\nbind = "foo"\n', ["[view] bind = 'foo'", "[HOST:]PORT"]),
    ("[view]\nrate = 2\n", ["[view] rate = 2", "10 to 60"]),
    ("[safety\n", ["Expected ']'"]),
]


@pytest.mark.parametrize(("text", "said"), BAD, ids=[b[0].split("\n")[0][:30] + str(i) for i, b in enumerate(BAD)])
def test_a_bad_setting_is_one_line_and_exit_2(home: Path, text: str, said: list[str]) -> None:
    from copilot.cli.main import app

    path = home / "copilot.toml"
    path.write_text(text)
    out = home / "x.wav"
    result = CliRunner().invoke(app, ["run", "--config", str(path), "--no-link", "--osc", "", "--out", str(out),
                                      "--duration", "0.5"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: "), result.output
    for words in said:
        assert words in lines[0], lines[0]
    assert not out.exists()


def test_a_bad_file_stops_the_real_command_before_anything_opens(tmp_path: Path) -> None:
    """The subprocess as a performer runs it: no traceback, nothing rendered, no log written."""
    bad = [("[targets.standalone]\nblocksize = 1e9\n", "blocksize")]  # one of the files that crashed half-way
    for i, (text, key) in enumerate(bad):
        path = tmp_path / f"c{i}.toml"
        path.write_text(text)
        out, log = tmp_path / f"x{i}.wav", tmp_path / f"log{i}.jsonl"
        done = copilot("run", "--config", str(path), "--no-link", "--osc", "", "--out", str(out), "--duration", "0.5",
                       "--log", str(log))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and str(path) in done.stderr and key in done.stderr
        assert not out.exists() and not log.exists() and done.stdout == ""


def test_the_safety_table_refuses_what_would_switch_a_rule_off() -> None:
    from copilot.bridge.params import with_caps

    for bad in ({"tempo_jump_cap": float("nan")}, {"min_confidence": float("nan")}, {"min_confidence": 0.0},
                {"params": {"trim": {"hi": 0.9}}}, {"params": {"volume": {"max_slope": float("inf")}}},
                {"params": {"trim": {"lo": 0.6, "hi": 0.5}}}, {"latency": 1.0}):
        with pytest.raises(SettingError):
            SafetyConfig.from_dict(bad)
    with pytest.raises(ValueError, match="may only tighten"):
        with_caps({"trim": {"hi": 0.9}})
    tighter = SafetyConfig.from_dict({"params": {"trim": {"hi": 0.6}}, "grid": {"loop": "BAR"}})
    assert tighter.params["trim"].hi == 0.6 and tighter.grid[IntentKind.LOOP] is Grid.BAR


# -- precedence: flag > file > default, on real runs ---------------------------------------------------------
def test_run_target_and_tempo_come_from_the_file_unless_a_flag_says_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "copilot.toml"
    path.write_text('[run]\ntarget = "midi-monitor"\ntempo = 100\n')
    args = ["run", "--config", str(path), "--no-link", "--osc", "", "--duration", "0.2"]
    from_file = copilot(*args, "--out", str(tmp_path / "a.wav"), "--log", str(tmp_path / "a.jsonl"))
    assert from_file.returncode == 0, from_file.stderr
    assert "target: midi-monitor (chosen)" in from_file.stdout and "at 100.00 BPM" in from_file.stdout
    flags = copilot(*args, "--target", "standalone", "--tempo", "90", "--out", str(tmp_path / "b.wav"),
                    "--log", str(tmp_path / "b.jsonl"))
    assert flags.returncode == 0, flags.stderr
    assert "target: standalone (chosen)" in flags.stdout and "at 90.00 BPM" in flags.stdout


def _free_udp_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_osc_bind_ports_api_and_run_link_from_the_file_take_effect(tmp_path: Path) -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    port = _free_udp_port()
    path = tmp_path / "copilot.toml"
    path.write_text(f'[run]\ntarget = "midi-monitor"\nlink = false\n[osc]\nbind = "127.0.0.1:{port}"\n'
                    '[ports]\napi = "jack"\nin = "Copilot Feedback"\n')
    env = dict(os.environ, JACK_DEFAULT_SERVER="copilot-no-such-server")
    proc = subprocess.Popen([sys.executable, "-m", "copilot", "run", "--config", str(path), "--duration", "120",
                             "--log", str(tmp_path / "log.jsonl")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    msg = OscMessageBuilder("/copilot/intent")
    msg.add_arg("play A")
    datagram = msg.build().dgram
    replies = []
    try:
        deadline = time.monotonic() + 90.0
        while not any(line.startswith("target:") for line in lines) and time.monotonic() < deadline:
            assert proc.poll() is None, lines
            time.sleep(0.05)
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.2)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and not replies:
                sock.sendto(datagram, ("127.0.0.1", port))
                with contextlib.suppress(TimeoutError):
                    replies.append(sock.recv(4096))
    finally:
        proc.send_signal(signal.SIGTERM)  # the performer stops the set
        proc.wait(timeout=60)
        reader.join(timeout=10)
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert replies and b"/copilot/decision" in replies[0]  # [osc] bind: the intents server listened there
    assert "target: midi-monitor (chosen)" in out  # [run] target
    assert "InternalClock" in out  # [run] link = false
    assert "JACK server not running" in out  # [ports] api = "jack", not auto's "no MIDI system"
    assert "cannot open 'Copilot Feedback' for host feedback" in out  # [ports] in


# -- every key reaches what reads it ---------------------------------------------------------------------------
def nest(path: tuple[str, ...], value: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    data = {} if data is None else data
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return data


class Seen:
    """What each reader made of one copilot.toml."""

    def __init__(self, data: dict[str, Any], tmp: Path) -> None:
        self.data = data
        self.tmp = tmp
        self.config = Config(data, tmp / "probe.toml")
        self.config.check(TargetHost().settings_schema())

    @cached_property
    def safety(self) -> SafetyConfig:
        return SafetyConfig.from_dict(self.config.section("safety"))

    @cached_property
    def host(self) -> TargetHost:
        return TargetHost(self.config.targets(), settings=self.data)

    def target(self, name: str) -> Any:
        assert name not in self.host.broken, self.host.broken
        return self.host.get(name)

    @cached_property
    def run(self) -> dict[str, Any]:
        from copilot.cli.run import OPTIONS, settle

        return settle({name: None for name in OPTIONS}, self.config)

    @cached_property
    def session(self) -> Any:
        from copilot.bridge.session import Session, SessionOptions

        return Session(SessionOptions(out=self.tmp / "never.wav"), self.config, report=lambda _: None)

    @cached_property
    def motion(self) -> Any:
        from copilot.motion.settings import MotionSettings

        return MotionSettings.build({}, self.config.section("motion"))

    @cached_property
    def voice(self) -> Any:
        from copilot.plugins.voice_input import VoiceSettings

        return VoiceSettings.from_sources({}, self.data)

    def opened(self, name: str) -> Any:
        """The target opened (no ports, live), for what it reads only when it opens; closed again."""
        from copilot.bridge.clock import ManualClock
        from copilot.bridge.host import TargetContext

        target = self.target(name)
        target.open(TargetContext(config=self.config.target(name), clock=ManualClock(120.0, 4.0), ports=None,
                                  report=lambda _: None, options={}))
        return target

    def adorner(self) -> Any:
        from copilot.bridge.clock import ManualClock
        from copilot.engine.adorn import Adorner
        from copilot.engine.engine import Engine
        from copilot.engine.state import EngineSettings

        folder = self.tmp / "one-shots"
        folder.mkdir(exist_ok=True)
        return Adorner(Engine(EngineSettings()), ManualClock(120.0, 4.0), folder, lambda _: None,
                       self.config.target("standalone").get("adorn", {}))


SAFETY_VALUES = {"phase_window": 0.0625, "min_lead": 0.01, "move_lead": 0.003, "phrase_bars": 16,
                 "confirm_window": 9.0, "tempo_jump_cap": 1.5, "min_confidence": 0.7, "filter_bars": 2.0,
                 "build_peak": 0.9, "build_send": 0.4, "crossfade_bars": 4, "glide_beats": 2.0, "decks": 4,
                 "horizon_bars": 32.0, "max_scheduled": 100, "max_pending": 8}


def _param_value(name: str, field: str) -> float:
    p = PARAMS[name]
    if field == "lo":
        return p.lo + (p.hi - p.lo) * 0.125
    if field == "hi":
        return p.lo + (p.hi - p.lo) * 0.875
    return p.max_slope / 2 if p.max_slope != float("inf") else 3.0


def _override_table(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}-override.toml"
    path.write_text("")  # an empty override: the packaged table, with this file among its sources
    return path


ENGINE = {"samplerate": 44100, "decks": 4, "ceiling_dbtp": -2.0, "keylock": False}
MASTER = {"enabled": False, "hpf_hz": 40.0, "tilt_db": 2.0, "tilt_hz": 2000.0, "compressor": False,
          "threshold_db": -20.0, "ratio": 4.0, "knee_db": 3.0, "attack_ms": 10.0, "release_ms": 200.0, "rms_ms": 20.0,
          "makeup_db": 1.0}
VOICE = {"model": "base.en", "device": "USB", "channel": 2, "mode": "push-to-talk", "window_s": 8.0,
         "threshold": 0.6, "end_silence_ms": 400.0, "aliases": "/tmp/aliases.toml", "ptt_midi_note": 61,
         "ptt_midi_channel": 3, "ptt_midi_port": "Pads", "ptt_osc": "127.0.0.1:9110", "confirm_tone": True,
         "file": "take.wav", "titles": ["Dubby 118"]}
MAP = {"source": "tension", "lo": 0.1, "hi": 0.6, "threshold": 0.2, "curve": 2.0, "min_cutoff": 2.5, "beta": 1.0,
       "slope": 1.5, "only_if_target_can": True, "enabled": False}
OSC_SETTINGS = {"host": "127.0.0.2", "osc_port": 11010, "reply_port": 11011, "timeout": 0.25, "launch_lead": 0.1,
                "drop_scene": 3, "play": "clip", "clip_slot": 2, "reply_allow": ["10.0.0.0/24"]}


def probe(path: tuple[str, ...], tmp: Path) -> None:
    """Set the key at `path` to a value other than its default and find it where it is used."""
    key = ".".join(path)
    top = path[0]
    last = path[-1]

    def seen(value: Any, at: tuple[str, ...] = path, extra: dict[str, Any] | None = None) -> Seen:
        return Seen(nest(at, value, extra), tmp)

    if key == "run.wake_latency_us":
        assert seen(50).session.wake_latency_us == 50 and seen("off").session.wake_latency_us is None
    elif top == "run":
        value = {"target": "midi-monitor", "link": False, "tempo": 100.0, "quantum": 3.0, "auto_wait": 0.25}[last]
        assert seen(value).run[last] == value
    elif key == "safety.control_lead":
        assert seen(0.004).safety.move_lead == 0.004
    elif key == "safety.rate_limits.loop" or key == "safety.rate_limits.fx":
        assert seen(2.0).safety.rate_limits[last] == 2.0
    elif key == "safety.grid.*":
        assert seen("bar", ("safety", "grid", "loop")).safety.grid[IntentKind.LOOP] is Grid.BAR
    elif fnmatch.fnmatch(key, "safety.params.*.*"):
        name = path[2]
        value = _param_value(name, last)
        assert getattr(seen(value).safety.params[name], last) == value
    elif top == "safety":
        assert getattr(seen(SAFETY_VALUES[last]).safety, last) == SAFETY_VALUES[last]
    elif key == "osc.bind":
        assert seen("127.0.0.1:9555").run["osc"] == "127.0.0.1:9555"
    elif key == "osc.allow":
        assert seen(["10.0.0.0/24"]).run["allow"] == ["10.0.0.0/24"]
    elif key == "ports.api":
        assert seen("jack").run["midi_api"] == "jack"
    elif key == "ports.native":
        assert seen(False).session.port_options()["native"] is False
    elif key == "ports.lookahead_ms":
        assert seen(35.0).session.port_options()["lookahead"] == 0.035
    elif key == "ports.in":
        assert seen("Copilot Feedback").session.feedback_port == "Copilot Feedback"
    elif key == "link.start_stop_sync":
        assert seen(True).session.start_stop_sync is True
    elif top == "targets":
        probe_target(path, tmp, seen)
    elif top == "voice":
        if last == "ptt_allow":
            assert seen(["192.168.1.0/24"]).voice.extra["ptt_allow"] == ["192.168.1.0/24"]
        else:
            assert getattr(seen(VOICE[last]).voice, last) == VOICE[last]
    elif top == "motion":
        probe_motion(path, tmp, seen)
    elif top == "view":
        probe_view(last, seen)
    else:
        raise AssertionError(f"no probe for {key}")


VIEW = {"allow": ["10.0.0.0/24"], "name": "booth laptop", "advertise": False, "rate": 30.0}


def probe_view(key: str, seen: Any) -> None:
    """[view]: the bind is settled by copilot run; the rest is read by the view the plugin makes."""
    from copilot.view.plugin import copilot_inputs

    if key == "bind":
        assert seen("127.0.0.1:9556").run["view"] == "127.0.0.1:9556"
        return
    (view,) = copilot_inputs({"view": "127.0.0.1:0"}, seen(VIEW[key]).data)
    assert (view._allow_text if key == "allow" else view.settings[key]) == VIEW[key]


def probe_target(path: tuple[str, ...], tmp: Path, seen: Any) -> None:
    name, *inner = path[1:]
    key = ".".join(inner)
    if key == "output_latency_ms":
        assert seen(12.0).target(name).output_latency == pytest.approx(0.012)
    elif key in ("port", "feedback_port") and name in ("serato-dj-pro", "mixxx", "midi-monitor"):
        attr = "port_name" if key == "port" else "feedback_port"
        assert getattr(seen("My Port").target(name), attr) == "My Port"
    elif key == "table":
        override = _override_table(tmp, name)
        assert str(override) in seen(str(override)).target(name).table.sources
    elif name == "serato-dj-pro":
        if key == "pitch_range":
            assert seen(0.1).target(name).pitch_range == 0.1
        else:  # fx_slots.*
            assert seen(3, ("targets", name, "fx_slots", "echo")).target(name).fx_slots["echo"] == 3
    elif name == "mixxx":
        if key == "rate_range":
            assert seen(0.16).target(name).rate_range == 0.16
        else:
            assert seen(True).target(name).rate_direction == -1.0
    elif name == "strudel":
        target = seen({"port": "Strudel X", "channel": 5, "beats_per_cycle": 8.0, "tempo": 90.0}[key]).target(name)
        got = {"port": target.table.port, "channel": target.table.channel, "beats_per_cycle": target.beats_per_cycle,
               "tempo": target.tempo}[key]
        assert got == {"port": "Strudel X", "channel": 5, "beats_per_cycle": 8.0, "tempo": 90.0}[key]
    elif name == "ableton-live":
        probe_ableton(inner, tmp, seen)
    elif name == "standalone":
        probe_standalone(inner, tmp, seen)
    else:
        raise AssertionError(f"no probe for targets.{name}.{key}")


def probe_ableton(inner: list[str], tmp: Path, seen: Any) -> None:
    name = "ableton-live"
    key = ".".join(inner)
    if key == "port":
        assert seen("Live In").target(name).port_name == "Live In"
    elif key == "osc":
        target = seen(False).opened(name)
        assert target.osc is None  # false: no AbletonOSC socket at all
        target.close()
    elif inner[0] in OSC_SETTINGS or (inner[0] == "osc" and len(inner) == 2):
        field = inner[-1]
        value = 11012 if field == "port" else OSC_SETTINGS[field]
        target = seen(value).target(name)
        assert target.osc_settings[field] == value
        if field == "launch_lead":
            assert target.launch_lead == value
    elif inner[0] == "script":
        value = {"folder": "MyCopilot", "input_port": "In X", "output_port": "Out X", "channel": 12}[inner[1]]
        table = seen(value).target(name).table
        attr = {"folder": "folder", "input_port": "input_port", "output_port": "output_port", "channel": "channel"}
        assert getattr(table, attr[inner[1]]) == value
    elif inner[0] == "fx":
        fx = seen({"device": 2, "parameter": 5}, ("targets", name, "fx", "wobble")).target(name).table.fx
        assert fx["wobble"] == (2, 5)
    elif key == "deck_tracks":
        assert seen([4, 5]).target(name).deck_tracks() == [4, 5]
    else:
        raise AssertionError(f"no probe for targets.{name}.{key}")


def probe_standalone(inner: list[str], tmp: Path, seen: Any) -> None:
    name = "standalone"
    key = ".".join(inner)
    if key in ENGINE:
        assert getattr(seen(ENGINE[key]).target(name).settings, key) == ENGINE[key]
    elif inner[0] == "master":
        assert getattr(seen(MASTER[inner[1]]).target(name).settings.master, inner[1]) == MASTER[inner[1]]
    elif key == "loudness.match":
        assert seen(False).target(name).settings.loudness_match is False
    elif key == "loudness.target_lufs":
        assert seen(-18.0).target(name).settings.target_lufs == -18.0
    elif key in ("device", "blocksize", "latency"):
        value = {"device": "USB Audio", "blocksize": 256, "latency": 0.02}[key]
        assert getattr(seen(value).target(name), key) == value
    elif key == "autopilot":
        from copilot.plugins.autopilot import copilot_inputs

        on, off = seen(True), seen(False)
        assert copilot_inputs({}, on.config.targets()) and copilot_inputs({}, off.config.targets()) == []
    elif key == "fallback_wav":
        wav = tmp / "fallback.wav"
        target = seen(str(wav)).opened(name)  # no sound device here: the engine renders to this file
        try:
            assert target.fallback_wav == wav.resolve()
        finally:
            target.close()
    elif key in ("fallback_minutes", "play_wait_bars"):  # the WAV's cap; how long a PLAY waits for its decode
        value = {"fallback_minutes": 5.0, "play_wait_bars": 2.0}[key]
        assert getattr(seen(value).target(name), key) == value
    elif inner[0] == "adorn":
        value = {"gain_db": -12.0, "pattern": False, "phrase_beats": 16}[inner[1]]
        adorner = seen(value).adorner()
        got = {"gain_db": adorner.gain, "pattern": adorner.pattern, "phrase_beats": adorner.every}[inner[1]]
        assert got == (10 ** (value / 20) if inner[1] == "gain_db" else value)
    else:
        raise AssertionError(f"no probe for targets.{name}.{key}")


def probe_motion(path: tuple[str, ...], tmp: Path, seen: Any) -> None:
    from copilot.bridge.osc import Bind

    key = ".".join(path[1:])
    if key in ("osc", "mocopi"):
        assert getattr(seen("127.0.0.1:9301").motion, key) == [Bind("127.0.0.1", 9301)]
    elif key == "allow":
        assert seen(["10.0.0.0/24"]).motion.allow == ["10.0.0.0/24"]
    elif key in ("performer", "deck", "iterations", "halpern", "record", "profiles", "forget_after"):
        value = {"performer": "alice", "deck": "B", "iterations": 3, "halpern": True, "record": "take.jsonl",
                 "profiles": "/tmp/profiles", "forget_after": 5.0}[key]
        attr = "profiles_dir" if key == "profiles" else key
        assert getattr(seen(value).motion, attr) == value
    elif key.startswith("devices.*."):
        field = path[-1]
        value = {"limb": "left_hand", "performer": "bob", "nominal_hz": 50.0}[field]
        (rule,) = seen(value, ("motion", "devices", "gyrosc@*", field)).motion.rules
        assert rule.pattern == "gyrosc@*" and getattr(rule, field) == value
    elif key == "performers.*.deck":
        assert seen("C", ("motion", "performers", "bob", "deck")).motion.performer_decks == {"bob": "C"}
    elif key == "performers.*.profile":
        assert seen("bob-x", ("motion", "performers", "bob", "profile")).motion.performer_profiles == {"bob": "bob-x"}
    elif key.startswith("map.*."):
        field = path[-1]
        rows = seen(MAP[field], ("motion", "map", "fx_depth", field)).motion.mappings
        (row,) = [m for m in rows if m.param == "fx_depth"]
        assert getattr(row, field) == MAP[field]
    else:
        raise AssertionError(f"no probe for motion.{key}")


KEYS = sorted({".".join(p) for p, _ in leaves(TargetHost().settings_schema())})


@pytest.mark.parametrize("key", KEYS)
def test_every_key_reaches_what_reads_it(key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no override tables from the real home
    probe(tuple(key.split(".")), tmp_path)


def test_every_safety_setting_has_a_rule() -> None:
    """A new field of SafetyConfig is a copilot.toml key only with its rule (else copilot.toml could not set
    it, or could set it to NaN): all but the latency and the notice, which come from the targets and ports."""
    from dataclasses import fields

    from copilot.bridge.safety import RENAMED, SAFETY

    known = {RENAMED.get(k, k) for k in SAFETY.fields}
    assert {f.name for f in fields(SafetyConfig)} - known == {"latency", "notice"}
    with pytest.raises(SettingError, match=r"glide_beats = nan"):
        SafetyConfig.from_dict({"glide_beats": float("nan")})


def test_every_table_in_the_guides_is_accepted_by_the_rules() -> None:
    """The settings each guide shows are the settings copilot takes (a renamed key fails here)."""
    schema = TargetHost().settings_schema()
    shown = 0
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for block in re.findall(r"```toml\n(.*?)```", doc.read_text(), flags=re.S):
            data = tomllib.loads(block)
            if not set(data) <= set(schema.fields):  # a mapping override or an alias file: not copilot.toml
                continue
            Config(data, doc).check(schema)
            shown += 1
    assert shown >= 5


def test_config_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[safety]\ntempo_jump_cap = 50\n")
    config = Config.load(path)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: [safety] tempo_jump_cap = 50: must be a number "
                                                    "from 0 to 20 BPM")):
        config.check(TargetHost().settings_schema())
    assert isinstance(TargetHost().settings_schema().fields["run"].fields["tempo"], Num)
