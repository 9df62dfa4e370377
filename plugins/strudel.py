"""`strudel`: copilot's controls into a Strudel pattern, as CC on a port of their own.

Strudel reads MIDI CC through WebMIDI (`midin`) and nothing else live: no Link, no clock. So this target
sends 7-bit CC only on "Copilot Strudel" (a note on that port would overwrite a CC slot in Strudel),
ships the snippet that reads them (`copilot mappings show strudel`), and sends the session tempo on two
CCs the snippet's `tempo` signal reads (`.cps(tempo)`: Strudel follows without copy-paste). It still
prints a fresh `setcpm` line when the tempo changes, for a pattern that does not carry `.cps(tempo)`.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import platformdirs

from copilot.bridge.actions import Action, ActionKind, MidiOut, Timed
from copilot.bridge.host import Capabilities, MappingFile, Target, TargetContext, hookimpl
from copilot.bridge.midi import cc, cc_stream, to_cc7
from copilot.bridge.params import PARAMS
from copilot.bridge.settings import PORT_NAME, Num, Rule
from copilot.bridge.state import HostState
from copilot.mappings.strudel import Control, StrudelTable, load_table, snippet, tempo_line

SNIPPET_NAME = "copilot-strudel.js"
TEMPO_POLL = 0.25  # seconds: how often a tempo change made elsewhere on Link is noticed
TEMPO_RESEND = 2.0  # seconds: the tempo CCs again, for a Strudel tab opened (or re-evaluated) since


class Strudel(Target):
    name = "strudel"
    description = "Strudel in the browser: CC on its own port 'Copilot Strudel', read with midin"
    config_rules: ClassVar[dict[str, Rule]] = {
        **Target.config_rules, "port": PORT_NAME, "channel": Num(0, 15, integer=True),
        "beats_per_cycle": Num(1.0, 64.0, "beats"), "tempo": Num(20.0, 999.0, "BPM"),
    }

    def __init__(self, config: dict[str, Any] | None = None, table: StrudelTable | None = None) -> None:
        super().__init__(config)
        self.table = table or load_table(overrides=self.config, known_params=PARAMS)
        self.beats_per_cycle = float(self.config.get("beats_per_cycle", 4.0))
        self.tempo = float(self.config.get("tempo", 120.0))
        self.tempo_lines: list[str] = []  # every fresh setcpm line handed out, newest last
        self._out: Any = None
        self._last_cc: dict[int, int] = {}  # what each CC last carried (render-time: skip repeats)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        # The tempo watcher sends beside the dispatch thread on the same port: rtmidi's send is not
        # thread-safe, so both take this lock (uncontended but for a tempo send every couple of seconds).
        self._send_lock = threading.Lock()
        self.tempo_sent: tuple[float, float] | None = None  # (BPM, monotonic time) of the last tempo CCs

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self, context: TargetContext) -> None:
        super().open(context)
        if context.ports is not None:
            self._out = context.ports.output(self.table.port)
        if context.clock is not None:
            self.tempo = float(context.clock.tempo)
            self._stop.clear()
            self._watcher = threading.Thread(target=self._watch_tempo, name="copilot-strudel-tempo", daemon=True)
            self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(1.0)
            self._watcher = None
        self._out = None
        super().close()

    def send(self, payload: Any) -> None:
        if self._out is not None:
            with self._send_lock:
                self._out.send(payload.data)

    def _watch_tempo(self) -> None:
        """Strudel cannot follow Link: send it the session's tempo on the tempo CCs (at once, on every
        change and every TEMPO_RESEND s), and when it moves say what to evaluate for other patterns."""
        while True:
            clock = self.context.clock if self.context else None
            if clock is not None:
                bpm = float(clock.tempo)
                self.tempo_changed(bpm)
                self.send_tempo(bpm)
            if self._stop.wait(TEMPO_POLL):
                return

    def send_tempo(self, bpm: float, now: float | None = None) -> bool:
        """The tempo CCs (coarse, fine) when the tempo moved or TEMPO_RESEND passed; True if sent."""
        tempo = self.table.tempo
        if tempo is None or self._out is None:
            return False
        now = time.monotonic() if now is None else now
        last = self.tempo_sent
        if last is not None and abs(last[0] - bpm) < 0.005 and now - last[1] < TEMPO_RESEND:
            return False
        coarse, fine = tempo.values(bpm)
        with self._send_lock:
            self._out.send(cc(self.table.channel, tempo.cc, coarse))
            self._out.send(cc(self.table.channel, tempo.fine_cc, fine))
        self.tempo_sent = (bpm, now)
        return True

    def tempo_changed(self, bpm: float) -> str | None:
        """A fresh `setcpm` line when the tempo really moved (Link's tempo jitters in the 5th decimal)."""
        if abs(bpm - self.tempo) < 0.01:
            return None
        self.tempo = bpm
        line = tempo_line(round(bpm, 2), self.beats_per_cycle)
        self.tempo_lines.append(line)
        report = self.context.report if self.context else print
        follows = (f"sent on CC {self.table.tempo.cc}/{self.table.tempo.fine_cc} to patterns with .cps(tempo); "
                   "for others " if self.table.tempo is not None else "")
        report(f"Strudel: tempo is now {bpm:.2f} BPM ({follows}evaluate  {line})")
        return line

    # -- rendering -------------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(
            actions=frozenset({ActionKind.ENVELOPE, ActionKind.CONTROL, ActionKind.PANIC, ActionKind.TEMPO,
                               ActionKind.DROP}),
            params=frozenset(c.param for c in self.table.controls),
            decks=1,
        )

    def render(self, action: Action, state: HostState) -> list[Timed]:
        k = action.kind
        if k is ActionKind.ENVELOPE and action.envelope is not None:
            control = self.table.by_param(action.envelope.param)
            return self._stream(action, control) if control else []
        if k is ActionKind.CONTROL:
            control = self.table.by_param(action.params["param"])
            if control is None:
                return []
            value = to_cc7(PARAMS[control.param].clamp(float(action.params["value"])))
            if self._last_cc.get(control.cc) == value:
                return []
            self._last_cc[control.cc] = value
            return [Timed(action.beat, MidiOut(cc(self.table.channel, control.cc, value)), action.id)]
        if k is ActionKind.PANIC:
            out = []
            for name, neutral in action.params.get("neutral", {}).items():
                control = self.table.by_param(name)
                if control is not None:
                    self._last_cc[control.cc] = to_cc7(neutral)
                    out.append(Timed(None, MidiOut(cc(self.table.channel, control.cc, to_cc7(neutral))), action.id))
            return out
        if k is ActionKind.TEMPO:
            self.tempo_changed(float(action.params["bpm"]))  # no wire: the performer evaluates the line
        return []

    def _stream(self, action: Action, control: Control) -> list[Timed]:
        """The envelope every `step_beats`, only where the 7-bit value changes (Strudel reads v / 127)."""
        out: list[Timed] = []
        last: int | None = None
        for beat, (data,) in cc_stream(action.envelope, self.table.step_beats, False, action.params.get("start_value")):
            out.append(Timed(beat, MidiOut(cc(self.table.channel, control.cc, data)), action.id))
            last = data
        if last is not None:
            self._last_cc[control.cc] = last
        return out

    # -- files -----------------------------------------------------------------------------------
    def mapping_files(self) -> list[MappingFile]:
        clock = self.context.clock if self.context else None
        bpm = float(clock.tempo) if clock is not None else self.tempo
        text = snippet(self.table, round(bpm, 2), self.beats_per_cycle)
        return [MappingFile(SNIPPET_NAME, text.encode(), "the Strudel snippet: paste it into the REPL")]

    def mapping_folders(self) -> list[Any]:
        return [platformdirs.user_data_path("copilot") / "strudel"]

    def install_steps(self) -> list[str]:
        return [
            "Open Strudel (strudel.cc or your own) in a browser with WebMIDI (Chrome, Edge; Firefox asks first).",
            f"Paste the snippet ({SNIPPET_NAME}, or `copilot mappings show strudel`) and evaluate it (Ctrl+Enter); "
            f"allow MIDI access: it reads the port '{self.table.port}'.",
            "The example pattern follows the session tempo by itself (.cps(tempo)); add .cps(tempo) to your own "
            "patterns, or evaluate the setcpm line copilot prints when the tempo changes.",
        ]


@hookimpl
def copilot_targets(config: dict[str, Any]) -> list[Target]:
    return [Strudel(config.get(Strudel.name))]
