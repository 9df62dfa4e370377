"""Flags: each checked before anything starts, one line and exit 2 when it does not fit; mistyped
commands get "did you mean"; nothing unexpected reaches the performer as a traceback (`--debug` shows
it); every option has help; shell completion can be installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.cli.main import app, main


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command as `copilot` runs it (main, reading sys.argv: the one-line handling of every error),
    in this process."""
    argv = sys.argv
    sys.argv = ["copilot", *args]
    try:
        with pytest.raises(SystemExit) as done:
            main()
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return int(done.value.code or 0), out.out, out.err


def copilot(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, COLUMNS="80"))


OFFLINE = ["--no-link", "--osc", ""]
BAD_FLAGS = [  # (arguments, what the one line says)
    (["run", "--duration", "0"], "--duration 0: must be a number above 0"),
    (["run", "--tempo", "0"], "--tempo 0: must be a number from 20 to 999 BPM"),
    (["run", "--tempo", "nan"], "--tempo nan: must be a number from 20 to 999 BPM"),
    (["run", "--quantum", "0"], "--quantum 0: must be a number from 1 to 16 beats"),
    (["run", "--output-latency", "-5"], "--output-latency -5: must be a number from 0 to 500 ms"),
    (["run", "--auto-wait", "1e9"], "--auto-wait 1e+09: must be a number from 0 to 60 s"),
    (["run", "--out", "x.mp3"], "--out: x.mp3: a render must end in .wav"),
    (["run", "--osc", "foo"], "--osc 'foo': must be [HOST:]PORT"),
    (["run", "--osc", "127.0.0.1:70000"], "port 70000 is not 0..65535"),
    (["run", "--osc", "0.0.0.0:9100"], "would let anyone on the network in"),
    (["run", "--allow", "10.0.0.x", "--osc", "0.0.0.0:9100"], "--allow '10.0.0.x': must be an address or network"),
    (["run", "--midi-api", "bogus"], "--midi-api 'bogus': must be one of alsa, auto"),
    (["run", "--midi-api", "jak"], "did you mean 'jack'?"),
    (["run", "--mocopi", "70000"], "--mocopi 70000: must be a whole number from 1 to 65535"),
    (["run", "--motion-osc", "nine"], "--motion-osc 'nine': must be [HOST:]PORT"),
    (["run", "--target", "seratto"], "unknown target 'seratto'; did you mean 'serato-dj-pro'?"),
    (["run", "--target", "mixxx,traktor"], "unknown target 'traktor'"),
    (["run", "--crate", "/no/such/crate"], "--crate: no crate folder at /no/such/crate"),
    (["run", "--adorn", "/etc/hostname"], "--adorn: /etc/hostname is a file"),
    (["run", "--script", "/no/such/set.txt"], "--script: no script at /no/such/set.txt"),
    (["run", "--db", "/no/such.sqlite"], "--db: no phrase database at /no/such.sqlite"),
    (["run", "--out", "/nonexistent/dir/x.wav"], "no folder /nonexistent/dir for the render"),
    (["run", "--log", "/nonexistent/dir/log.jsonl"], "no folder /nonexistent/dir for the session log"),
    (["run", "--tmpo", "3"], "copilot run: No such option: --tmpo"),
    (["run", "--tempo", "fast"], "Invalid value for '--tempo'"),
    (["ruun"], "copilot: No such command 'ruun'. Did you mean 'run'?"),
    (["db", "trcks"], "copilot db: No such command 'trcks'. Did you mean 'tracks'?"),
    (["mappings", "instal", "mixxx"], "Did you mean 'install'"),
    (["motion", "replay", "--demo", "zigsim", "--speed", "0", "--offline"], "--speed 0: must be a number above 0"),
    (["motion", "listen", "--tempo", "0"], "--tempo 0: must be a number from 20"),
    (["motion", "listen", "--every", "0"], "--every 0: must be a whole number from 1"),
    (["motion", "calibrate", "--bars", "1", "--take", "x.jsonl"], "--bars 1: must be a whole number from 2"),
    (["ports", "--midi-api", "bogus"], "--midi-api 'bogus': must be one of"),
    (["link", "status", "--quantum", "0"], "--quantum 0: must be a number from 1"),
    (["transitions", "plot", "blend", "--out", "/nonexistent/dir"], "no folder for the plots /nonexistent/dir"),
    (["transitions", "plot", "blnd"], "no transition 'blnd'; did you mean 'blend'?"),
    (["db", "transition", "bass-swp"], "no transition 'bass-swp'; did you mean 'bass_swap'?"),
    (["transitions", "learn", "/no/such/session.jsonl"], "no session log at /no/such/session.jsonl"),
    (["transitions", "learn", "/tmp"], "/tmp is a folder; give the session log inside it"),
    (["motion", "record", "/nonexistent/dir/take.jsonl", "--no-link"], "no folder /nonexistent/dir for the take"),
    (["motion", "replay", "/no/such/take.jsonl", "--offline"], "no take at /no/such/take.jsonl"),
    (["motion", "replay", "/tmp", "--offline"], "/tmp is a folder; give the take inside it"),
    (["motion", "calibrate", "--take", "/no/such/take.jsonl", "--no-link"], "no take at /no/such/take.jsonl"),
    (["voice", "listen", "--file", "/no/such.wav"], "no audio file at /no/such.wav"),
    (["voice", "transcribe", "/no/such.wav"], "no audio file at /no/such.wav"),
    (["voice", "transcribe", "/tmp"], "/tmp is a folder; give the audio file inside it"),
]


