"""The checks behind `copilot doctor`: the spine's own, plus every plugin's `copilot_doctor` hook."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from .config import Config, ConfigError, default_path
from .host import Check, TargetHost


def check_config(path: Path | None) -> tuple[Config, Check]:
    try:
        config = Config.load(path)
    except ConfigError as exc:
        return Config(), Check("config", False, str(exc), "fix the file, or move it away to use defaults")
    where = str(config.path) if config.path else f"defaults (no {default_path()})"
    return config, Check("config", True, where)


def check_midi(config: Config) -> list[Check]:
    from .jack_server import jack_running
    from .ports import MidiUnavailable, VirtualOut, pick_api

    checks = []
    try:
        choice = pick_api(config.section("ports").get("api", "auto"))
    except MidiUnavailable as exc:
        return [Check("MIDI API", False, str(exc), "start JACK (jackd -d dummy) or load snd-seq")]
    checks.append(Check("MIDI API", True, f"{choice.name} ({choice.why})"))
    if choice.name != "jack" and jack_running():
        checks.append(Check("JACK", True, "a JACK server is also running"))
    try:
        port = VirtualOut("Copilot Doctor", choice, client="copilot-doctor")
        port.close()
        checks.append(Check("virtual ports", True, "copilot can create 'Copilot Out' and 'Copilot In'"))
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, whatever it is
        checks.append(Check("virtual ports", False, f"cannot create a virtual port: {exc}",
                            "on Windows create loopMIDI ports named 'Copilot Out' and 'Copilot In'"))
    return checks


def check_link(wait: float) -> Check:
    try:
        from .link import LinkClock

        clock = LinkClock()
        clock.wait_enabled()
        time.sleep(max(0.0, wait))
        peers, tempo = clock.peers, clock.tempo
        clock.close()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, whatever it is
        return Check("Ableton Link", False, f"cannot join Link: {exc}", "pip install aalink")
    if peers:
        return Check("Ableton Link", True, f"{peers} peer(s) at {tempo:.2f} BPM")
    return Check("Ableton Link", True, "working; no peers right now (copilot keeps its own tempo)")


def check_audio() -> Check:
    try:
        import sounddevice as sd

        with contextlib.suppress(Exception):  # re-scan: a JACK server may have started since import
            sd._terminate()  # (raises when something terminated it already; initialise all the same)
        with contextlib.suppress(Exception):
            sd._initialize()
        outputs = [d for d in sd.query_devices() if d["max_output_channels"] > 0]
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, whatever it is
        return Check("audio output", False, f"PortAudio unavailable: {exc}", "install libportaudio2")
    if not outputs:
        return Check("audio output", False, "no audio output device; `copilot run` renders to a WAV instead",
                     "connect a sound card or start JACK")
    names = ", ".join(d["name"] for d in outputs[:3])
    return Check("audio output", True, f"{len(outputs)} device(s): {names}")


def run_checks(config_path: Path | None = None, link_wait: float = 1.0) -> list[Check]:
    config, config_check = check_config(config_path)
    try:  # every key against its rule, as `copilot run` would before it starts
        config.check(TargetHost().settings_schema())
        host = TargetHost(config.targets(), settings=config.data)
    except ConfigError as exc:
        config_check = Check("config", False, str(exc), "fix that setting; the checks below use the defaults")
        config = Config()
        host = TargetHost({}, settings={})
    checks = [config_check, *check_midi(config), check_link(link_wait), check_audio()]
    checks.append(Check("targets", bool(host.names()), ", ".join(host.names()) or "none installed"))
    checks += host.doctor()
    return checks
