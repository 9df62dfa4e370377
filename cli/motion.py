"""`copilot motion`: phones and mocopi → fast/slow states → envelopes. listen, record, replay, calibrate."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from .common import check_flags, load_config

app = typer.Typer(help="Motion sensors to fast/slow states and envelopes.", no_args_is_help=True)

OSC_HELP = "Listen for OSC phones on [HOST:]PORT (default 127.0.0.1:9200). Repeatable."
MOCOPI_HELP = "Listen for Sony mocopi on [HOST:]PORT (mocopi's default is 12351). Repeatable."
ALLOW_HELP = "Sender address or network allowed when listening beyond 127.0.0.1. Repeatable."
LIMB_HELP = "Pin a device to a limb: DEVICE=LIMB or DEVICE=PERFORMER/LIMB (device names as `listen` shows)."


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"copilot motion: {message}", err=True)
    raise typer.Exit(code)


def _take(path: Path, new: bool = False, parents: bool = False) -> Path:
    """A take file named on the command line: one to read must exist, one to write needs its folder."""
    from . import paths

    try:
        return paths.new_file(path, parents, "take") if new else paths.existing_file(path, "take")
    except paths.PathProblem as exc:
        _fail(str(exc))


def _clock(link: bool, tempo: float, quantum: float) -> Any:
    from copilot.bridge.clock import InternalClock

    if link:
        from copilot.bridge.link import LinkClock, LinkUnavailable

        try:
            clock = LinkClock(tempo=tempo, quantum=quantum)
            clock.wait_enabled()
            return clock
        except LinkUnavailable as exc:
            typer.echo(f"Link unavailable ({exc}); using the internal clock", err=True)
    return InternalClock(tempo=tempo, quantum=quantum)


def _settings(osc: list[str] | None, mocopi: list[str] | None, allow: list[str] | None, performer: str | None,
              limb: list[str] | None, profiles: str | None, default_osc: bool = True) -> Any:
    from copilot.motion.settings import MotionSettings
    from copilot.motion.sources import OSC_DEFAULT_PORT

    osc, mocopi, allow = list(osc or []), list(mocopi or []), list(allow or [])
    if not osc and not mocopi and default_osc:
        osc = [str(OSC_DEFAULT_PORT)]
    extra: dict[str, Any] = {"motion_limb": list(limb or [])}
    if performer:
        extra["motion_performer"] = performer
    if profiles:
        extra["motion_profiles"] = profiles
    try:
        return MotionSettings.build({"motion_osc": osc, "mocopi": mocopi, "allow": allow, "extra": extra},
                                    _config_section())
    except ValueError as exc:
        _fail(str(exc))


def _config_section() -> dict[str, Any]:
    """copilot.toml's [motion] table, the whole file checked first (a bad value exits 2 with one line)."""
    return dict(load_config()[0].section("motion") or {})


def _live(*args: Any, **kw: Any) -> Any:
    """A LiveMotion, or a clear message (a LAN bind without an allow-list, an unwritable take …)."""
    from copilot.motion.live import LiveMotion

    try:
        return LiveMotion(*args, **kw)
    except (OSError, ValueError) as exc:
        _fail(str(exc), 1)


def _start(live: Any) -> None:
    try:
        live.start()
    except (OSError, ValueError) as exc:
        _fail(str(exc), 1)
    for x in live.listeners:
        typer.echo(f"listening for {x.source.kind} on {x.bind.host}:{x.port}", err=True)


def _wait(duration: float | None, tick: float = 0.2, every: Any = None) -> None:
    end = None if duration is None else time.monotonic() + duration
    try:
        while end is None or time.monotonic() < end:
            time.sleep(tick if end is None else max(0.0, min(tick, end - time.monotonic())))
            if every is not None:
                every()
    except KeyboardInterrupt:
        pass


ON_THE_BEAT = 0.5  # beat lock above which the movement counts as on the beat


def bar(value: float, cells: int = 8) -> str:
    """0..1 as an energy bar: ▮▮▮▯▯▯▯▯."""
    filled = round(max(0.0, min(1.0, value if value == value else 0.0)) * cells)
    return "▮" * filled + "▯" * (cells - filled)


