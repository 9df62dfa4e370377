"""Fuzz, CI-sized (≥ 10,000 inputs per surface, seeded so a failure repeats): copilot.toml files, script
files and mapping destinations. Never a traceback: a config file is taken (and then every reader takes
it too) or refused in one line naming the file; a script is taken or refused line by line; an install
ends in a result or an InstallError, and a refused one changes nothing."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.bridge.config import Config, ConfigError
from copilot.bridge.host import TargetHost
from copilot.bridge.safety import SafetyConfig
from copilot.bridge.settings import AnyOf, Choice, ListOf, Num, Rule, Switch, Table, Text, leaves
from copilot.intents.script import ScriptError, load_script, parse_script

INPUTS = 10_000
SCHEMA = TargetHost().settings_schema()
LEAVES = leaves(SCHEMA)
TARGETS = {name: type(t) for name, t in TargetHost().targets.items()}
ODD_VALUES: list[Any] = [
    math.nan, math.inf, -math.inf, 0, -1, 1, 0.5, 1e308, -1e308, 2**63 - 1, -(2**63), True, False, "", " ", "x",
    "auto", "127.0.0.1:9100", "0.0.0.0:1", "[::1]:9", "70000", "jack", "bar", "BAR", "hands-free", "left_hand", "A",
    "/tmp/x", "~/x", "💥", "a\u0000b", "é" * 300, [], [1], ["a", 2], [[1]], {}, {"x": 1}, {"lo": 0.1}, "nan",
]


# -- TOML text from data (the fuzz writes real files) ------------------------------------------------------
def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON's escapes are TOML's basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_doc(data: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(v)}\n" for k, v in data.items())


def fitting(rule: Rule, rng: random.Random) -> Any:
    """A value the rule takes (so some documents get through to the readers)."""
    if isinstance(rule, Num):
        hi = rule.hi if math.isfinite(rule.hi) else rule.lo + 100
        value = rng.uniform(rule.lo, hi) if not rule.above else rng.uniform(rule.lo, hi) or hi
        return round(value) if rule.integer else value
    if isinstance(rule, Switch):
        return rng.random() < 0.5
    if isinstance(rule, Choice):
        return rng.choice(rule.options)
    if isinstance(rule, ListOf):
        return [fitting(rule.item, rng) for _ in range(rng.randrange(3))]
    if isinstance(rule, AnyOf):
        return fitting(rng.choice([r for r in rule.rules if not isinstance(r, Table)] or list(rule.rules)), rng)
    if isinstance(rule, Text):
        return rng.choice(["127.0.0.1:9400", "10.0.0.0/24", "Copilot Out", "alice", "left_hand", "tiny.en", "x"])
    return {}


def garbage(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(ODD_VALUES)
    if roll < 0.7:
        return rng.uniform(-1e6, 1e6)
    if roll < 0.85:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(12)))
    return rng.randrange(-(2**40), 2**40)


def document(rng: random.Random) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(rng.randrange(1, 4)):
        path, rule = rng.choice(LEAVES)
        path = tuple("loop" if p == "*" and path[-2] == "grid" else ("x" if p == "*" else p) for p in path)
        value = fitting(rule, rng) if rng.random() < 0.5 else garbage(rng)
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
        if rng.random() < 0.05:  # a key nobody knows, near a real one
            node[path[-1] + rng.choice(["s", "_", "x"])] = value
        else:
            node[path[-1]] = value
    if rng.random() < 0.05:
        data[rng.choice(["safety", "targets", "motion", "voice", "osc"])] = garbage(rng)
    return data


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randrange(1, 4)):
        i = rng.randrange(len(chars) + 1)
        roll = rng.random()
        if roll < 0.4 and chars:
            del chars[min(i, len(chars) - 1)]
        elif roll < 0.8:
            chars.insert(i, rng.choice('[]{}="\'\\\n#.,x0 ' + "\x00\x7fé"))
        else:
            chars.insert(i, rng.choice(["[safety", "= =", '"""', "\n[[row]]\n", "1979-05-27T07:32:00Z"]))
    return "".join(chars)


def read_everything(config: Config, data: dict[str, Any]) -> None:
    """What every reader makes of a file the rules took: none of them may raise."""
    from copilot.cli.run import OPTIONS, settle
    from copilot.engine.config import engine_settings
    from copilot.motion.settings import MotionSettings
    from copilot.plugins.voice_input import VoiceSettings

    SafetyConfig.from_dict(config.section("safety"))
    settle({name: None for name in OPTIONS}, config)
    MotionSettings.build({}, config.section("motion"))
    VoiceSettings.from_sources({}, data)
    _, problems = engine_settings(config.target("standalone"))
    assert problems == [], problems  # the rules and the engine's own checks agree
    for name, table in config.targets().items():
        TARGETS[name](table)


