"""Motion, live: listeners + registry + engine (+ an optional recorder) started and stopped together.

The `motion` input plugin runs one of these inside `copilot run`; `copilot motion listen|record|
calibrate` run one on their own clock. A port that cannot be opened is a readable error at start;
once running, nothing a sender does can stop it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .engine import MotionEngine, MotionState, Send
from .profile import Profile
from .record import Recorder
from .registry import Registry
from .settings import MotionSettings
from .sources import Listener, MocopiSource, OscSource


class LiveMotion:
    def __init__(
        self,
        settings: MotionSettings,
        clock: Any,
        send: Send | None = None,
        *,
        state: Any = None,
        can: Callable[[str], bool] | None = None,
        on_state: Callable[[MotionState], None] | None = None,
        report: Callable[[str], None] | None = None,
        record: str | Path | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.report = report or print
        self.registry = Registry(settings.rules, default_performer=settings.performer,
                                 forget_after=settings.forget_after)
        self.engine = MotionEngine(
            self.registry, clock, send, profiles=self._profile, mappings=settings.mappings, can=can,
            deck=settings.deck, decks=lambda name: settings.performer_decks.get(name, settings.deck), state=state,
            iterations=settings.iterations, halpern=settings.halpern, on_state=on_state, report=self.report,
        )
        self.registry.after_ingest = self.engine.kick
        path = record or settings.record
        self.recorder = Recorder(Path(path).expanduser(), clock) if path else None
        tap = self.recorder.tap if self.recorder else None
        self.listeners = [Listener(b, OscSource(self.registry), settings.allow, tap) for b in settings.osc]
        self.listeners += [Listener(b, MocopiSource(self.registry), settings.allow, tap) for b in settings.mocopi]

    def _profile(self, performer: str) -> Profile:
        return Profile.load(self.settings.profile_name(performer), self.settings.profiles_dir)

    def start(self) -> None:
        started = []
        try:
            for listener in self.listeners:
                listener.start()
                started.append(listener)
        except OSError:
            for listener in started:
                listener.stop()
            raise
        self.engine.start()

    def stop(self) -> None:
        for listener in self.listeners:
            listener.stop()
        self.engine.stop()
        if self.recorder is not None:
            self.recorder.close()

    def status(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "listeners": [x.status() for x in self.listeners],
            **self.registry.status(now),
            "counts": self.registry.counts(),
            "engine": self.engine.status(),
            "recording": str(self.recorder.path) if self.recorder else None,
        }
