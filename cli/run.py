"""`copilot run`: the main job — play a set beside the host (or alone on the built-in engine)."""

from __future__ import annotations

from pathlib import Path

import typer


def command(
    target: str = typer.Option("auto", "--target", "-t", help="Target name(s), comma-separated, or auto."),
    script: Path | None = typer.Option(None, help="Script: one '<seconds> <command>' per line."),
    duration: float | None = typer.Option(None, help="Stop after this many seconds (default: until Ctrl-C)."),
    no_link: bool = typer.Option(False, "--no-link", help="Use the internal clock instead of Ableton Link."),
    tempo: float = typer.Option(120.0, help="Tempo in BPM when alone (a running Link session's tempo wins)."),
    quantum: float = typer.Option(4.0, help="Beats per bar (Link quantum)."),
    output_latency: float | None = typer.Option(None, "--output-latency", help="Target output latency, ms."),
    config: Path | None = typer.Option(None, help="copilot.toml to use (default: the user config folder)."),
    log: Path | None = typer.Option(None, help="Session log (JSON Lines); default in the user log folder."),
    out: Path | None = typer.Option(None, help="Render offline to this WAV instead of playing live."),
    crate: Path | None = typer.Option(None, help="Folder of tracks for the built-in engine."),
    adorn: Path | None = typer.Option(None, help="Folder of one-shots the engine plays on the grid."),
    motion_osc: str | None = typer.Option(None, "--motion-osc", help="Listen for motion OSC on [HOST:]PORT."),
    mocopi: int | None = typer.Option(None, help="Listen for Sony mocopi on this UDP port (e.g. 12351)."),
    voice: bool = typer.Option(False, help="Listen for voice commands (hands-free)."),
    autopilot: bool = typer.Option(False, help="Let the planner play a set on any target (it yields to you)."),
    osc: str = typer.Option("127.0.0.1:9100", help="Intents over OSC on [HOST:]PORT ('' = off)."),
    allow: list[str] = typer.Option([], help="LAN address allowed to send OSC intents (repeatable)."),
    db: Path | None = typer.Option(None, help="Phrase database to resolve LOAD queries."),
    midi_api: str = typer.Option("auto", "--midi-api", help="MIDI API: auto, jack, alsa, coremidi, winmm."),
    auto_wait: float = typer.Option(1.0, "--auto-wait", help="Seconds to look for a host with --target auto."),
) -> None:
    """Run a session: voice, motion, pads and scripts → the safety scheduler → the target(s)."""
    from copilot.bridge.config import Config, ConfigError
    from copilot.bridge.host import UnknownTarget
    from copilot.bridge.progress import busy
    from copilot.bridge.session import Session, SessionError, SessionOptions, default_log_path
    from copilot.intents.script import ScriptError

    options = SessionOptions(
        target=target, script=script, duration=duration, link=not no_link, tempo=tempo, quantum=quantum,
        output_latency_ms=output_latency, out=out, crate=crate, adorn=adorn, motion_osc=motion_osc,
        mocopi=mocopi, voice=voice, autopilot=autopilot, osc=osc or None, allow=list(allow), db=db,
        log=log or default_log_path(), midi_api=midi_api, auto_wait=auto_wait,
    )
    try:
        with busy("loading copilot's targets and inputs"):
            session = Session(options, Config.load(config))
    except (ScriptError, ConfigError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        session.run()
    except UnknownTarget as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except SessionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    stats = session.dispatcher.stats.summary()
    if stats.get("count"):
        typer.echo(f"sent {stats['count']} messages; lateness p50 {stats['p50_ms']:.3f} ms, "
                   f"p99 {stats['p99_ms']:.3f} ms, max {stats['max_ms']:.3f} ms; log: {options.log}")
    if session.exit_status:  # the set could not go on (e.g. nothing in the crate can play): said above
        raise typer.Exit(session.exit_status)