def _line(state: Any, verbose: bool = False) -> str:
    """A frame in the performer's words: energy, on or off the beat, tension, each limb, what moves;
    with `verbose`, the solver's numbers behind it (ψ, K, headroom, residual)."""
    d = state.to_dict(3)
    beat = "on the beat" if d["lock"] >= ON_THE_BEAT else "off the beat"
    limbs = "  ".join(f"{k.replace('_', ' ')} {bar(v, 5)}" for k, v in d["limbs"].items()) or "no sensors"
    outs = "  ".join(f"{k.replace('_', ' ')} {v:.0%}" for k, v in d["outputs"].items())
    line = (f"{d['performer']}: energy {bar(d['energy'])}  {beat}  tension {bar(d['tension'], 5)} | {limbs}"
            + (f" | {outs}" if outs else ""))
    if verbose:
        line += (f" | E {d['energy']:.2f} ψ {d['psi']:.2f} lock {d['lock']:.2f} φ {d['tension']:.2f} "
                 f"K{d['iterations']} headroom {d['headroom']:.2f} residual {d['residual']:.1e}")
    return line


@app.command("listen")
def listen(
    osc: Annotated[list[str] | None, typer.Option("--motion-osc", help=OSC_HELP)] = None,
    old_osc: Annotated[list[str] | None, typer.Option("--osc", hidden=True)] = None,  # --motion-osc's old name
    mocopi: Annotated[list[str] | None, typer.Option("--mocopi", help=MOCOPI_HELP)] = None,
    allow: Annotated[list[str] | None, typer.Option("--allow", help=ALLOW_HELP)] = None,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per computed frame on stdout."),
    every: int = typer.Option(1, help="With --json, print every Nth frame."),
    duration: float | None = typer.Option(None, help="Stop after this many seconds (default: until Ctrl-C)."),
    tempo: float = typer.Option(120.0, help="Tempo when no Link session sets it."),
    quantum: float = typer.Option(4.0, help="Beats per bar."),
    link: bool = typer.Option(True, "--link/--no-link", help="Lock ψ to the Link session's beat."),
    performer: str | None = typer.Option(None, help="Performer (profile) for devices that do not name one."),
    limb: Annotated[list[str] | None, typer.Option("--limb", help=LIMB_HELP)] = None,
    profiles: str | None = typer.Option(None, help="Folder of calibration profiles."),
    record: Annotated[Path | None, typer.Option(help="Also record everything that arrives to this take file.")] = None,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also the solver's numbers: ψ, K, headroom, residual."),
) -> None:
    """Print how each performer moves — energy, on or off the beat, each limb — as it is computed."""
    check_flags(every=every, duration=duration, tempo=tempo, quantum=quantum)
    settings = _settings([*(osc or []), *(old_osc or [])], mocopi, allow, performer, limb, profiles)
    clock = _clock(link, tempo, quantum)
    count = [0]
    lock = threading.Lock()
    last_line = [0.0]

    def on_state(state: Any) -> None:
        with lock:
            count[0] += 1
            if as_json:
                if count[0] % max(1, every) == 0:
                    sys.stdout.write(json.dumps(state.to_dict()) + "\n")
                    sys.stdout.flush()
            elif time.monotonic() - last_line[0] >= 0.1:
                last_line[0] = time.monotonic()
                typer.echo(_line(state, verbose))

    live = _live(settings, clock, None, on_state=on_state, report=lambda m: typer.echo(m, err=True), record=record)
    _start(live)
    seen: set[str] = set()

    def devices() -> None:
        for dev in live.registry.status(clock.now())["devices"]:
            if dev["name"] not in seen:
                seen.add(dev["name"])
                typer.echo(f"device {dev['name']} ({dev['source']}) → {dev['performer']} / {dev['limb']}", err=True)

    try:
        _wait(duration, every=devices)
    finally:
        live.stop()
        clock.close()
        counts = live.registry.counts()
        typer.echo(f"frames {live.engine.frames}, readings {counts.pop('accepted')}, dropped "
                   f"{json.dumps(counts) if counts else 'none'}", err=True)