def test_fuzz_config_files(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    path = tmp_path / "copilot.toml"
    taken = refused = 0
    for i in range(INPUTS):
        data = document(rng)
        text = toml_doc(data)
        if rng.random() < 0.15:
            text = mutate(text, rng)
        raw = text.encode("utf-8", "surrogatepass")
        if rng.random() < 0.01:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        try:
            if rng.random() < 0.05:  # through the disk now and then; the same bytes otherwise
                path.write_bytes(raw)
                config = Config.load(path)
            else:
                config = Config.parse(raw, path)
            config.check(SCHEMA)
        except ConfigError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith(str(path)), (i, text, message)
            refused += 1
            continue
        try:
            read_everything(config, config.data)
        except Exception as exc:
            raise AssertionError(f"input {i}: the rules took {text!r} but a reader fell over: {exc!r}") from exc
        taken += 1
    assert taken > 1000 and refused > 1000, (taken, refused)


def test_fuzz_config_through_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A sample through `load_config`, what every command calls: exit 2 and exactly one line."""
    import typer

    from copilot.cli.common import load_config

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    rng = random.Random(7)
    path = tmp_path / "copilot.toml"
    refused = 0
    while refused < 40:
        path.write_text(toml_doc({k: v for k, v in document(rng).items()}), encoding="utf-8")
        try:
            load_config(path)
        except typer.Exit as exc:
            assert exc.exit_code == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith(str(path)), err
            refused += 1


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from([".".join(p) for p, r in LEAVES if isinstance(r, Num) and "*" not in p]),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70)))
def test_any_number_into_any_number_key(key: str, value: float) -> None:
    path = key.split(".")
    data: dict[str, Any] = {}
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    config = Config(data, Path("fuzz.toml"))
    try:
        config.check(SCHEMA)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        assert not (isinstance(value, float) and math.isfinite(value) and _inside(key, value)), str(exc)
        return
    assert math.isfinite(value) and _inside(key, value)
    read_everything(config, data)


def _inside(key: str, value: float) -> bool:
    rule = dict((".".join(p), r) for p, r in LEAVES)[key]
    assert isinstance(rule, Num)
    return rule.problem(value) is None


# -- script files ------------------------------------------------------------------------------------------------
WORDS = ["play", "pause", "A", "B", "deck", "loop", "4", "three", "on", "drop", "in", "2", "load", "dubby", "118",
         "to", "filter", "down", "80", "percent", "build", "8", "bar", "fx", "echo", "off", "tempo", "plus", "key",
         "lock", "panic", "yes", "cancel", "hot", "cue", "sync", "💥", "\x00", "é", "x" * 60, "#", "1/2", "-3"]
GAPS = [" ", "  ", "\t", ""]
TIMES = ["0", "1.5", "2", "1e3", "-1", "nan", "inf", "1e400", "0x10", "", "abc", "3.", ".5", "1_0", "٣", "+2"]


def script(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randrange(0, 3)):
        roll = rng.random()
        if roll < 0.1:
            lines.append(rng.choice(["", "   ", "# a comment", "\t#", "\r"]))
            continue
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 6)))
        lines.append(rng.choice(TIMES) + rng.choice(GAPS) + words)
    return rng.choice(["\n", "\r\n"]).join(lines)


def test_fuzz_script_files(tmp_path: Path) -> None:
    rng = random.Random(118)
    taken = refused = 0
    for i in range(INPUTS):
        text = script(rng)
        try:
            lines = parse_script(text, "fuzz.txt")
        except ScriptError as exc:
            assert exc.problems and all(0 <= n <= len(text.splitlines()) for n, _ in exc.problems), (i, text)
            assert "fuzz.txt" in str(exc)
            refused += 1
            continue
        assert all(math.isfinite(line.at) and line.at >= 0 for line in lines)
        taken += 1
    assert taken > 500 and refused > 500, (taken, refused)
    path = tmp_path / "set.txt"
    for _ in range(300):  # what is on disk: any bytes at all
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(60))))
        with contextlib.suppress(ScriptError):
            load_script(path)


# -- mapping destinations ------------------------------------------------------------------------------------------
def test_fuzz_mapping_destinations(tmp_path: Path) -> None:
    """In a process of its own, without root's power over permissions (read-only means read-only)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv (util-linux): read-only folders would not be")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    root = tmp_path / "playground"
    root.mkdir()
    done = subprocess.run([*prefix, sys.executable, "-m", "copilot.tests.install_fuzz_probe", str(root),
                           str(INPUTS), "12"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data")))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["crashed"] == 0, "\n".join(summary["crashes"])
    assert summary["changed_when_refused"] == 0, "\n".join(summary["crashes"])
    assert summary["inputs"] == INPUTS and summary["refused"] > 1000 and summary["done"] > 1000
    (root / "locked").chmod(0o555)  # the probe unlocks its playground when done; lock it again for the CLI
    try:
        refusals = subprocess.run([*prefix, sys.executable, "-m", "copilot", "mappings", "install", "mixxx", "--dest",
                                   str(root / "locked")], capture_output=True, text=True, timeout=120,
                                  env=dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data")))
    finally:
        (root / "locked").chmod(0o755)
    assert refusals.returncode == 1 and "permission denied" in refusals.stderr  # read-only really was
