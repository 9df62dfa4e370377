"""`copilot link`: the Ableton Link session as copilot sees it."""

from __future__ import annotations

import json
import time

import typer

app = typer.Typer(help="Ableton Link: peers, tempo, phase.", no_args_is_help=True)


@app.command("status")
def status(
    wait: float = typer.Option(1.0, help="Seconds to listen for peers before answering."),
    quantum: float = typer.Option(4.0, help="Beats per bar for the phase."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Join the Link session for a moment (never changing its tempo) and report what is there."""
    from copilot.bridge.link import LinkClock, LinkUnavailable

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