@app.command("record")
def record_cmd(
    out: Annotated[Path, typer.Argument(help="Take file to write (JSON Lines).")],
    osc: Annotated[list[str] | None, typer.Option("--motion-osc", help=OSC_HELP)] = None,
    old_osc: Annotated[list[str] | None, typer.Option("--osc", hidden=True)] = None,  # --motion-osc's old name
    mocopi: Annotated[list[str] | None, typer.Option("--mocopi", help=MOCOPI_HELP)] = None,
    allow: Annotated[list[str] | None, typer.Option("--allow", help=ALLOW_HELP)] = None,
    duration: float | None = typer.Option(None, help="Stop after this many seconds (default: until Ctrl-C)."),
    tempo: float = typer.Option(120.0, help="Tempo when no Link session sets it."),
    quantum: float = typer.Option(4.0, help="Beats per bar."),
    link: bool = typer.Option(True, "--link/--no-link", help="Stamp datagrams with the Link session's beat."),
    parents: bool = typer.Option(False, "--parents", help="Make the take's missing folders."),
) -> None:
    """Record every datagram that arrives (faults included) to a take, for replay and calibration."""
    check_flags(duration=duration, tempo=tempo, quantum=quantum)
    out = _take(out, new=True, parents=parents)  # before any socket opens
    settings = _settings([*(osc or []), *(old_osc or [])], mocopi, allow, None, [], None)
    clock = _clock(link, tempo, quantum)
    live = _live(settings, clock, None, report=lambda m: typer.echo(m, err=True), record=out)
    _start(live)
    typer.echo(f"recording to {out} (Ctrl-C to stop)", err=True)
    try:
        _wait(duration)
    finally:
        live.stop()
        clock.close()
    counts = live.registry.counts()
    typer.echo(f"{live.recorder.count} datagrams from {len(live.registry.devices)} device(s) → {out}; "
               f"readings {counts.pop('accepted')}, dropped {json.dumps(counts) if counts else 'none'}")


@app.command("replay")
def replay(
    take: Annotated[Path | None, typer.Argument(help="Take file to play (omit with --demo).")] = None,
    to: str = typer.Option("127.0.0.1:9200", "--to", help="Where OSC datagrams go: [HOST:]PORT."),
    mocopi_to: str = typer.Option("127.0.0.1:12351", "--mocopi-to", help="Where mocopi datagrams go."),
    speed: float = typer.Option(1.0, help="Playback speed (2 = twice as fast)."),
    loop: bool = typer.Option(False, help="Play again and again until Ctrl-C."),
    offline: bool = typer.Option(False, help="No UDP: run the take through the pipeline here and print states."),
    as_json: bool = typer.Option(False, "--json", help="With --offline: one JSON object per frame."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="With --offline: also ψ, K, headroom, residual."),
    demo: str | None = typer.Option(None, help="Play a synthetic phone instead of a file: zigsim, gyrosc, sensors2osc, "
                                         "touchosc, copilot, or mocopi."),
    duration: float = typer.Option(16.0, help="With --demo: seconds of movement."),
    tempo: float = typer.Option(120.0, help="With --demo: the beat the demo moves to."),
) -> None:
    """Play a recorded take back over real UDP (or offline), byte for byte, with its timing."""
    check_flags(speed=speed, duration=duration, tempo=tempo)
    from copilot.motion import record, synth
    from copilot.motion.sources import Bind

    if demo:
        if demo == "mocopi":
            the_take = record.Take(tempo=tempo, note="demo", datagrams=synth.mocopi_wave(tempo, duration))
        elif demo in synth.FORMATS:
            the_take = synth.wave_take(tempo=tempo, seconds=duration, fmt=demo,
                                       strength=lambda b: 0.4 + 0.8 * abs(((b / 16.0) % 2.0) - 1.0))
        else:
            _fail(f"unknown demo {demo!r}; choose from {', '.join((*synth.FORMATS, 'mocopi'))}")
    elif take is None:
        _fail("give a take file, or --demo FORMAT")
    else:
        try:
            the_take = record.Take.load(_take(take))
        except record.TakeError as exc:
            _fail(str(exc), 1)
        for why in the_take.skipped:
            typer.echo(f"skipped {why}", err=True)
    if offline:
        from copilot.motion.offline import rig

        r = rig(the_take)
        r.run(the_take.datagrams, on_frame=lambda states: [
            typer.echo(json.dumps(s.to_dict()) if as_json else _line(s, verbose)) for s in states])
        counts = r.registry.counts()
        typer.echo(f"frames {r.engine.frames}, readings {counts.pop('accepted')}, dropped "
                   f"{json.dumps(counts) if counts else 'none'}", err=True)
        return
    try:
        osc_to, moc_to = Bind.parse(to), Bind.parse(mocopi_to)
    except ValueError as exc:
        _fail(str(exc))
    stop = threading.Event()
    targets = {"osc": (osc_to.host, osc_to.port), "mocopi": (moc_to.host, moc_to.port)}
    typer.echo(f"playing {len(the_take.datagrams)} datagrams ({the_take.duration:.1f} s) → osc {osc_to}, "
               f"mocopi {moc_to}", err=True)
    total = 0
    try:
        while True:
            total += record.play(the_take.datagrams, targets, speed, stop)
            if not loop:
                break
    except KeyboardInterrupt:
        stop.set()
    typer.echo(f"sent {total} datagrams", err=True)


