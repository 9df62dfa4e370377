"""On a fresh machine the example crate's first track is written before the set starts and the other
four behind it — in a child process at low priority, so the set's dispatch thread never waits for the
GIL behind the synthesiser, and which goes when `copilot run` goes, even by `kill -9`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from copilot.tests.fixtures_first import alive, children

BUILD = """
import sys, time
from pathlib import Path
from copilot.engine.example_crate import build_first_then_rest
build = build_first_then_rest(Path(sys.argv[1]), report=lambda m: None)
print("FIRST", int(build.paths[0].exists()), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc for the writer process")
def test_the_rest_of_the_crate_is_written_by_a_low_priority_child_that_dies_with_the_set(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-c", BUILD, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["FIRST", "1"]  # written before the set could start
        writers = _writers(proc.pid)
        assert len(writers) == 1, [(c, _status(c)) for c in children(proc.pid)]
        assert os.getpriority(os.PRIO_PROCESS, writers[0]) >= 10 or not alive(writers[0])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(writers[0]):
        time.sleep(0.1)
    left = alive(writers[0])
    if left:
        os.kill(writers[0], signal.SIGKILL)
    assert not left, "the example crate's writer outlived its parent"


def _writers(parent: int, wait: float = 2.0) -> list[int]:
    """The crate writer among `parent`'s children, looked for a moment (a process's cmdline reads empty
    while it is being made, and a busy machine may take a while to get there)."""
    deadline = time.monotonic() + wait
    while True:
        found = [c for c in children(parent) if b"example_crate" in _read(f"/proc/{c}/cmdline")]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _status(pid: int) -> str:
    """A child's state and command line, for the failure message."""
    state = _read(f"/proc/{pid}/stat").decode(errors="replace").rsplit(")", 1)[-1].split()[:1]
    return f"{state} {_read(f'/proc/{pid}/cmdline').replace(bytes(1), b' ').decode(errors='replace')[:120]}"
