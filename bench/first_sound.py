"""The first five minutes, timed from outside: set-up, and launch → the first sound in the fallback WAV.

    python bench/first_sound.py [--warm-runs 3] [--baseline main] [--fresh-clone] [--mix-minutes 10]

What a new user on a machine with no host and no sound device meets after the README's `make run`:

- **set-up**: `scripts/bootstrap` on this checkout's existing virtualenv (median of 3); with
  `--fresh-clone`, once more in a fresh `git clone` of HEAD (new virtualenv, every package installed,
  every numba kernel compiled): the fresh-machine figure.
- **launch → first non-silent sample** of the WAV `copilot run` writes when there is no sound device
  (found by reading the growing file every 20 ms; the fallback renders in step with the clock):
  - *cold*: numba's cache freshly written by set-up's `copilot warm-up` in an empty `NUMBA_CACHE_DIR`,
    and no example crate yet (an empty cache folder): the first `copilot run` after set-up;
  - *warm*: the same again (both caches now full), `--warm-runs` times;
  - *no set-up*: an empty numba cache and nothing compiled beforehand (what set-up saves);
  - *baseline*: `--baseline REF` (default main) cloned and run the same way, warm: the code before.
  Goal: cold ≤ 30 s.
- **the mix**: `copilot run --out mix.wav --duration 600` of the example crate with default settings
  (key-lock on): render time and the longest silent stretch after the first sound (goal ≤ 2 s).

Figures go in docs/benchmarks.md by hand, with the machine, the date and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SR = 48000
FLOOR = 1e-4  # full scale: anything above is sound (−80 dBFS)


def env_for(home: Path, numba_cache: Path | None, pythonpath: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_STATE_HOME", "state")):
        env[var] = str(home / sub)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def no_device_config(home: Path) -> Path:
    """Force the fallback even on a machine with a sound card: the WAV is what is measured."""
    path = home / "copilot.toml"
    path.write_text('[targets.standalone]\ndevice = "copilot-no-such-device"\n')
    return path


def _data_start(data: bytes) -> int | None:
    at = data.find(b"data")
    return None if at < 0 else at + 8


def first_sound_in(path: Path, since: float, deadline: float, proc: subprocess.Popen[bytes]) -> float | None:
    """Seconds from `since` to the moment a non-silent 24-bit sample is in the file (None: never)."""
    offset = None
    checked = 0
    threshold = int(FLOOR * 2**23)
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            with open(path, "rb") as fh:
                data = fh.read()
            offset = offset or _data_start(data)
            if offset is not None:
                usable = (len(data) - offset) // 6 * 6
                if usable > checked:
                    chunk = np.frombuffer(data[offset + checked: offset + usable], np.uint8).reshape(-1, 3)
                    values = (chunk[:, 0].astype(np.int32) | chunk[:, 1].astype(np.int32) << 8
                              | chunk[:, 2].astype(np.int32) << 16)
                    values = np.where(values >= 1 << 23, values - (1 << 24), values)
                    if np.any(np.abs(values) > threshold):
                        return time.monotonic() - since
                    checked = usable
        time.sleep(0.02)
    return None


def launch(cmd: list[str], env: dict[str, str], cwd: Path, wav_glob: str, timeout: float) -> dict[str, object]:
    """Start `copilot run`, wait for its WAV's first sound, stop it as Ctrl-C would."""
    before = set(cwd.glob(wav_glob))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    wav = None
    deadline = t0 + timeout
    while wav is None and time.monotonic() < deadline and proc.poll() is None:
        fresh = [p for p in cwd.glob(wav_glob) if p not in before]
        wav = fresh[0] if fresh else None
        time.sleep(0.02)
    first = first_sound_in(wav, t0, deadline, proc) if wav is not None else None
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    text = out.decode(errors="replace")
    return {"first_sound_s": None if first is None else round(first, 2), "exit": proc.returncode,
            "wav": str(wav) if wav else None, "tail": text.strip().splitlines()[-3:]}


def copilot_run(home: Path, numba_cache: Path | None, timeout: float = 600.0) -> dict[str, object]:
    cmd = [str(ROOT / ".venv/bin/copilot"), "run", "--config", str(no_device_config(home))]
    return launch(cmd, env_for(home, numba_cache), home,
                  "data/copilot/recordings/*.wav", timeout)


def warm_up(numba_cache: Path, home: Path) -> float:
    t0 = time.monotonic()
    subprocess.run([str(ROOT / ".venv/bin/copilot"), "warm-up", "--quiet"], env=env_for(home, numba_cache),
                   check=True, capture_output=True)
    return time.monotonic() - t0


