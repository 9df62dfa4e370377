"""The real command line, run as a performer would (a subprocess of the installed package)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from copilot import __version__


def copilot(*args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def test_version():
    out = copilot("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"copilot {__version__}"


def test_intent_parse_json():
    out = copilot("intent", "parse", "loop four on deck A", "--json")
    data = json.loads(out.stdout)
    assert data["intent"] == {"kind": "LOOP", "deck": "A", "args": {"beats": 4.0}}
    assert data["confidence"] == 1.0
    bad = copilot("intent", "parse", "what a night", "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["intent"] is None


def test_a_malformed_script_line_is_reported_and_nothing_runs(tmp_path):
    script = tmp_path / "set.txt"
    script.write_text("0 play A\n1.5 loop three on A\n")
    out = copilot("run", "--script", str(script), "--no-link", "--target", "midi-monitor", "--osc", "",
                  "--log", str(tmp_path / "log.jsonl"))
    assert out.returncode == 2
    assert "line 2" in out.stderr and "power of two" in out.stderr
    assert not (tmp_path / "log.jsonl").exists() or "sent" not in (tmp_path / "log.jsonl").read_text()


def test_an_unknown_target_is_refused_with_the_installed_list(tmp_path):
    out = copilot("run", "--target", "traktor", "--no-link", "--duration", "0.1", "--osc", "",
                  "--log", str(tmp_path / "log.jsonl"), "--out", str(tmp_path / "x.wav"))
    assert out.returncode == 2
    assert "unknown target 'traktor'" in out.stderr and "midi-monitor" in out.stderr


@pytest.mark.jack
def test_run_a_script_against_midi_monitor_on_jack(tmp_path, jack_server):
    script = tmp_path / "set.txt"
    script.write_text("0 play A\n0.2 loop 2 on deck A\n")
    log = tmp_path / "log.jsonl"
    out = copilot("run", "--script", str(script), "--no-link", "--target", "midi-monitor", "--duration", "2.5",
                  "--tempo", "128", "--osc", "", "--log", str(log))
    assert out.returncode == 0, out.stderr
    assert "target: midi-monitor" in out.stdout and "sent 4 messages" in out.stdout
    sent = [json.loads(line) for line in log.read_text().splitlines() if '"type": "sent"' in line]
    wire = {r["midi"]: r["beat"] for r in sent if r["target"] == "midi-monitor"}
    assert set(wire) == {"90 26 7f", "90 26 00", "90 10 7f", "90 10 00"}  # loop 2 on A, play A: press + release
    assert wire["90 10 7f"] % 4 == 0  # play on a bar line
    assert wire["90 26 7f"] % 1 == 0  # the loop on a beat


@pytest.mark.jack
def test_doctor_json_names_the_midi_api_and_link(jack_server):
    out = copilot("doctor", "--json", "--link-wait", "0.2")
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert checks["MIDI API"]["ok"] and "jack" in checks["MIDI API"]["detail"]
    assert checks["Ableton Link"]["ok"]
    assert checks["virtual ports"]["ok"]
