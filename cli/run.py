"""`copilot run`: the main job — play a set beside the host (or alone on the built-in engine).

Every option that is also a copilot.toml setting is a row of OPTIONS: the flag wins, then the file,
then the default; a flag is held to the very rule its setting is. A new option is one more row.
Nothing opens (Link, ports, sockets, files) until every flag and every setting has been checked.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from copilot.bridge.config import ALLOW, BIND, MIDI_API, RUN
from copilot.bridge.settings import UDP_PORT, ListOf, Num, Rule, SettingError, check_flag
from copilot.view.plugin import DEFAULT_BIND as VIEW_DEFAULT
from copilot.view.plugin import VIEW_BIND, view_bind

from .common import FLAGS, fail, load_config


@dataclass(frozen=True)
class Option:
    """One `copilot run` option: its flag, the rule it is held to, and the copilot.toml key it stands for."""

    flag: str
    rule: Rule | None = None
    key: tuple[str, str] | None = None  # (table, key)
    default: Any = None


OPTIONS: dict[str, Option] = {
    "target": Option("--target", RUN.fields["target"], ("run", "target"), "auto"),
    "link": Option("--link", RUN.fields["link"], ("run", "link"), True),
    "tempo": Option("--tempo", RUN.fields["tempo"], ("run", "tempo"), 120.0),
    "quantum": Option("--quantum", RUN.fields["quantum"], ("run", "quantum"), 4.0),
    "auto_wait": Option("--auto-wait", RUN.fields["auto_wait"], ("run", "auto_wait"), 1.0),
    "osc": Option("--osc", BIND, ("osc", "bind"), "127.0.0.1:9100"),
    "allow": Option("--allow", ListOf(ALLOW), ("osc", "allow"), []),
    "midi_api": Option("--midi-api", MIDI_API, ("ports", "api"), "auto"),
    "duration": Option("--duration", FLAGS["duration"]),
    "output_latency": Option("--output-latency", Num(0.0, 500.0, "ms")),
    "motion_osc": Option("--motion-osc", BIND),
    "mocopi": Option("--mocopi", UDP_PORT),
    "view": Option("--view", VIEW_BIND, ("view", "bind"), VIEW_DEFAULT),
}


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, list) and not value)


def check_given(given: dict[str, Any]) -> None:
    """Every flag given against its rule (no file needed yet); SettingError names the flag and what it may be."""
    for name, value in given.items():
        option = OPTIONS[name]
        if _given(value) and option.rule is not None:
            check_flag(option.flag, value, option.rule)


def settle(given: dict[str, Any], config: Any) -> dict[str, Any]:
    """Each option's value: the flag (checked by `check_given`), else copilot.toml's (checked with the
    whole file), else the default."""
    values = {}
    for name, option in OPTIONS.items():
        value = given.get(name)
        if not _given(value):
            value = option.default
            if option.key is not None:
                table, key = option.key
                value = config.section(table).get(key, option.default)
            if isinstance(option.rule, ListOf) and not isinstance(value, list):
                value = [value]  # one address in copilot.toml stands for a list of one
        values[name] = value
    return values


def _paths(script: Path | None, out: Path | None, log: Path | None, crate: Path | None, adorn: Path | None,
           db: Path | None, parents: bool) -> dict[str, Path | None]:
    from . import paths

    checks = {
        "script": lambda p: paths.existing_file(p, "script"),
        "out": lambda p: paths.new_file(p, parents, "render", (".wav",)),
        "log": lambda p: paths.new_file(p, parents, "session log"),
        "crate": lambda p: paths.existing_folder(p, "crate folder"),
        "adorn": lambda p: paths.existing_folder(p, "folder of one-shots"),
        "db": lambda p: paths.existing_file(p, "phrase database"),
    }
    given = {"script": script, "out": out, "log": log, "crate": crate, "adorn": adorn, "db": db}
    found: dict[str, Path | None] = {}
    for name, path in given.items():
        try:
            found[name] = checks[name](path) if path is not None else None
        except paths.PathProblem as exc:
            raise paths.PathProblem(f"--{name}: {exc}") from None
    return found


def _listeners(values: dict[str, Any], config: Any) -> None:
    """A bind beyond this machine needs an allow-list: refused now, not switched off half-way into the set."""
    from copilot.bridge.osc import AllowList, Bind, check_bind

    if values["osc"]:
        check_bind(Bind.parse(values["osc"]), AllowList(values["allow"]), "OSC intents")
    if view_bind(values["view"]):
        view_allow = values["allow"] or list(config.section("view").get("allow") or [])
        check_bind(Bind.parse(str(view_bind(values["view"]))), AllowList(view_allow), "the stage view")
    if values["motion_osc"] or values["mocopi"]:
        from copilot.motion.settings import MotionSettings

        motion = MotionSettings.build({"motion_osc": values["motion_osc"], "mocopi": values["mocopi"],
                                       "allow": values["allow"]}, config.section("motion"))
        for bind in [*motion.osc, *motion.mocopi]:
            check_bind(bind, AllowList(motion.allow), "motion")


def command(
    target: str | None = typer.Option(None, "--target", "-t", help="Target name(s), comma-separated, or auto "
                                      "([run] target; default auto)."),
    script: Path | None = typer.Option(None, help="Script: one '<seconds> <command>' per line."),
    duration: float | None = typer.Option(None, help="Stop after this many seconds (default: until Ctrl-C)."),
    link: bool | None = typer.Option(None, "--link/--no-link", help="Join Ableton Link, or use the internal "
                                     "clock ([run] link; default: join)."),
    tempo: float | None = typer.Option(None, help="Tempo in BPM when alone; a running Link session's tempo "
                                       "wins ([run] tempo; default 120)."),
    quantum: float | None = typer.Option(None, help="Beats per bar, the Link quantum ([run] quantum; default 4)."),
    output_latency: float | None = typer.Option(None, "--output-latency", help="Target output latency, ms."),
    config: Path | None = typer.Option(None, help="copilot.toml to use (default: the user config folder)."),
    log: Path | None = typer.Option(None, help="Session log (JSON Lines); default in the user log folder."),
    out: Path | None = typer.Option(None, help="Render offline to this WAV instead of playing live."),
    parents: bool = typer.Option(False, "--parents", help="Make the missing folders of --out and --log."),
    crate: Path | None = typer.Option(None, help="Folder of tracks for the built-in engine."),
    adorn: Path | None = typer.Option(None, help="Folder of one-shots the engine plays on the grid."),
    motion_osc: str | None = typer.Option(None, "--motion-osc", help="Listen for motion OSC on [HOST:]PORT."),
    mocopi: int | None = typer.Option(None, help="Listen for Sony mocopi on this UDP port (e.g. 12351)."),
    voice: bool = typer.Option(False, help="Listen for voice commands (hands-free)."),
    autopilot: bool = typer.Option(False, help="Let the planner play a set on any target (it yields to you)."),
    osc: str | None = typer.Option(None, help="Intents over OSC on [HOST:]PORT, '' = off ([osc] bind; default "
                                   "127.0.0.1:9100)."),
    allow: list[str] = typer.Option([], help="LAN address allowed to send OSC intents or open the stage view "
                                    "(repeatable; [osc] allow, [view] allow)."),
    view: str | None = typer.Option(None, "--view", help="Stage view on [HOST:]PORT, 'off' = none ([view] bind; "
                                    "default 127.0.0.1:8765). A LAN bind needs --allow."),
    db: Path | None = typer.Option(None, help="Phrase database to resolve LOAD queries."),
    midi_api: str | None = typer.Option(None, "--midi-api", help="MIDI API: auto, jack, alsa, coremidi, winmm "
                                        "([ports] api; default auto)."),
    auto_wait: float | None = typer.Option(None, "--auto-wait", help="Seconds to look for a host with --target "
                                           "auto ([run] auto_wait; default 1)."),
) -> None:
    """Run a session: voice, motion, pads and scripts → the safety scheduler → the target(s)."""
    from copilot.bridge.config import ConfigError
    from copilot.bridge.host import UnknownTarget
    from copilot.bridge.progress import busy
    from copilot.bridge.session import Session, SessionError, SessionOptions, default_log_path
    from copilot.intents.script import ScriptError
    from copilot.view.terminal import StatusLine

    from .paths import PathProblem

    given = {"target": target, "link": link, "tempo": tempo, "quantum": quantum, "auto_wait": auto_wait,
             "osc": osc, "allow": allow, "midi_api": midi_api, "duration": duration,
             "output_latency": output_latency, "motion_osc": motion_osc, "mocopi": mocopi, "view": view}
    try:  # the flags alone first: a typo is answered at once, before plugins load
        check_given(given)
    except SettingError as exc:
        fail(str(exc))
    settings, host = load_config(config)
    try:
        values = settle(given, settings)
        if values["target"] != "auto":
            host.check_names(values["target"])
        _listeners(values, settings)
        files = _paths(script, out, log, crate, adorn, db, parents)
    except (SettingError, PathProblem, UnknownTarget) as exc:
        fail(str(exc) if not isinstance(exc, UnknownTarget) else exc.args[0])
    except ValueError as exc:  # a bind without its allow-list, a motion setting
        fail(str(exc))
    options = SessionOptions(
        target=values["target"], script=files["script"], duration=values["duration"], link=values["link"],
        tempo=values["tempo"], quantum=values["quantum"], output_latency_ms=values["output_latency"],
        out=files["out"], crate=files["crate"], adorn=files["adorn"], motion_osc=values["motion_osc"],
        mocopi=values["mocopi"], voice=voice, autopilot=autopilot, osc=values["osc"], allow=list(values["allow"]),
        db=files["db"], log=files["log"] or default_log_path(), midi_api=values["midi_api"],
        auto_wait=values["auto_wait"], view=None if files["out"] is not None else view_bind(values["view"]),
    )
    # On a terminal, one status line replaces the scrolling report (the session log keeps everything).
    status = StatusLine() if options.out is None and sys.stdout.isatty() else None
    try:
        with busy("loading copilot's targets and inputs"):
            session = Session(options, settings, host=host, report=status.report if status else None)
    except (ScriptError, ConfigError) as exc:
        fail(str(exc))
    if status is not None:
        status.start(session)
    try:
        session.run()
    except UnknownTarget as exc:
        fail(exc.args[0])
    except SessionError as exc:
        fail(str(exc), 1)
    finally:
        if status is not None:
            status.stop()
    stats = session.dispatcher.stats.summary()
    if stats.get("count"):
        typer.echo(f"sent {stats['count']} messages; lateness p50 {stats['p50_ms']:.3f} ms, "
                   f"p99 {stats['p99_ms']:.3f} ms, max {stats['max_ms']:.3f} ms; log: {options.log}")
    if session.exit_status:  # the set could not go on (e.g. nothing in the crate can play): said above
        raise typer.Exit(session.exit_status)
