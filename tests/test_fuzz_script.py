"""Fuzz: script files (`copilot run --script`) — a seeded corpus of damaged scripts and hypothesis text.
A script is either every line understood (times finite, zero or more, in order) or a ScriptError naming
each bad line; nothing else ever comes out of reading one, whatever the file holds."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.intents.script import ScriptError, ScriptLine, load_script, parse_script
from copilot.tests.fuzz_corpus import EXTREMES, WORDS, mutate
from copilot.tests.fuzz_harness import FUZZ_INPUTS

GOOD = "# warm-up\n0.0  play A\n2.5  loop 4 on deck A\n8    drop in 2\n16 bass swap into B in 16  # mix\n"
ODD = ("\x00", "\r", "\x0b\x0c", "\u2028", "#", "   ", "\ufeff0 play A", "0\tplay B")  # separators, BOM, NUL
TIMES = ("0", "1.5", "-1", "nan", "inf", "-inf", "1e308", "1e-320", "0x10", "1_000", "+3", ".5", "٣", "½", "")


def hostile_script(rng: random.Random) -> str:
    """A real script with lines replaced, mangled, cut or flooded."""
    lines = rng.sample(GOOD.splitlines(), 2)  # short: the parser's cost is per line, the damage is the point
    for _ in range(rng.randint(1, 3)):
        op, at = rng.random(), rng.randrange(len(lines) + 1)
        if op < 0.3:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8)))
            lines.insert(at, f"{rng.choice(TIMES)} {words}")
        elif op < 0.45:
            lines.insert(at, f"{rng.choice(EXTREMES)} {rng.choice(EXTREMES)}")
        elif op < 0.6 and lines:
            raw = mutate(lines[at % len(lines)].encode(), rng)
            lines[at % len(lines)] = raw.decode("utf-8", errors="replace")
        elif op < 0.7:
            lines.insert(at, "1 " + "loop 4 on deck A " * rng.randint(10, 60))
        elif op < 0.8:
            lines.insert(at, rng.choice(ODD))
        else:
            lines = lines[: rng.randrange(len(lines) + 1)]
    return rng.choice(["\n", "\r\n", "\r"]).join(lines)


def _holds(text: str) -> bool:
    """What reading a script may end in: its lines, understood and in time order, or a ScriptError (True)."""
    try:
        lines = parse_script(text, "fuzz.txt")
    except ScriptError as err:
        assert err.problems and all(n >= 1 and why for n, why in err.problems)
        assert str(err).startswith("fuzz.txt: ")
        return True
    assert all(isinstance(s, ScriptLine) and math.isfinite(s.at) and s.at >= 0 for s in lines)
    assert [(s.at, s.line) for s in lines] == sorted((s.at, s.line) for s in lines)
    return False


def test_ten_thousand_damaged_scripts_are_read_or_refused_line_by_line():
    rng = random.Random(12)
    refused = sum(_holds(hostile_script(rng)) for _ in range(FUZZ_INPUTS))
    assert FUZZ_INPUTS // 2 < refused < FUZZ_INPUTS  # the corpus hits both sides


def test_a_bad_time_is_named_with_its_line():
    for when in ("nan", "inf", "-1", "-inf", "1e999"):
        try:
            parse_script(f"0 play A\n{when} play B\n")
        except ScriptError as err:
            assert [n for n, _ in err.problems] == [2], when
        else:
            raise AssertionError(f"{when} was taken as a time")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=400))
def test_any_text_as_a_script(text):
    _holds(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_as_a_script_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("s") / "set.txt"
    path.write_bytes(data)
    try:
        load_script(path)
    except ScriptError as err:
        assert str(err).startswith(str(path))


def test_a_folder_or_a_missing_file_as_a_script(tmp_path):
    for path in (tmp_path, tmp_path / "nope.txt"):
        try:
            load_script(path)
        except ScriptError as err:
            assert str(err).startswith(str(path)) and err.problems[0][0] == 0
        else:
            raise AssertionError(path)
