"""Real parts for the stage-view tests and bench/view.py: a live session serving the view, Debian's Chromium.

The browser is Debian's `chromium` driven by its `chromium-driver` through selenium (installed by
scripts/bootstrap; nothing is downloaded at run time). Sessions here are real: the midi-monitor target on
whatever MIDI system runs (the JACK dummy server in the tests), the internal clock, the view's own process.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.plugins import midi_monitor
from copilot.view import plugin as view_plugin
from copilot.view.plugin import StageView

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def stage_session(tempo: float = 120.0, view: str = "127.0.0.1:0", report: Callable[[str], None] | None = None,
                  log: Path | None = None, plugins: Sequence[Any] = (), **kw: Any) -> tuple[Session, StageView]:
    """A started live session with the stage view on an ephemeral loopback port (and other `plugins`' inputs)."""
    options = SessionOptions(target="midi-monitor", link=False, tempo=tempo, osc=None, view=view, log=log, **kw)
    host = TargetHost(plugins=[midi_monitor, view_plugin, *plugins], entry_points=False)
    session = Session(options, Config(), host=host, report=report or (lambda _m: None))
    session.start()
    stage = next((i for i in session.inputs if isinstance(i, StageView)), None)
    if stage is None:
        session.stop()
        raise RuntimeError("the stage view did not start")
    wait_for_state(stage)
    return session, stage


def base_url(stage: StageView) -> str:
    return f"http://127.0.0.1:{stage.port}/"


def wait_for_state(stage: StageView, timeout: float = 15.0) -> dict[str, Any]:
    """Until the view's process answers GET /state with a clock sample."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base_url(stage) + "state", timeout=2) as r:
                data = json.load(r)
            if "beat" in data:
                return data
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"the stage view did not answer: {last}")


def chrome(width: int = 1280, height: int = 1600, scale: float = 1.0) -> Any:
    """Headless Debian Chromium through chromedriver (skips when either is missing)."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Debian's chromium and chromium-driver are not installed; scripts/bootstrap installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", f"--force-device-scale-factor={scale}",
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_js(driver: Any, script: str, timeout: float = 10.0, what: str = "") -> Any:
    """Poll `return <script>` in the page until it is truthy; the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script("return " + script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or script}")
        time.sleep(0.02)


# -- a set in processes of its own (its own JACK server: libjack stays out of the test's process) -----------
class Lines:
    """A child process's standard output, read on a thread so its pipe never fills."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.queue.put(line.rstrip("\n"))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if predicate(line):
                return line
        raise AssertionError("never printed what was awaited; it printed:\n" + "\n".join(self.seen[-30:]))

    def drain(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out


def stop_child(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class LiveSet:
    """`copilot run --target midi-monitor --view 127.0.0.1:0` in a process of its own, driven over HTTP."""

    def __init__(self, env: dict[str, str], folder: Path, tempo: float, *args: str) -> None:
        config = folder / "copilot.toml"
        config.write_text("")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "copilot", "run", "--target", "midi-monitor", "--no-link", "--osc", "",
             "--midi-api", "jack", "--tempo", str(tempo), "--config", str(config), "--log", str(folder / "log.jsonl"),
             "--view", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # a refusal shows in a failure
        self.lines = Lines(self.proc)
        self.url = self.lines.wait_for(lambda line: line.startswith("stage view: http://")).split()[2]
        self.token = self.url.split("token=", 1)[1]
        self.base = self.url.split("?", 1)[0]
        deadline = time.monotonic() + 15
        while "beat" not in self.state() and time.monotonic() < deadline:
            time.sleep(0.05)

    def state(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.base + "state", timeout=5) as r:
                return json.load(r)
        except (OSError, ValueError):
            return {}

    def clock(self) -> Callable[[float], float]:
        """The session's beat at any host time (one clock sample and the tempo: the grid is a line)."""
        s = self.state()
        return lambda at: s["beat"] + (at - s["t"]) * s["tempo"] / 60.0

    def beat(self) -> float:
        from copilot.bridge.clock import host_time

        return self.clock()(host_time())

    def post(self, path: str, body: Any = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if isinstance(body, dict) else (body or "").encode()
        kind = "application/json" if isinstance(body, dict) else "text/plain"
        request = urllib.request.Request(self.base + path.lstrip("/"), data=data, method="POST",
                                         headers={"X-Copilot-Token": self.token, "Content-Type": kind})
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.load(r)

    def close(self) -> int | None:
        return stop_child(self.proc)


class Wire:
    """What arrives on a JACK port, heard by `copilot.tests.midi_probe` in a process of its own."""

    def __init__(self, env: dict[str, str], port: str = "Copilot Out") -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "copilot.tests.midi_probe", port,
                                      f"copilot-view-wire-{time.monotonic_ns() % 100000}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.lines = Lines(self.proc)
        self.lines.wait_for(lambda line: line == "ready")

    def messages(self, settle: float = 0.5) -> list[tuple[float, bytes]]:
        time.sleep(settle)
        out = []
        for line in self.lines.drain():
            at, data = line.split()
            out.append((float(at), bytes.fromhex(data)))
        return out

    def close(self) -> None:
        stop_child(self.proc)
