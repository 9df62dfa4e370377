"""Set-up compiles every numba kernel, so the first `copilot run` never waits for the compiler (on a fresh
machine the engine's kernels alone took over a minute before the first sound)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

from copilot.tests.fixtures_first import config, home, track

PACKAGES = ("engine", "motion", "voice", "phrase_db", "bridge", "plugins")


def _numba_kernels() -> list[tuple[str, object]]:
    """Every @njit / @cfunc object defined in copilot (inline-only helpers are compiled into their callers)."""
    from numba.core.ccallback import CFunc
    from numba.core.registry import CPUDispatcher

    found = []
    for package in PACKAGES:
        pkg = importlib.import_module(f"copilot.{package}")
        for info in pkgutil.iter_modules(pkg.__path__, f"copilot.{package}."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if isinstance(value, CPUDispatcher | CFunc) and getattr(value, "__module__", info.name) == info.name:
                    if isinstance(value, CPUDispatcher) and value.targetoptions.get("inline") == "always":
                        continue
                    found.append((f"{info.name}.{name}", value))
    from copilot.voice.capture import capture_callback  # built inside a function (its ring layout)

    found.append(("copilot.voice.capture.capture_callback", capture_callback()))
    return found


def test_warm_up_compiles_every_kernel_copilot_has() -> None:
    from copilot.cli.warm import kernels

    for _what, compile_it in kernels():
        compile_it()
    kernels_found = _numba_kernels()
    assert len(kernels_found) >= 20
    # compiled here, or (a callee of a kernel loaded from the cache) in numba's cache for these sources
    cold = [name for name, k in kernels_found
            if not (getattr(k, "signatures", None) or k._cache._cache_file._load_index())]
    assert not cold, f"not compiled by `copilot warm-up`: {cold}"


PROBE = """
import json, sys
from numba.core import event
compiled = []
class Listener(event.Listener):
    def on_start(self, ev):
        compiled.append(getattr(ev.data.get("dispatcher"), "__qualname__", "?"))
    def on_end(self, ev):
        pass
event.register("numba:compile", Listener())
from copilot.cli.main import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    from copilot.engine.stream import audio_callback
    print("PROBE " + json.dumps({"compiled": compiled, "callback_from_cache": audio_callback.cache_hits}))
"""


def test_the_first_run_after_set_up_compiles_nothing(tmp_path: Path) -> None:
    env = home(tmp_path)
    setup = subprocess.run([sys.executable, "-m", "copilot", "warm-up", "--quiet"], capture_output=True, text=True,
                           timeout=900, env=env)
    assert setup.returncode == 0, setup.stderr
    track(tmp_path / "crate", "one", seconds=20.0)
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "run", "--target", "standalone", "--no-link", "--osc", "", "--duration", "3",
         "--crate", str(tmp_path / "crate"), "--config", str(config(tmp_path)), "--log", str(tmp_path / "l.jsonl")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    probe = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("PROBE "))[6:])
    assert probe["compiled"] == [], probe  # every kernel came from the cache
    assert probe["callback_from_cache"] == 1, probe