@pytest.mark.parametrize(("args", "said"), BAD_FLAGS, ids=[" ".join(a)[:40] for a, _ in BAD_FLAGS])
def test_a_bad_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, args: list[str], said: str) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    extra = [*OFFLINE, "--out", str(tmp_path / "x.wav")] if args[0] == "run" and "--out" not in args else []
    if args[0] == "run" and "--osc" in args:
        extra = ["--no-link", "--out", str(tmp_path / "x.wav")]
    code, out, err = run_main(capsys, *args, *extra)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and said in err, err
    assert "Traceback" not in err + out and not (tmp_path / "x.wav").exists()


def test_the_real_command_never_shows_a_traceback_for_bad_flags(tmp_path: Path) -> None:
    for args in (["run", "--duration", "0", "--no-link", "--osc", "", "--out", str(tmp_path / "x.wav")],
                 ["run", "--out", str(tmp_path / "x.mp3"), "--no-link"], ["motion", "replay", "--demo", "zigsim",
                                                                          "--speed", "0", "--offline"]):
        done = copilot(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not list(tmp_path.iterdir())


def test_out_into_a_missing_folder_needs_parents(tmp_path: Path) -> None:
    out = tmp_path / "new" / "sets" / "x.wav"
    args = ["run", "--no-link", "--osc", "", "--duration", "0.2", "--log", str(tmp_path / "log.jsonl")]
    refused = copilot(*args, "--out", str(out))
    assert refused.returncode == 2 and "--parents" in refused.stderr and not (tmp_path / "new").exists()
    made = copilot(*args, "--out", str(out), "--parents")
    assert made.returncode == 0, made.stderr
    assert out.is_file() and out.stat().st_size > 44


def test_plots_into_a_missing_folder_need_parents(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # an error log, if any, stays here
    folder = tmp_path / "new" / "plots"
    code, _, err = run_main(capsys, "transitions", "plot", "blend", "--out", str(folder))
    assert code == 2 and "--parents" in err and not (tmp_path / "new").exists()
    code, out, err = run_main(capsys, "transitions", "plot", "blend", "--out", str(folder), "--parents")
    assert code == 0, err
    assert (folder / "blend.png").read_bytes()[:4] == b"\x89PNG" and str(folder / "blend.png") in out


def test_a_file_that_is_no_session_log_is_said_as_such(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "notes.jsonl"
    log.write_text('[1, 2]\n"x"\n{"type": "decision", "decision": 5}\n{"type": "session", "targets": 3}\n')
    code, _, err = run_main(capsys, "transitions", "learn", str(log), "--dry-run")
    assert code == 1 and err.count("\n") == 1 and f"{log} is not a copilot session log" in err, err
    assert "something went wrong" not in err


def test_something_unexpected_is_one_line_and_a_log_unless_debug(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    import copilot.intents.parser as parser

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def broken(text: str) -> None:
        raise RuntimeError("the grammar fell over")

    monkeypatch.setattr(parser, "parse", broken)
    code, _out, err = run_main(capsys, "intent", "parse", "play A")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "RuntimeError: the grammar fell over" in err and "--debug" in err
    log = next((tmp_path / "state").rglob("errors.log"))
    assert str(log) in err and "Traceback" in log.read_text() and "the grammar fell over" in log.read_text()
    monkeypatch.setattr(sys, "argv", ["copilot", "--debug", "intent", "parse", "play A"])
    with pytest.raises(RuntimeError, match="fell over"):  # --debug: the real traceback, for a bug report
        main()
    monkeypatch.setattr("copilot.cli.main.DEBUG", {"on": False})


def test_every_option_has_help_and_one_name_per_idea() -> None:
    import typer

    root = typer.main.get_command(app)
    missing, names = [], {}

    def walk(command: object, path: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")
        for param in command.params:  # type: ignore[attr-defined]
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{path} {'/'.join(param.opts)}")
            for opt in param.opts:
                names.setdefault(opt, set()).add(path)

    walk(root, "copilot")
    assert not missing, missing
    # the names unified across commands (old spellings still work, hidden)
    assert names["--motion-osc"] >= {"copilot run", "copilot motion listen", "copilot motion record"}
    assert "--osc" not in {o for o, where in names.items() if where & {"copilot motion listen"}}
    assert names["--link-wait"] >= {"copilot doctor", "copilot link status"}
    assert names["--midi-api"] >= {"copilot run", "copilot ports"}
    assert names["--duration"] >= {"copilot run", "copilot motion listen", "copilot motion record"}
    assert "--api" not in names and "--wait" not in names
    assert names["--create"] == {"copilot mappings install"}
    assert names["--out-deck"] == {"copilot db transition"} and "copilot db transition" not in names["--out"]
    assert names["--parents"] == {"copilot run", "copilot transitions plot", "copilot transitions learn",
                                  "copilot motion record"}


def test_old_flag_names_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "db", "transition", "bass_swap", "--out", "B", "--in", "A", "--json")
    assert code == 0 and {e["deck"] for e in json.loads(out) if e["deck"]} == {"A", "B"}
    assert next(e for e in json.loads(out) if e["param"] == "eq_low")["deck"] == "A"  # A comes in: bass killed
    code, _, err = run_main(capsys, "ports", "--api", "bogus")
    assert code == 2 and "--midi-api 'bogus'" in err
    code, _, err = run_main(capsys, "link", "status", "--wait", "-1")
    assert code == 2 and "--link-wait -1" in err


def test_shell_completion_can_be_installed() -> None:
    done = copilot("--show-completion", "bash")
    assert done.returncode == 0 and "_copilot_completion" in done.stdout and "complete " in done.stdout
    assert "--install-completion" in copilot("--help").stdout
    env = dict(os.environ, _COPILOT_COMPLETE="complete_bash", COMP_WORDS="copilot ma", COMP_CWORD="1")
    done = subprocess.run([sys.executable, "-m", "copilot"], capture_output=True, text=True, env=env, timeout=60)
    assert "mappings" in done.stdout
