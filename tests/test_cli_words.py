"""Words and tables, read as a performer would at an 80-column terminal: real command runs, every line
fits (a path too long for any line stays whole on its own), headers on every table, nothing in square
brackets eaten, motion in the performer's words, messages that say a thing once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from copilot.cli.words import table, wrap
from copilot.tests.fixtures_phrase import tiny_db, tiny_folder  # noqa: F401

WIDTH = 80


def copilot(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, COLUMNS=str(WIDTH), **(env or {})))


def fits(text: str) -> None:
    """Every line within 80 columns, but a line that is one long word (a path) — kept whole."""
    for line in text.splitlines():
        assert len(line) <= WIDTH or len(line.split()) == 1, f"{len(line)} columns: {line!r}"


def test_the_renderer_wraps_between_words_and_never_cuts_a_path() -> None:
    path = "/home/dj/Music/_Serato_/Subcrates/a-very-long-crate-name-for-the-late-set.crate"
    rows = [["1", "120.00", "8A", "Artist - A title long enough to wrap twice over the line", path]]
    lines = table(["id", "BPM", "key", "track", "file"], rows, total=WIDTH)
    fits("\n".join(lines))
    assert any(path in line for line in lines)  # whole, in a block of its own when no column can hold it
    lines = table(["id", "BPM", "track"], [["1", "120.00", "word " * 30]], total=WIDTH, right=(0, 1))
    assert lines[0].split() == ["id", "BPM", "track"] and set(lines[1]) <= {"─", " "}
    assert lines[2].startswith(" 1  120.00  word") and all(len(line) <= WIDTH for line in lines)
    assert wrap("see " + path, first="  fix: ", total=40)[-1].strip() == path


def test_doctor_fits_80_columns_and_keeps_paths_and_brackets(tmp_path: Path) -> None:
    config = tmp_path / "config-with-a-rather-long-folder-name" / "copilot.toml"
    config.parent.mkdir()
    config.write_text('[voice]\nmode = "shouting"\n')
    done = copilot("doctor", "--config", str(config), "--link-wait", "0")
    text = done.stdout
    fits(text)
    flat = " ".join(text.split())
    assert str(config) in text  # the file to fix, whole on one line
    assert "[voice] mode = 'shouting'" in flat  # a table name is text, not markup
    assert "…" not in text and "┃" not in text


def test_db_tracks_and_query_have_headers_and_fit(tiny_db: Path) -> None:  # noqa: F811
    tracks = copilot("db", "tracks", "--db", str(tiny_db))
    assert tracks.returncode == 0, tracks.stderr
    head, rule, *rows = tracks.stdout.splitlines()
    assert head.split()[:5] == ["id", "BPM", "key", "LUFS", "track"] and set(rule) <= {"─", " "}
    assert rows and "Tiny" in tracks.stdout
    fits(tracks.stdout)
    query = copilot("db", "query", "tiny", "--db", str(tiny_db), "-n", "3")
    assert query.returncode == 0, query.stderr
    head, rule, *rows = query.stdout.splitlines()
    assert head.split() == ["score", "BPM", "key", "track", "why"] and 1 <= len(rows) <= 3
    fits(query.stdout)
    helped = copilot("db", "query", "--help")
    assert "-n" in helped.stdout and "How many tracks at most" in helped.stdout
    ranked = copilot("db", "next", "--from", "Tiny 0@outro", "--db", str(tiny_db), "-k", "3")
    assert ranked.returncode == 0, ranked.stderr
    lines = ranked.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["#", "score"])
    assert lines[0].startswith("from ") and lines[head].split() == ["#", "score", "track", "phrase", "why"]
    assert len(lines) - head - 2 >= 3  # three candidates under the rule (a long "why" may wrap)
    fits(ranked.stdout)


def test_transition_templates_and_envelopes_are_tables() -> None:
    listed = copilot("db", "transition")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == ["template", "bars", "what", "it", "does"]
    assert "bass_swap" in listed.stdout
    fits(listed.stdout)
    mine = copilot("transitions", "list")
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout.splitlines()[0].split() == ["template", "bars", "from", "what", "it", "does"]
    assert "bass_swap" in mine.stdout
    fits(mine.stdout)
    warped = copilot("db", "transition", "bass_swap", "--at", "64")
    assert warped.returncode == 0, warped.stderr
    head, rule, *rows = warped.stdout.splitlines()
    assert head.split() == ["param", "deck", "beat:value"] and set(rule) <= {"─", " "} and rows
    fits(warped.stdout)


def test_mappings_show_table_is_a_table_not_markdown() -> None:
    done = copilot("mappings", "show", "serato-dj-pro", "--table")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].split()[:4] == ["row", "for", "channel", "message"] and "|" not in done.stdout
    assert "**" not in done.stdout and any(line.startswith("eq_low ") for line in lines)
    fits(done.stdout)


def test_uninstall_help_says_what_uninstall_does() -> None:
    done = copilot("mappings", "uninstall", "--help")
    assert "Remove copilot's files from here" in done.stdout and "Install here" not in done.stdout
    assert "--create" in copilot("mappings", "install", "--help").stdout


def test_install_output_fits(tmp_path: Path) -> None:
    done = copilot("mappings", "install", "mixxx", "--dest", str(tmp_path), "--dry-run")
    assert done.returncode == 0, done.stderr
    fits(done.stdout)
    assert str(tmp_path / "Copilot.midi.xml") in done.stdout


def test_intent_parse_says_not_a_command_once() -> None:
    done = copilot("intent", "parse", "hello there")
    assert done.returncode == 1 and done.stdout.strip() == "not a command: 'hello there'"


def test_motion_states_in_the_performers_words_and_the_maths_on_request() -> None:
    words = copilot("motion", "replay", "--demo", "zigsim", "--offline", "--duration", "2")
    assert words.returncode == 0, words.stderr
    last = words.stdout.strip().splitlines()[-1]
    assert "energy ▮" in last or "energy ▯" in last
    assert ("on the beat" in last) != ("off the beat" in last) and "right hand" in last
    for maths in ("ψ", "K4", "headroom", "residual"):
        assert maths not in words.stdout
    verbose = copilot("motion", "replay", "--demo", "zigsim", "--offline", "--duration", "2", "--verbose")
    assert all(maths in verbose.stdout for maths in ("ψ", "K4", "headroom", "residual"))


def test_voice_names_its_model_once(tmp_path: Path) -> None:
    wav = tmp_path / "quiet.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    done = copilot("voice", "listen", "--file", str(wav))
    said = done.stdout + done.stderr
    assert "Whisper tiny.en (bundled)" in said, said
    assert "model model" not in said
