"""`motion`: body motion into a running session (`copilot run --motion-osc [HOST:]PORT --mocopi PORT`).

The input listens for phones (ZIG SIM, GyrOSC, Sensors2OSC, TouchOSC, the generic
/copilot/motion format) and Sony mocopi, settles the fast/slow states every frame, and hands the
mapper's values to the session as continuous controls — capped and slew-limited again by the
scheduler, like any fader.
"""

from __future__ import annotations

from typing import Any

from copilot.bridge.host import Check, Input, SessionApi, hookimpl
from copilot.intents.schema import Deck, Source


def _section(config: Any) -> dict[str, Any]:
    if hasattr(config, "section"):
        return dict(config.section("motion") or {})
    return dict((config or {}).get("motion") or {})


def _capabilities(session: Any) -> Any:
    """A predicate 'some target takes this parameter', when the session can tell; else None."""
    targets = getattr(session, "targets", None)
    if not targets:
        return None
    params: set[str] = set()
    for target in targets:
        try:
            params |= set(target.capabilities().params)
        except Exception:  # noqa: BLE001 - one broken target must not hide the others' parameters
            continue
    return params.__contains__


class MotionInput(Input):
    name = "motion"

    def __init__(self, options: dict[str, Any], section: dict[str, Any]) -> None:
        self.options = dict(options)
        self.section = dict(section)
        self.live: Any = None
        self.session: SessionApi | None = None

    def start(self, session: SessionApi) -> None:
        """Open the ports and start the worker. A bad setting raises ValueError with the reason, which the
        session reports ("input motion did not start: …") while the rest of the show goes on."""
        from copilot.motion.live import LiveMotion
        from copilot.motion.settings import MotionSettings

        self.session = session
        section = self.section
        config = getattr(session, "config", None)
        if config is not None and hasattr(config, "section"):  # the session's copilot.toml [motion] table
            section = {**section, **config.section("motion")}
        settings = MotionSettings.build(self.options, section)

        def send(param: str, value: float, deck: Deck | None) -> Any:
            return session.move(param, value, deck, source=Source.MOTION)

        self.live = LiveMotion(settings, session.clock, send, state=session.state,
                               can=_capabilities(session), report=session.report)
        self.live.start()
        where = ", ".join(f"{x.source.kind} on {x.bind.host}:{x.port}" for x in self.live.listeners)
        session.report(f"motion: listening for {where}")

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def readings(self) -> dict[str, Any]:
        """Each performer's energy, ψ (beat phase), lock and tension from the last frame, for the stage view."""
        live = self.live
        if live is None:
            return {}
        performers = {name: p.state() for name, p in list(live.engine.performers.items()) if p.frames}
        return {"motion": {name: {"energy": s.energy, "psi": s.psi, "lock": s.lock, "tension": s.tension,
                                  "deck": s.deck, "t": s.t} for name, s in performers.items()}}

    def status(self) -> dict[str, Any]:
        return self.live.status() if self.live is not None else {"running": False}


@hookimpl
def copilot_inputs(options: dict[str, Any], config: Any) -> list[Input]:
    if not (options.get("motion_osc") or options.get("mocopi")):
        return []
    return [MotionInput(options, _section(config))]


@hookimpl
def copilot_settings() -> dict[str, Any]:
    from copilot.motion.settings import MOTION

    return {"motion": MOTION}


@hookimpl
def copilot_doctor(settings: Any) -> list[Check]:
    """`settings` is the whole copilot.toml (its [motion] table); `config` would be [targets] only."""
    config = settings
    checks = []
    try:
        from copilot.motion.weights import default_weights

        cert = default_weights().certificate()
        checks.append(Check("motion solver", True, f"LIM-RPS contraction L = {cert['lipschitz']:.3f} "
                                                   f"(headroom {cert['headroom']:.2f}), coupled gain "
                                                   f"{cert['coupling_gain']:.2f}"))
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, whatever it is
        checks.append(Check("motion solver", False, f"cannot build the solver: {exc}",
                            "reinstall copilot (numba and numpy are required)"))
    try:
        from copilot.motion.profile import Profile, profile_dir
        from copilot.motion.settings import MotionSettings

        settings = MotionSettings.build({}, _section(config))
        name = settings.profile_name(settings.performer)
        folder = profile_dir(settings.profiles_dir)
        if (folder / f"{name}.json").exists():
            Profile.load(name, settings.profiles_dir)
            checks.append(Check("motion profile", True, f"{name}: calibrated ({folder})"))
        else:
            checks.append(Check("motion profile", True, f"{name}: not calibrated, default ranges",
                                f"copilot motion calibrate --performer {name}"))
    except ValueError as exc:
        checks.append(Check("motion profile", False, str(exc), "copilot motion calibrate"))
    return checks
