"""What the Serato and Mixxx targets share: a MIDI target driven by one declarative table.

Rendering looks every message up in the target's table (the same rows the installed mapping was
generated from), so the bytes sent and the file the host loaded cannot disagree. Feedback from the
host is decoded through the same rows. Not a plugin itself (it has no entry point).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from copilot.bridge.actions import Action, ActionKind, MidiOut, Timed
from copilot.bridge.host import Capabilities, Target, TargetContext
from copilot.bridge.midi import PRESS_BEATS, cc_value, decode, encode, envelope_stream, press
from copilot.bridge.params import PARAMS
from copilot.bridge.settings import PORT_NAME, Rule, Text
from copilot.bridge.state import DeckUpdate, HostState
from copilot.bridge.surroundings import Hint, Surroundings
from copilot.intents.schema import Deck
from copilot.mappings.table import Control, Table, TableError

log = logging.getLogger(__name__)

# Kinds an action row can serve, and what `Capabilities` calls them.
DISCRETE = {k.value: k for k in ActionKind}


@dataclass(frozen=True, slots=True)
class ToggleOut(MidiOut):
    """A press on a host *toggle* (Serato's play, loop, FX slot): sent only if the state it toggles is
    not already what we want, judged at send time from the freshest host feedback (or our own record).

    `key` names the state (("playing", "A"), ("fx", 0, 2) …); `want` is the state after the press.
    `always`: not a toggle but a press that puts the host in `want` (an auto loop turns the loop on):
    always sent, and the record follows when it goes out.
    """

    key: tuple[Any, ...] = ()
    want: bool = True
    release: bool = False
    always: bool = False

    def to_log(self) -> dict[str, Any]:
        return {"midi": self.data.hex(" "), "port": self.port, "toggle": list(self.key), "want": self.want}


class TableTarget(Target):
    """A MIDI target whose every message is a row of `table`."""

    table_name: ClassVar[str] = ""
    host_name: ClassVar[str] = ""  # the program, as the performer calls it
    required: ClassVar[tuple[str, ...]] = ()
    default_port: ClassVar[str] = "Copilot Out"
    default_feedback_port: ClassVar[str] = "Copilot In"
    show_columns: ClassVar[list[tuple[str, str]]] = []  # (title, row.host key) shown beside each row
    config_rules: ClassVar[dict[str, Rule]] = {
        **Target.config_rules, "port": PORT_NAME, "feedback_port": PORT_NAME,
        "table": Text("a table override file that exists", check=lambda p: _existing(_path(p))),
    }

    def __init__(self, config: dict[str, Any] | None = None, table: Table | None = None) -> None:
        super().__init__(config)
        self.table = table if table is not None else self.load_table()
        self.port_name = str(self.config.get("port", self.default_port))
        self.feedback_port = str(self.config.get("feedback_port", self.default_feedback_port))
        self._out: Any = None
        self._in: Any = None
        # Toggle states as we last knew them: host feedback writes here at once, our own sends too.
        # Plain dict reads/writes (atomic under the GIL): the dispatch thread never waits on a lock.
        self.live: dict[tuple[Any, ...], bool] = {}
        self.track_bpm: dict[str, float] = {}  # deck → BPM of the track a resolved LOAD put there
        self.skipped = 0  # toggle presses not sent because the host was already there
        self.feedback_count = 0

    # -- table ------------------------------------------------------------------------------------
    def load_table(self) -> Table:
        from copilot.mappings.table import load_table

        override = self.config.get("table")  # a path in copilot.toml, else the default override place
        return load_table(self.table_name or self.name, override=True if override is None else _path(override),
                          required=self.required)

    def control(self, what: str, deck: Deck | None = None, **args: Any) -> Control | None:
        return self.table.find(what, deck, **args)

    def table_rows(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows for `copilot mappings show` (the host's own columns from `show_columns`)."""
        from copilot.mappings.table import cells

        return cells(self.table, self.show_columns)

    def table_markdown(self) -> str:
        from copilot.mappings.table import describe

        return describe(self.table, self.show_columns)

    # -- lifecycle ----------------------------------------------------------------------------------
    def open(self, context: TargetContext) -> None:
        super().open(context)
        if context.ports is None:
            return  # offline: render only
        self._out = context.ports.output(self.port_name)
        try:
            self._in = context.ports.input(self._on_input, self.feedback_port)
        except ValueError:
            # The session already listens on that port and routes what arrives through on_feedback.
            self._in = None

    def close(self) -> None:
        self._out = None
        self._in = None
        super().close()

    def send(self, payload: Any) -> None:
        if isinstance(payload, ToggleOut) and not self._toggle_due(payload):
            return
        if self._out is None:
            raise RuntimeError(f"{self.name}: no MIDI port is open (an offline session has none)")
        self._out.send(payload.data)

    def _toggle_due(self, payload: ToggleOut) -> bool:
        """Decide a toggle press at send time; remember the state we are putting the host in."""
        current = self.live.get(payload.key, False)
        if payload.release:
            return self.live.get(("pressed", *payload.key), False)
        due = payload.always or current != payload.want
        self.live[("pressed", *payload.key)] = due
        if due:
            self.live[payload.key] = payload.want
        else:
            self.skipped += 1
        return due

    def _on_input(self, data: bytes, when: float) -> None:
        ctx = self.context
        if ctx is None:
            return
        if ctx.feedback is not None:
            ctx.feedback(self.name, data)  # the session decodes through on_feedback and updates state
            return
        for update in self.on_feedback(data):
            ctx.state.apply_feedback(update)

    # -- proving the host is there (--target auto) ---------------------------------------------------
    def detect_ports(self) -> list[str]:
        return [self.feedback_port]

    def mapping_answered(self, around: Surroundings) -> str | None:
        """Proof: one of our own mapping's output blocks arrived on our feedback port. Only a host that
        loaded that mapping sends those exact messages there (a Link peer or a stray keyboard does not)."""
        for data in around.heard_on(self.feedback_port):
            heard = decode(data)
            control = self.table.by_wire(heard.kind, heard.channel, heard.number) if heard else None
            if control is not None and control.row.feedback is not None:
                deck = f" (deck {control.deck.value})" if control.deck is not None else ""
                return f"our mapping's '{control.row.name}'{deck} output arrived on '{self.feedback_port}'"
        return None

    def program_running(self, around: Surroundings, programs: tuple[str, ...]) -> Hint | None:
        running = [p for p in programs if p in around.processes]
        if not running:
            return None
        return Hint(f"{running[0]} is running but sent none of our mapping's output on '{self.feedback_port}'")

    # -- feedback ---------------------------------------------------------------------------------
    def on_feedback(self, message: bytes) -> list[DeckUpdate]:
        """Decode one message from the host through the table's rows that carry feedback."""
        heard = decode(message)
        if heard is None:
            return []
        control = self.table.by_wire(heard.kind, heard.channel, heard.number)
        if control is None or control.row.feedback is None:
            return []
        self.feedback_count += 1
        return self.decode(control, heard.on)

    def decode(self, control: Control, on: bool) -> list[DeckUpdate]:
        row, deck = control.row, control.deck
        kind = row.feedback
        if kind == "fx":
            self.live[self.fx_key(control)] = on
            return []
        if deck is None:
            return []
        if kind == "hotcue":
            return [DeckUpdate(deck, {"hotcue_set": (int(row.args.get("n", 0)), on)})]
        self.live[(kind, deck.value)] = on
        return [DeckUpdate(deck, {kind: on})]

    def fx_key(self, control: Control) -> tuple[Any, ...]:
        return ("fx", control.deck.value if control.deck else None, int(control.row.args.get("slot", 1)))

    # -- rendering helpers ----------------------------------------------------------------------------
    def report(self, message: str) -> None:
        ctx = self.context
        if ctx is not None and ctx.report is not None:
            ctx.report(f"{self.name}: {message}")
        else:
            log.info("%s: %s", self.name, message)

    def missing(self, what: str, deck: Deck | None, **args: Any) -> list[Timed]:
        extra = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in args.items())
        where = f" for deck {deck}" if deck else ""
        self.report(f"no row for {what}{(' ' + extra) if extra else ''}{where} in its table; nothing sent "
                    f"(add one with `copilot mappings show {self.name}` as a guide)")
        return []

    def press_row(self, action: Action, what: str, deck: Deck | None, **args: Any) -> list[Timed]:
        control = self.control(what, deck, **args)
        if control is None:
            return self.missing(what, deck, **args)
        return press(action, control.channel, control.number)

    def toggle_row(self, action: Action, control: Control, key: tuple[Any, ...], want: bool,
                   always: bool = False) -> list[Timed]:
        """A guarded press on a host toggle (see ToggleOut)."""
        kind, channel, number = control.row.message, control.channel, control.number
        down = ToggleOut(encode(kind, channel, number, 127), "out", key, want, always=always)
        up = ToggleOut(encode(kind, channel, number, 0), "out", key, want, release=True)
        beat = action.beat
        return [Timed(beat, down, action.id), Timed(None if beat is None else beat + PRESS_BEATS, up, action.id)]

    def value_row(self, beat: float | None, action: Action, control: Control, value: float) -> list[Timed]:
        return cc_value(beat, action.id, control.channel, control.number, value, control.row.fourteen_bit)

    def param_row(self, action: Action, name: str, deck: Deck | None, **args: Any) -> list[Timed]:
        """A CONTROL or ENVELOPE action on the parameter's row (per-deck or global)."""
        spec = PARAMS.get(name)
        if spec is not None and not spec.per_deck:
            deck = None
        control = self.control(name, deck, **args)
        if control is None:
            return self.cannot(name, deck)
        if action.kind is ActionKind.ENVELOPE:
            return envelope_stream(action, control.channel, control.number, control.row.fourteen_bit)
        return self.value_row(action.beat, action, control, float(action.params["value"]))

    def cannot(self, what: str, deck: Deck | None = None) -> list[Timed]:
        """Say plainly that the host cannot take this (the session routes it elsewhere if it can)."""
        where = f" on deck {deck}" if deck else ""
        self.report(f"cannot move {what}{where}; nothing sent to the host")
        return []

    def load(self, action: Action) -> list[Timed]:
        """LOAD: optional library scroll ticks, then the load press; remembers a resolved track's BPM."""
        deck = action.deck
        resolved = action.params.get("resolved") or {}
        bpm = resolved.get("bpm") if isinstance(resolved, dict) else None
        out = self.scroll(action, int(action.params.get("scroll", 0))) + self.press_row(action, "LOAD", deck)
        if out and deck is not None:
            if isinstance(bpm, int | float) and bpm > 0:
                self.track_bpm[deck.value] = float(bpm)
            else:
                self.track_bpm.pop(deck.value, None)
        return out

    def load_note(self, pick: dict[str, Any] | None) -> str | None:
        """The host's load button loads the row highlighted in its library: say so, and where the pick is."""
        host = self.host_name or self.name
        what = f"pressed {host}'s 'load selected track': the deck gets the track highlighted in {host}'s library"
        if not isinstance(pick, dict) or not pick.get("path"):
            return what
        title = pick.get("title") or Path(str(pick["path"])).stem
        return f"{what}, not necessarily your pick '{title}' ({self.where_pick_is(pick)})"

    def where_pick_is(self, pick: dict[str, Any]) -> str:
        return f"find {pick['path']} there"

    def deck_bpm(self, deck: Deck, state: HostState) -> float | None:
        """The BPM of the track on a deck: the host's or copilot's record, else a resolved LOAD's."""
        return state.deck(deck).bpm or self.track_bpm.get(deck.value)

    def tempo_faders(self, action: Action, state: HostState, fader_range: float,
                     fader_value: Callable[[float, float], float], fader: str, unknown_hint: str) -> list[Timed]:
        """TEMPO{bpm}: the tempo fader of every playing deck (else the deck named) whose track BPM is known.
        `fader_value(bpm, track_bpm)` is the host's 0..1 fader position; `fader` names it for the
        performer ("rate", "pitch"), `unknown_hint` says what to do when a track's BPM is not known."""
        bpm = float(action.params["bpm"])
        playing = [d for d, s in state.decks().items() if s.playing]
        decks = playing or ([action.deck] if action.deck else [])
        out: list[Timed] = []
        unknown: list[str] = []
        for deck in decks:
            track_bpm = self.deck_bpm(deck, state)
            control = self.control("TEMPO", deck)
            if not track_bpm or control is None:
                unknown.append(deck.value)
                continue
            if abs(bpm / track_bpm - 1.0) > fader_range:
                self.report(f"{bpm:g} BPM is outside deck {deck}'s ±{fader_range:.0%} {fader} range; "
                            f"{fader} set to its end")
            out += self.value_row(action.beat, action, control, fader_value(bpm, track_bpm))
        if unknown or not decks:
            self.report("tempo: the track BPM of deck(s) " + (", ".join(unknown) or "playing")
                        + f" is unknown, so their {fader} was not moved ({unknown_hint})")
        return out

    def scroll(self, action: Action, steps: int) -> list[Timed]:
        """Library scroll as encoder ticks (two's complement), just before the action's beat."""
        control = self.control("SCROLL")
        if control is None or steps == 0:
            return [] if steps == 0 else self.missing("SCROLL", None)
        tick = 1 if steps > 0 else 127
        tick_message = encode(control.row.message, control.channel, control.number, tick)
        return [Timed(action.beat, MidiOut(tick_message), action.id) for _ in range(min(abs(int(steps)), 512))]

    # -- capabilities from the table ----------------------------------------------------------------
    def table_capabilities(self, extra_actions: set[ActionKind] | None = None, feedback: bool = True) -> Capabilities:
        actions = {DISCRETE[a] for r in self.table.rows for a in r.actions if a in DISCRETE}
        actions |= extra_actions or set()
        params = {r.param for r in self.table.rows if r.param and r.param in PARAMS}
        if params:
            actions |= {ActionKind.CONTROL, ActionKind.ENVELOPE}
        unconfirmed = {what for what in [*(a.value for a in actions), *params]
                       if self.table.covers(what) and "V" not in self.table.statuses(what)
                       and "U" in self.table.statuses(what)}
        return Capabilities(actions=frozenset(actions), params=frozenset(params), unconfirmed=frozenset(unconfirmed),
                            feedback=feedback and any(r.feedback for r in self.table.rows), decks=self.table.decks)

    def health(self) -> dict[str, Any]:
        return {"port": self.port_name, "feedback_port": self.feedback_port, "feedback_messages": self.feedback_count,
                "toggles_skipped": self.skipped, "table": self.table.sources}

    # -- rendering -------------------------------------------------------------------------------------
    def render(self, action: Action, state: HostState) -> list[Timed]:
        try:
            return self.render_action(action, state)
        except (KeyError, ValueError, TableError) as exc:  # a bad action or table row never stops the show
            self.report(f"could not render {action.kind.value}: {exc}; nothing sent")
            return []

    def render_action(self, action: Action, state: HostState) -> list[Timed]:
        raise NotImplementedError


def _existing(path: Any) -> None:
    try:
        found = bool(path) and path.is_file()
    except OSError:  # a name too long for the disk, a link loop
        found = False
    if not found:
        raise ValueError("")


def _path(value: Any) -> Any:
    from pathlib import Path

    return Path(str(value)).expanduser() if value else False
