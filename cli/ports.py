"""`copilot ports`: the MIDI system and the ports copilot would use."""

from __future__ import annotations

import typer


def command(
    api: str | None = typer.Option(None, "--midi-api", help="MIDI API: auto, jack, alsa, coremidi, winmm "
                                   "([ports] api; default auto)."),
    old_api: str | None = typer.Option(None, "--api", hidden=True),  # the earlier name of --midi-api
) -> None:
    """List MIDI inputs and outputs visible on this machine, and which API copilot picks."""
    import rtmidi

    from copilot.bridge.config import MIDI_API
    from copilot.bridge.ports import MidiUnavailable, pick_api
    from copilot.bridge.settings import SettingError, check_flag

    from .common import fail, load_config

    api = api or old_api
    if api is None:
        api = str(load_config()[0].section("ports").get("api", "auto"))
    try:
        check_flag("--midi-api", api, MIDI_API)
    except SettingError as exc:
        fail(str(exc))

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