def baseline(ref: str, work: Path, runs: int) -> dict[str, object]:
    """`ref` (the code before) cloned beside, kernels compiled, example crate written, then timed warm."""
    clone = work / "baseline" / "copilot"  # the folder is the package: PYTHONPATH=its parent
    subprocess.run(["git", "clone", "-q", "--branch", ref, str(ROOT), str(clone)], check=True)
    home = work / "baseline-home"
    home.mkdir()
    cache = work / "baseline-numba"
    env = env_for(home, cache, clone.parent)
    py = str(ROOT / ".venv/bin/python")
    t0 = time.monotonic()
    subprocess.run([py, "-c", "from copilot.engine.stream import warm_up; warm_up()"], env=env, check=True)
    compile_s = time.monotonic() - t0
    results = []
    for _ in range(runs + 1):  # the first writes its example crate
        for old in home.glob("copilot-mix*.wav"):
            old.unlink()
        cmd = [py, "-m", "copilot", "run", "--config", str(no_device_config(home))]
        results.append(launch(cmd, env, home, "copilot-mix.wav", 600.0))
    return {"ref": ref, "kernel_compile_s": round(compile_s, 1), "first_run": results[0], "warm": results[1:]}


def bootstrap_time(repo: Path, env: dict[str, str] | None = None) -> float:
    t0 = time.monotonic()
    subprocess.run(["./scripts/bootstrap"], cwd=repo, check=True, capture_output=True, env=env)
    return time.monotonic() - t0


def mix_check(work: Path, minutes: float) -> dict[str, object]:
    home = work / "mix-home"
    home.mkdir()
    out = home / "mix.wav"
    t0 = time.monotonic()
    done = subprocess.run([str(ROOT / ".venv/bin/copilot"), "run", "--out", str(out), "--duration",
                           str(minutes * 60), "--osc", ""], env=env_for(home, None), cwd=home,
                          capture_output=True, text=True)
    seconds = time.monotonic() - t0
    import soundfile as sf

    from copilot.tests.fixtures_first import first_sound, longest_silence

    audio, sr = sf.read(out, always_2d=True)
    first = first_sound(audio, FLOOR)
    return {"exit": done.returncode, "render_s": round(seconds, 1), "audio_s": round(len(audio) / sr, 1),
            "first_sound_s": None if first is None else round(first, 2),
            "longest_silence_s": round(longest_silence(audio, first or 0.0, FLOOR), 2),
            "transitions": len(re.findall(r"\[planner\] .* [AB]→[AB] over", done.stdout))}


def summary(values: list[float | None]) -> dict[str, float | None]:
    got = [v for v in values if v is not None]
    if not got:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(got), 2), "max": round(max(got), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warm-runs", type=int, default=3)
    ap.add_argument("--baseline", default="main", help="git ref to compare with ('' = none)")
    ap.add_argument("--fresh-clone", action="store_true", help="also time set-up in a fresh clone (minutes)")
    ap.add_argument("--no-setup-run", action="store_true", help="skip the run with nothing compiled (minutes)")
    ap.add_argument("--mix-minutes", type=float, default=10.0, help="0 = skip the mix check")
    args = ap.parse_args()
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_before": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M")}
    work = Path(tempfile.mkdtemp(prefix="copilot-first-sound-"))
    try:
        report["setup_existing_venv_s"] = summary([bootstrap_time(ROOT) for _ in range(3)])
        numba = work / "numba"
        home = work / "home"
        home.mkdir()
        report["setup_compile_s"] = round(warm_up(numba, home), 1)
        cold = copilot_run(home, numba)
        warm = [copilot_run(home, numba) for _ in range(args.warm_runs)]
        report["cold"] = cold
        report["warm"] = summary([w["first_sound_s"] for w in warm])  # type: ignore[misc]
        report["warm_runs"] = warm
        if not args.no_setup_run:
            bare = work / "bare-home"
            bare.mkdir()
            report["no_setup"] = copilot_run(bare, work / "numba-empty")
        if args.baseline:
            report["baseline"] = baseline(args.baseline, work, args.warm_runs)
        if args.mix_minutes > 0:
            report["mix"] = mix_check(work, args.mix_minutes)
        if args.fresh_clone:
            clone = work / "fresh" / "copilot"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            env = dict(os.environ)
            env.pop("VIRTUAL_ENV", None)
            report["setup_fresh_clone_s"] = round(bootstrap_time(clone, env), 1)
        report["load_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=1, default=str))
    cold_s = report["cold"]["first_sound_s"]  # type: ignore[index]
    met = "met" if cold_s is not None and cold_s <= 30 else "NOT met"
    print(f"\ncold first sound: {cold_s} s (goal ≤ 30 s): {met}", file=sys.stderr)


if __name__ == "__main__":
    main()
