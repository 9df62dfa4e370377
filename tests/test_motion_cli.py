"""`copilot motion` from the command line: listen over real UDP, replay offline, calibrate from a take."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from copilot.motion import synth
from copilot.motion.profile import Profile
from copilot.tests.fixtures import free_udp_port
from copilot.tests.fixtures_motion import UdpSender


class _Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = code, stdout, stderr


def _copilot(*args: str) -> _Result:
    """The real CLI in this process (typer's runner): quick, and the exit codes and streams are the same."""
    from typer.testing import CliRunner

    from copilot.cli.main import app

    result = CliRunner().invoke(app, ["motion", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return _Result(result.exit_code, result.stdout, result.stderr)


def test_listen_json_prints_states_from_a_real_phone_stream() -> None:
    port = free_udp_port()
    proc = subprocess.Popen([sys.executable, "-m", "copilot", "motion", "listen", "--no-link", "--osc", str(port),
                             "--json", "--every", "5", "--duration", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender = UdpSender(port)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while "listening" not in line and time.monotonic() < deadline:  # wait for the port to open
            line = proc.stderr.readline()
        take = synth.wave(seconds=3.0, fmt="gyrosc", strength=1.0)
        t0 = time.monotonic()
        for d in take:
            while time.monotonic() - t0 < d.t:
                time.sleep(0.001)
            sender.send(d.data)
        out, err = proc.communicate(timeout=30)
    finally:
        sender.close()
        if proc.poll() is None:
            proc.kill()
    states = [json.loads(x) for x in out.splitlines() if x.strip()]
    assert len(states) > 20, err
    keys = {"performer", "beat", "energy", "psi", "lock", "tension", "limbs", "residual", "iterations", "headroom",
            "error_bound", "slow", "outputs"}
    assert keys <= set(states[0])
    assert max(s["energy"] for s in states) > 0.2
    assert all(0.0 <= s["psi"] < 1.0 and 0.0 <= s["energy"] <= 1.0 for s in states)
    assert all(s["headroom"] > 0.3 for s in states)
    assert "gyrosc@127.0.0.1" in err and "right_hand" in err


def test_replay_offline_and_calibrate_from_a_take(tmp_path) -> None:
    take = synth.wave_take(seconds=14.0, strength=lambda b: 0.0 if b < 4 else 1.0, offset=0.2)
    path = take.save(tmp_path / "take.jsonl")
    out = _copilot("replay", str(path), "--offline", "--json")
    assert out.returncode == 0, out.stderr
    states = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(states) == len(take.datagrams)
    assert states[-1]["lock"] > 0.8
    cal = _copilot("calibrate", "--take", str(path), "--performer", "carol", "--profiles", str(tmp_path), "--json")
    assert cal.returncode == 0, cal.stderr
    report = json.loads(cal.stdout)
    assert report["profile"] == str(tmp_path / "carol.json")
    profile = Profile.load("carol", tmp_path)
    assert abs(((profile.groove_offset - 0.2 + 0.5) % 1) - 0.5) < 0.06


def test_bad_input_gets_a_clear_message(tmp_path) -> None:
    (tmp_path / "bad.jsonl").write_text("not a take\n")
    out = _copilot("replay", str(tmp_path / "bad.jsonl"), "--offline")
    assert out.returncode == 1 and "not a motion take" in out.stderr
    out = _copilot("listen", "--no-link", "--osc", "0.0.0.0:9", "--duration", "1")
    assert out.returncode == 1 and "allow-list" in out.stderr
    out = _copilot("listen", "--no-link", "--osc", "nine", "--duration", "1")
    assert out.returncode == 2 and "[HOST:]PORT" in out.stderr
    out = _copilot("calibrate", "--take", str(tmp_path / "bad.jsonl"), "--profiles", str(tmp_path))
    assert out.returncode == 1 and "not a motion take" in out.stderr
    out = _copilot("replay", "--demo", "theremin", "--offline")
    assert out.returncode == 2 and "unknown demo" in out.stderr