@app.command("calibrate")
def calibrate_cmd(
    performer: str = typer.Option("default", help="Whose profile to write."),
    take: Annotated[Path | None, typer.Option(help="Fit from this take instead of recording a new one.")] = None,
    osc: Annotated[list[str] | None, typer.Option("--motion-osc", help=OSC_HELP)] = None,
    old_osc: Annotated[list[str] | None, typer.Option("--osc", hidden=True)] = None,  # --motion-osc's old name
    mocopi: Annotated[list[str] | None, typer.Option("--mocopi", help=MOCOPI_HELP)] = None,
    allow: Annotated[list[str] | None, typer.Option("--allow", help=ALLOW_HELP)] = None,
    bars: int = typer.Option(8, help="Bars of waving to the beat (after one still bar)."),
    tempo: float = typer.Option(120.0, help="Tempo when no Link session sets it."),
    quantum: float = typer.Option(4.0, help="Beats per bar."),
    link: bool = typer.Option(True, "--link/--no-link", help="Wave to the Link session's beat."),
    profiles: str | None = typer.Option(None, help="Folder of calibration profiles."),
    as_json: bool = typer.Option(False, "--json", help="Print the fit report as JSON."),
) -> None:
    """Record a short 'wave to the beat' take (or use one) and fit this performer's ranges and weights."""
    check_flags(bars=bars, tempo=tempo, quantum=quantum)
    from copilot.bridge.clock import next_boundary
    from copilot.motion import calibrate, record
    from copilot.motion.profile import Profile, profile_dir

    try:
        Profile(performer=performer)
    except ValueError as exc:
        _fail(str(exc))
    folder = profile_dir(profiles)
    if take is not None:
        take = _take(take)
    if take is None:
        settings = _settings([*(osc or []), *(old_osc or [])], mocopi, allow, performer, [], profiles)
        clock = _clock(link, tempo, quantum)
        folder.mkdir(parents=True, exist_ok=True)
        take = folder / f"{performer}-calibration.jsonl"
        live = _live(settings, clock, None, report=lambda m: typer.echo(m, err=True), record=take)
        _start(live)
        start = next_boundary(clock.beat + 1.0, clock.quantum)
        end = start + (bars + 1) * clock.quantum
        typer.echo(f"stand still for the first bar, then wave to the beat for {bars} bars "
                   f"({clock.tempo:.0f} BPM)", err=True)
        said = None
        try:
            while clock.beat < end:
                beat = clock.beat
                if beat < start:
                    msg = f"get ready … {int(start - beat) + 1}"
                elif beat < start + clock.quantum:
                    msg = "still …"
                else:
                    bar = int((beat - start) // clock.quantum)
                    msg = f"wave! bar {bar}/{bars}, beat {int(beat % clock.quantum) + 1}"
                if msg != said:
                    typer.echo(msg, err=True)
                    said = msg
                time.sleep(0.02)
        except KeyboardInterrupt:
            live.stop()
            clock.close()
            _fail("calibration cancelled; nothing saved", 1)
        live.stop()
        clock.close()
    try:
        the_take = record.Take.load(take)
        profile, report = calibrate.fit(the_take, performer)
    except (record.TakeError, calibrate.CalibrationError) as exc:
        _fail(str(exc), 1)
    path = profile.save(profiles)
    if as_json:
        typer.echo(json.dumps({"profile": str(path), **report.to_dict()}))
        return
    typer.echo(f"saved {path}")
    typer.echo(f"  frames {report.frames} ({report.still_frames} still), limbs: {', '.join(report.limbs) or 'none'}")
    typer.echo(f"  energy rest {profile.energy_rest:.3f}, full {profile.energy_radius:.3f}")
    typer.echo(f"  beat lock {report.lock:.2f}, groove {report.groove_offset:+.3f} beat"
               + (f", learned pulse head (lock {report.lock_learned:.2f})" if report.pulse_learned else ""))
    typer.echo(f"  step field scale {report.step_scale:g}")
    for w in report.warnings:
        typer.echo(f"  note: {w}")
