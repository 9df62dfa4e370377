"""`copilot ports`: the MIDI system and the ports copilot would use."""

from __future__ import annotations

import typer


def command(
    api: str = typer.Option("auto", help="MIDI API: auto, jack, alsa, coremidi, winmm."),
) -> None:
    """List MIDI inputs and outputs visible on this machine, and which API copilot picks."""
    import rtmidi

    from copilot.bridge.ports import MidiUnavailable, pick_api

    try:
        choice = pick_api(api)
    except MidiUnavailable as exc:
        typer.echo(f"MIDI: unavailable — {exc}")
        raise typer.Exit(1) from None
    typer.echo(f"MIDI API: {choice.name} ({choice.why})")
    outs = rtmidi.MidiOut(choice.api, name="copilot-ports").get_ports()
    ins = rtmidi.MidiIn(choice.api, name="copilot-ports").get_ports()
    typer.echo("outputs (copilot can send to):")
    for port in outs or ["  (none)"]:
        typer.echo(f"  {port}")
    typer.echo("inputs (copilot can listen to):")
    for port in ins or ["  (none)"]:
        typer.echo(f"  {port}")
