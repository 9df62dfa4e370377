"""Real parts for the stage-view tests and bench/view.py: a live session serving the view, Debian's Chromium.

The browser is Debian's `chromium` driven by its `chromium-driver` through selenium (installed by
scripts/bootstrap; nothing is downloaded at run time). Sessions here are real: the midi-monitor target on
whatever MIDI system runs (the JACK dummy server in the tests), the internal clock, the view's own process.
"""

from __future__ import annotations

import json
import shutil
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
