"""`copilot voice`: Speech to intents: transcribe files, listen live."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

app = typer.Typer(help="Speech to intents: transcribe files, listen live.", no_args_is_help=True)

MODEL_HELP = "Whisper model: tiny.en (bundled), a CTranslate2 model folder, or a size already on disk."


@app.command("transcribe")
def transcribe_command(
    file: str = typer.Argument(..., help="A WAV/FLAC/OGG file holding one spoken command."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: text, intent, confidence, latency_ms."),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    aliases: str = typer.Option(None, "--aliases", help="Alias TOML file (default: the copilot config folder)."),
    window: float = typer.Option(10.0, "--window", help="Encoder window in seconds (6–30; shorter is faster)."),
) -> None:
    """Transcribe one recorded command and show the intent it means (exit code 1 if none)."""
    from copilot.intents.aliases import AliasError, load_aliases
    from copilot.voice.asr import ModelMissing, Transcriber
    from copilot.voice.capture import read_wav, to_16k
    from copilot.voice.understand import understand

    from .paths import PathProblem, existing_file

    try:
        existing_file(file, "audio file")  # missing, a folder, unreadable: said as such, not "System error"
        audio, rate = read_wav(file)
        table = load_aliases(aliases)
        transcriber = Transcriber(model, window_s=window)
    except (PathProblem, ValueError, ModelMissing, AliasError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    transcriber.warm_up()
    t0 = time.perf_counter()
    transcript = transcriber.transcribe(to_16k(audio, rate))
    result = understand(transcript, table)
    latency = time.perf_counter() - t0
    if as_json:
        out: dict[str, Any] = result.to_dict()
        out.update(text=transcript.text, latency_ms=round(latency * 1000, 1))
        typer.echo(json.dumps(out))
    elif result.intent is None:
        typer.echo(f"heard '{transcript.text}': not a command ({result.reason})")
    else:
        typer.echo(f"heard '{transcript.text}' → {result.intent.kind.value}: {result.intent.describe()} "
                   f"({result.confidence:.0%}, {latency * 1000:.0f} ms)")
    if result.intent is None:
        raise typer.Exit(1)


@app.command("devices")
def devices_command() -> None:
    """List audio input devices (index, name, channels, rate)."""
    from copilot.voice.capture import input_devices

    found = input_devices()
    if not found:
        typer.echo("no audio input device (plug in a microphone, or start JACK/PipeWire)")
        raise typer.Exit(1)
    for d in found:
        typer.echo(f"{d['index']:3d}  {d['name']}  ({d['max_input_channels']} in, {d['default_samplerate']:g} Hz)")


@app.command("listen")
def listen_command(
    device: str = typer.Option(None, "--device", help="Input device: index or part of its name."),
    channel: int = typer.Option(1, "--channel", help="Input channel (1-based)."),
    push_to_talk: bool = typer.Option(False, "--push-to-talk", help="Talk only while Enter toggles it on."),
    file: str = typer.Option(None, "--file", help="Listen to a recording instead of a microphone."),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    aliases: str = typer.Option(None, "--aliases", help="Alias TOML file."),
    tempo: float = typer.Option(120.0, "--tempo", help="Tempo of the scheduler's own clock."),
    duration: float = typer.Option(0.0, "--duration", min=0.0,
                                   help="Stop after this many seconds (0 = until Ctrl-C / the end of the file)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line per utterance."),
    tone: bool = typer.Option(False, "--tone", help="Ring the terminal bell when a yes is needed."),
) -> None:
    """Capture → ASR → parser → safety scheduler, live: each decision is printed; nothing reaches a host
    (use `copilot run --voice` for that)."""
    from copilot.bridge.clock import InternalClock
    from copilot.bridge.scheduler import SafetyScheduler
    from copilot.plugins.voice_input import VoiceInput, VoiceSettings
    from copilot.voice.asr import ModelMissing

    from .paths import PathProblem, existing_file

    try:
        if file is not None:  # missing, a folder, unreadable: said as such, not libsndfile's "System error"
            existing_file(file, "audio file")
    except PathProblem as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = VoiceSettings(model=model, device=device, channel=channel, aliases=aliases,
                             mode="push-to-talk" if push_to_talk else "hands-free", file=file, confirm_tone=tone)
    session = _DryRunSession(InternalClock(tempo=tempo), as_json)
    session.scheduler = SafetyScheduler(session.clock)
    voice = VoiceInput(settings)
    session.voice = voice
    try:
        voice.start(session)
    except (ValueError, ModelMissing, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except Exception as exc:  # PortAudio errors have their own class
        typer.echo(f"error: cannot open the input ({exc})", err=True)
        raise typer.Exit(2) from exc
    try:
        _run(voice, push_to_talk, duration, file is not None)
    except KeyboardInterrupt:
        pass
    finally:
        voice.stop()
        status = voice.status()
        typer.echo(json.dumps(status) if as_json else summary(status))


@app.command("enroll")
def enroll_command(
    file: str = typer.Option(None, "--file", help="A recording of the prompts said in order, a pause after each "
                             "(instead of the microphone)."),
    device: str = typer.Option(None, "--device", help="Input device: index or part of its name."),
    channel: int = typer.Option(1, "--channel", help="Input channel (1-based)."),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    aliases: str = typer.Option(None, "--aliases", help="Alias TOML file to add to (default: the config folder)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be learned; write nothing."),
    prompts: bool = typer.Option(False, "--prompts", help="Print the prompts, one per line, and stop."),
) -> None:
    """Say each prompt once: where Whisper hears your voice as other words, those words become your
    aliases (your own aliases in the file are kept and win)."""
    from copilot.intents.aliases import AliasError, aliases_path, load_aliases
    from copilot.voice import enroll
    from copilot.voice.asr import ModelMissing, Transcriber
    from copilot.voice.capture import read_wav, to_16k

    from .paths import PathProblem, existing_file

    if prompts:
        typer.echo("\n".join(enroll.PROMPTS))
        return
    try:
        target = aliases_path(aliases)
        existing = load_aliases(aliases)  # a broken file is said, never overwritten
        audio = None
        if file is not None:
            existing_file(file, "audio file")
            audio = to_16k(*read_wav(file))
        transcriber = Transcriber(model)
    except (PathProblem, ValueError, ModelMissing, AliasError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    transcriber.warm_up()
    try:
        heard = enroll.recorded(transcriber, audio) if audio is not None else _say_each(transcriber, device, channel)
    except KeyboardInterrupt:
        typer.echo("enrolment stopped; nothing written")
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - no microphone, a bad device: PortAudio errors have their own class
        typer.echo(f"error: cannot open the input ({exc})", err=True)
        raise typer.Exit(2) from None
    if len(heard) != len(enroll.PROMPTS):
        typer.echo(f"error: heard {len(heard)} utterances for {len(enroll.PROMPTS)} prompts; say each prompt once "
                   "with a pause after it (`copilot voice enroll --prompts` lists them)", err=True)
        raise typer.Exit(2)
    learned = enroll.learn(zip(enroll.PROMPTS, heard, strict=True))
    for prompt, text in zip(enroll.PROMPTS, heard, strict=True):
        typer.echo(f"  said '{prompt}', heard '{text}'")
    for words, meaning in learned.items():
        typer.echo(f"learned: '{words}' → '{meaning}'")
    if not learned:
        typer.echo("nothing to learn: Whisper hears you as you speak")
        return
    if dry_run:
        typer.echo(f"(dry run: {target} not written)")
        return
    try:
        _write_aliases(target, enroll.to_toml(enroll.merge(existing, learned), learned))
    except OSError as exc:
        typer.echo(f"error: cannot write {target} ({exc.strerror or exc})", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{len(learned)} aliases written to {target}")


def _say_each(transcriber: Any, device: str | None, channel: int) -> list[str]:
    """Each prompt shown, its utterance heard from the microphone (one more try after 8 s of nothing)."""
    import queue

    from copilot.voice import enroll
    from copilot.voice.capture import MicSource
    from copilot.voice.listener import Listener

    heard: queue.Queue[str] = queue.Queue()
    listener = Listener(transcriber, lambda h: heard.put(h.transcript.text), speculative=False)
    source = MicSource(listener.feed, device=int(device) if device and device.isdigit() else device,
                       channel=channel - 1)
    listener.start()
    source.start()
    out: list[str] = []
    try:
        for n, prompt in enumerate(enroll.PROMPTS, 1):
            for attempt in ("say", "again, say"):
                typer.echo(f"[{n}/{len(enroll.PROMPTS)}] {attempt}: {prompt}")
                try:
                    out.append(heard.get(timeout=8.0))
                    break
                except queue.Empty:
                    continue
            else:
                typer.echo("  (nothing heard; skipped)")
                out.append("")
    finally:
        source.stop()
        listener.stop()
    return out


def _write_aliases(path: Any, text: str) -> None:
    """The old file kept beside as .bak, the new one written whole or not at all."""
    import os
    import shutil
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _run(voice: Any, push_to_talk: bool, seconds: float, from_file: bool) -> None:
    deadline = time.monotonic() + seconds if seconds > 0 else None
    if push_to_talk and not from_file:
        typer.echo("push-to-talk: press Enter to start talking, Enter again to send (Ctrl-C quits)")
        talking = False
        while deadline is None or time.monotonic() < deadline:
            input()
            talking = not talking
            (voice.press if talking else voice.release)()
            typer.echo("… listening" if talking else "… sent")
        return
    finished = getattr(voice.source, "finished", None) if from_file else None
    while deadline is None or time.monotonic() < deadline:
        if finished is None:
            time.sleep(0.05)
        elif finished.wait(0.05):
            voice.listener.wait_idle(30.0)  # the file's last utterance is still being transcribed
            return


def summary(status: dict[str, Any]) -> str:
    """`voice.status()` in words: what was heard, what became a command, how fast."""
    n = int(status.get("utterances", 0))
    parts = [f"{n} utterance{'s' if n != 1 else ''}"]
    counted = [(status.get("intents", 0), "command", "commands"), (status.get("rejected", 0), "not a command",
               "not commands"), (status.get("dropped", 0), "dropped as too late", "dropped as too late"),
               (status.get("errors", 0), "could not be transcribed", "could not be transcribed")]
    said = [f"{k} {one if k == 1 else many}" for k, one, many in counted if k]
    line = "voice: heard " + parts[0] + (f" ({', '.join(said)})" if said else "")
    if "latency_ms_p50" in status:
        line += (f"; from the end of speech to the decision {status['latency_ms_p50']:.0f} ms typically, "
                 f"{status['latency_ms_p95']:.0f} ms at worst (p95)")
    source = status.get("source") or {}
    if "file_seconds" in source:
        line += f"; {source['file_seconds']:g} s of recording"
    elif source.get("dropped_samples"):
        line += f"; {source['dropped_samples']} samples lost (the computer fell behind)"
    return line


class _DryRunSession:
    """A SessionApi with a real scheduler on its own clock, printing what it would do."""

    def __init__(self, clock: Any, as_json: bool) -> None:
        from copilot.bridge.state import HostState

        self.clock = clock
        self.state = HostState()
        self.scheduler: Any = None
        self.voice: Any = None
        self.as_json = as_json

    def submit(self, intent: Any) -> Any:
        decision = self.scheduler.submit(intent)
        if self.as_json:
            heard = self.voice.heard[-1].to_dict() if self.voice and self.voice.heard else {}
            heard.update(verdict=decision.verdict.value, decision=decision.reason)
            typer.echo(json.dumps(heard))
        else:
            mark = {"scheduled": "✓", "done": "✓", "awaiting_confirm": "?"}.get(decision.verdict.value, "✗")
            typer.echo(f"{mark} {decision.reason}")
        return decision

    def move(self, param: str, value: float, deck: Any = None, source: Any = None) -> Any:
        return self.scheduler.move(param, value, deck)

    def report(self, message: str) -> None:
        if not self.as_json:
            typer.echo(message)
