"""`copilot link`: the Ableton Link session as copilot sees it."""

from __future__ import annotations

import json
import time

import typer

from copilot.bridge.settings import Num

app = typer.Typer(help="Ableton Link: peers, tempo, phase.", no_args_is_help=True)


@app.command("status")
def status(
    wait: float = typer.Option(1.0, "--link-wait", help="Seconds to listen for peers before answering."),
    old_wait: float | None = typer.Option(None, "--wait", hidden=True),  # the earlier name of --link-wait
    quantum: float | None = typer.Option(None, help="Beats per bar for the phase ([run] quantum; default 4)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Join the Link session for a moment (never changing its tempo) and report what is there."""
    from copilot.bridge.config import RUN
    from copilot.bridge.link import LinkClock, LinkUnavailable
    from copilot.bridge.settings import SettingError, check_flag

    from .common import fail, load_config

    if old_wait is not None:
        wait = old_wait
    try:
        if quantum is not None:
            check_flag("--quantum", quantum, RUN.fields["quantum"])
        check_flag("--link-wait", wait, Num(0.0, 30.0, "s"))
    except SettingError as exc:
        fail(str(exc))
    if quantum is None:
        quantum = float(load_config()[0].section("run").get("quantum", 4.0))

    try:
        clock = LinkClock(quantum=quantum)
        clock.wait_enabled()
        time.sleep(max(0.0, wait))
        info = {
            "enabled": clock.enabled,
            "peers": clock.peers,
            "tempo": round(clock.tempo, 3),
            "beat": round(clock.beat, 4),
            "phase": round(clock.phase(), 4),
            "quantum": quantum,
        }
        clock.close()
    except LinkUnavailable as exc:
        info = {"enabled": False, "peers": 0, "error": str(exc)}
    if as_json:
        typer.echo(json.dumps(info))
    else:
        if not info.get("enabled"):
            typer.echo(f"Link: off — {info.get('error')}")
            raise typer.Exit(1)
        typer.echo(f"Link: {info['peers']} peer(s), {info['tempo']} BPM, beat {info['beat']}, "
                   f"phase {info['phase']}/{quantum:g}")
