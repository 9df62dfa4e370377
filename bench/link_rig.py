"""The rig the Link benches share: a JACK dummy server, a private network namespace, Debian's LinkHut.

Not a bench itself; `python bench/link_phase.py` and `python bench/link_join.py` use it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pytest


@dataclass
class Rig:
    jack: Any
    ns: Any
    hut: Any


@contextlib.contextmanager
def rig(tag: str) -> Iterator[Rig]:
    """JACK + namespace + LinkHut (Link on); everything torn down on the way out."""
    from copilot.tests.fixtures import make_netns, remove_netns, start_jack, stop_jack
    from copilot.tests.fixtures_live import LinkHut

    # Without this, start_jack's readiness probe (jack_lsp) auto-starts a second server of the same name
    # when the real one is slow to come up, and the real one then fails with "server already active".
    os.environ["JACK_NO_START_SERVER"] = "1"
    jack = None
    for attempt in range(5):  # a busy machine (other suites' servers) can refuse a name for a while
        try:
            jack = start_jack(f"copilot-bench-{tag}-{os.getpid()}-{attempt}", timeout=30)
            break
        except (RuntimeError, OSError) as exc:
            why = exc
            time.sleep(5.0)
        except pytest.skip.Exception as exc:  # a skip outside pytest: say why and stop
            sys.exit(f"cannot start a JACK dummy server: {exc}")
    if jack is None:
        sys.exit(f"cannot start a JACK dummy server: {why}")
    os.environ["JACK_DEFAULT_SERVER"] = jack.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        try:
            ns = make_netns()
        except (subprocess.CalledProcessError, OSError, pytest.skip.Exception) as exc:
            sys.exit(f"cannot make a network namespace (run as root with iproute2): {exc}")
        try:
            hut = LinkHut(ns, jack)
            try:
                hut.keys("a")
                hut.wait(lambda r: r.enabled)
                yield Rig(jack, ns, hut)
            finally:
                hut.close()
        finally:
            remove_netns(ns)
    finally:
        stop_jack(jack)


def stats(values: list[float] | np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "median": float(np.median(v)), "p99": float(np.percentile(v, 99)),
            "max": float(v.max())}


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}, {date.today()}"
