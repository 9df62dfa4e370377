"""`ableton-live`: Ableton Live beside copilot, on one Link session.

Two wires, each for what it is good at:
- **MIDI CC on "Copilot Out"** for everything that moves (envelopes, motion, the transport buttons),
  bound in Live by the generated User Remote Script (mappings/ableton.py): the selected device's eight
  parameters (the Copilot Rack's macros), track volumes and sends, master volume, crossfader. Sent on
  the beat by the dispatcher, 14-bit where the table says so.
- **AbletonOSC** (UDP, Live's ~100 ms tick) for what Live quantizes itself or what can wait a tick:
  clip and scene launches (sent `launch_lead` seconds before the boundary, so Live's own quantization
  lands them on it), tempo when no Link session carries it, FX on a device parameter (within the
  parameter's real min..max), and Live's beat as a coarse cross-check of the Link clock.

Intents in Live's terms: PLAY/PAUSE → the transport (or a clip), LOOP → the rack's Beat Repeat,
DROP/BUILD → a scene launch plus the scheduler's filter/send envelopes, FX/FILTER → device parameters.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from copilot.bridge.actions import Action, ActionKind, MidiOut, OscOut, Timed
from copilot.bridge.host import Capabilities, Check, MappingFile, Target, TargetContext, hookimpl
from copilot.bridge.midi import ENVELOPE_STEP, PRESS_BEATS, cc, cc_bytes, decode
from copilot.bridge.params import PARAMS
from copilot.bridge.settings import PORT_NAME, UDP_PORT, AnyOf, Choice, ListOf, Num, Rule, Switch, Table, Text
from copilot.bridge.state import DeckUpdate, HostState
from copilot.bridge.surroundings import Hint, Surroundings
from copilot.intents.schema import Deck
from copilot.mappings.ableton import (
    LOOP_LENGTH,
    AbletonTable,
    Binding,
    load_table,
    user_configuration,
    user_script_folders,
)
from copilot.plugins.ableton_osc import AbletonOSC

log = logging.getLogger(__name__)

OSC_SETTINGS = ("host", "osc_port", "reply_port", "timeout", "launch_lead", "drop_scene", "play", "clip_slot")
# Live's beat arrives on its ~100 ms tick after Link's. On Link the lag sits in this window and barely
# moves; off Link it lands anywhere in the beat and wanders (another tempo, another phase).
BEAT_LAG_WINDOW = (-0.03, 0.2)  # seconds
BEAT_LAG_SPREAD = 0.08  # seconds, interquartile range
OSC_RULES = {
    "host": Text("a host name or address"), "osc_port": UDP_PORT, "reply_port": UDP_PORT,
    "timeout": Num(0.05, 5.0, "s"), "launch_lead": Num(0.0, 2.0, "s"), "drop_scene": Num(0, 999, integer=True),
    "play": Choice(("transport", "clip")), "clip_slot": Num(0, 999, integer=True),
}
CONFIG_RULES = {
    **OSC_RULES, "port": PORT_NAME,
    "deck_tracks": ListOf(Num(0, 999, integer=True), most=4),  # Live's track (0-based) behind decks A–D
    "osc": AnyOf((Switch(), Table({**OSC_RULES, "port": UDP_PORT}))),  # false: no AbletonOSC; a table: its settings
    "script": Table({"folder": Text("a folder name"), "input_port": PORT_NAME, "output_port": PORT_NAME,
                     "channel": Num(0, 15, integer=True)}),
    "fx": Table(each=Table({"device": Num(0, 127, integer=True), "parameter": Num(0, 255, integer=True)},
                             required=("device", "parameter")),
                what="a table of effect name → {device, parameter}"),
}


class AbletonLive(Target):
    name = "ableton-live"
    description = "Ableton Live on Link: CC through a User Remote Script, launches through AbletonOSC"
    auto_priority = 40  # an AbletonOSC answer is proof only Live gives; it wins over the DJ hosts
    config_rules: ClassVar[dict[str, Rule]] = {**Target.config_rules, **CONFIG_RULES}

    def detect(self, around: Surroundings) -> str | None:
        """Proof: AbletonOSC answers `/live/test` (a harmless question). Link peers prove nothing:
        every DJ program speaks Link. A running Live without an answer is only a hint."""
        if self.config.get("osc", True) is not False:
            osc = self.make_osc()
            try:
                if osc.open():
                    rtt = osc.ping()
                    if rtt is not None:
                        return (f"AbletonOSC answered /live/test at {osc.host}:{osc.port} "
                                f"in {rtt * 1000:.0f} ms")
            finally:
                osc.close()
        live = sorted(p for p in around.processes if p.startswith("ableton live"))
        if live:
            return Hint(f"{live[0]} is running but AbletonOSC does not answer (install it as a Control Surface)")
        return None

    def __init__(self, config: dict[str, Any] | None = None, table: AbletonTable | None = None) -> None:
        super().__init__(config)
        self.table = table or load_table(overrides=self.config, known_params=PARAMS)
        osc = dict(self.table.osc)
        osc.update({k: v for k, v in self.config.items() if k in OSC_SETTINGS})
        self.osc_settings = osc
        self.port_name = str(self.config.get("port", self.table.input_port))
        self.launch_lead = float(osc.get("launch_lead", 0.25))
        self.osc: AbletonOSC | None = None
        self._out: Any = None
        self.dropped = 0  # payloads with no wire to go on (no port, no OSC): counted, never raised
        self._beat_lags: deque[float] = deque(maxlen=64)
        self._warned: set[str] = set()
        self._following: list[int] = []  # Live tracks whose playing clip AbletonOSC pushes to us
        self._playing_slot: dict[int, int] = {}  # Live track → the clip slot playing (< 0: none)

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self, context: TargetContext) -> None:
        super().open(context)
        if context.ports is not None:
            self._out = context.ports.output(self.port_name)
        offline = bool(context.options.get("out"))
        if not offline and self.config.get("osc", True) is not False:
            self.osc = self.make_osc()
            if self.osc.open():
                threading.Thread(target=self._warm_up, name="copilot-ableton-warmup", daemon=True).start()
            else:
                self._say(f"Ableton: {self.osc.error}; launches still go out, replies are not heard")

    def make_osc(self) -> AbletonOSC:
        s = self.osc_settings
        return AbletonOSC(str(s.get("host", "127.0.0.1")), int(s.get("osc_port", s.get("port", 11000))),
                          int(s.get("reply_port", 11001)), float(s.get("timeout", 0.5)))

    def _warm_up(self) -> None:
        """Off the hot threads: is AbletonOSC there, what are the FX parameters' ranges, follow Live's beat."""
        osc = self.osc
        if osc is None:
            return
        if osc.ping() is None:
            self._say(f"Ableton: AbletonOSC not installed/running (no answer at {osc.host}:{osc.port}); "
                      "CC envelopes still work, launches and FX parameters will not")
            return
        osc.start_beat_listener(self._on_live_beat)
        self._follow_decks(osc)
        for deck in range(self.capabilities().decks):
            for device, parameter in self.table.fx.values():
                osc.parameter_range(deck, device, parameter)

    def close(self) -> None:
        if self.osc is not None:
            with contextlib.suppress(Exception):
                self.osc.stop_beat_listener()
                for track in self._following:
                    self.osc.send("/live/track/stop_listen/playing_slot_index", track)
            self._following = []
            self.osc.close()
            self.osc = None
        self._out = None
        super().close()

    def send(self, payload: Any) -> None:
        if isinstance(payload, MidiOut):
            if self._out is None:
                self.dropped += 1
                return
            self._out.send(payload.data)
        elif isinstance(payload, OscOut):
            if self.osc is None:
                self.dropped += 1
                return
            self.osc.send(payload.address, *payload.args)
        else:
            raise TypeError(f"ableton-live cannot send {payload!r}")

    # -- what Live can take ------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(
            actions=frozenset({ActionKind.PLAY, ActionKind.PAUSE, ActionKind.LOOP, ActionKind.EXIT_LOOP,
                               ActionKind.FX, ActionKind.FX_OFF, ActionKind.DROP, ActionKind.TEMPO,
                               ActionKind.ENVELOPE, ActionKind.CONTROL, ActionKind.PANIC}),
            params=self.table.params(),
            # Rendered exactly per the table, but their effect depends on the rack/set the performer built.
            unconfirmed=frozenset({"LOOP", "EXIT_LOOP", "FX", "FX_OFF", "DROP"}),
            feedback=True,
            decks=4,
        )

    # -- rendering -----------------------------------------------------------------------------------
    def render(self, action: Action, state: HostState) -> list[Timed]:
        k = action.kind
        deck = action.deck.index if action.deck is not None else None
        if k is ActionKind.ENVELOPE:
            return self._envelope(action, deck)
        if k is ActionKind.CONTROL:
            b = self.table.binding(action.params["param"], deck)
            return self._value(action.beat, action.id, b, action.params["value"]) if b else []
        if k in (ActionKind.PLAY, ActionKind.PAUSE):
            return self._transport(action, deck)
        if k is ActionKind.LOOP:
            beats = float(action.params["beats"])
            return (self._macro(action.beat, action.id, LOOP_LENGTH, self.table.loop_value(beats))
                    + self._macro(action.beat, action.id, "roll", 1.0))
        if k is ActionKind.EXIT_LOOP:
            return self._macro(action.beat, action.id, "roll", 0.0)
        if k in (ActionKind.FX, ActionKind.FX_OFF):
            amount = float(action.params.get("amount", 1.0)) if k is ActionKind.FX else 0.0
            return self._fx(action, deck, str(action.params.get("name", "all")), amount)
        if k is ActionKind.DROP:
            scene = int(self.osc_settings.get("drop_scene", 1))
            return [Timed(self._launch_beat(action.beat), OscOut("/live/scene/fire", (scene,)), action.id)]
        if k is ActionKind.TEMPO:
            clock = self.context.clock if self.context else None
            if clock is not None and clock.peers > 0:
                return []  # Live is on the Link session: the session's clock carries the tempo to it
            return [Timed(action.beat, OscOut("/live/song/set/tempo", (float(action.params["bpm"]),)), action.id)]
        if k is ActionKind.PANIC:
            return self._panic(action)
        return []

    def _launch_beat(self, beat: float | None) -> float | None:
        """Live quantizes launches itself: send them `launch_lead` seconds before the boundary."""
        if beat is None:
            return None
        clock = self.context.clock if self.context else None
        tempo = clock.tempo if clock is not None else 120.0
        return beat - self.launch_lead * tempo / 60.0

    def _transport(self, action: Action, deck: int | None) -> list[Timed]:
        play = action.kind is ActionKind.PLAY
        if str(self.osc_settings.get("play", "transport")) == "clip" and deck is not None:
            slot = int(self.osc_settings.get("clip_slot", 0))
            address = "/live/clip/fire" if play else "/live/clip/stop"
            return [Timed(self._launch_beat(action.beat), OscOut(address, (deck, slot)), action.id)]
        key = "Play" if play else "Stop"
        number = self.table.transport.get(key)
        if number is None:
            return []
        # Under Link, Live starts its transport on the next quantum boundary: press Play just before it.
        # Stop is immediate in Live, so it goes on the beat itself.
        beat = self._launch_beat(action.beat) if play else action.beat
        ch = self.table.channel
        release = None if beat is None else beat + PRESS_BEATS
        return [Timed(beat, MidiOut(cc(ch, number, 127)), action.id),
                Timed(release, MidiOut(cc(ch, number, 0)), action.id)]

    def _macro(self, beat: float | None, action_id: str, param: str, value: float) -> list[Timed]:
        b = self.table.binding(param)
        return self._value(beat, action_id, b, value) if b else []

    def _value(self, beat: float | None, action_id: str, b: Binding, value: float) -> list[Timed]:
        return [Timed(beat, MidiOut(data), action_id, tied=i > 0) for i, data in enumerate(_cc_bytes(b, value))]

    def _envelope(self, action: Action, deck: int | None) -> list[Timed]:
        env = action.envelope
        if env is None:
            return []
        b = self.table.binding(env.param, deck)
        if b is None:
            return []
        out: list[Timed] = []
        last: tuple[bytes, ...] | None = None
        for beat, value in env.render(ENVELOPE_STEP, action.params.get("start_value")):
            data = tuple(_cc_bytes(b, value))
            if data != last:  # only what changes on the wire
                out += [Timed(beat, MidiOut(d), action.id, tied=i > 0) for i, d in enumerate(data)]
                last = data
        return out

    def _fx(self, action: Action, deck: int | None, name: str, amount: float) -> list[Timed]:
        where = self.table.fx.get(name)
        if where is not None and deck is not None and self.osc is not None:
            device, parameter = where
            msg = self.osc.parameter_message(deck, device, parameter, amount) if self._range_known(
                deck, device, parameter) else None
            if msg is not None:
                return [Timed(action.beat, OscOut(msg[0], msg[1]), action.id)]
            self._say(f"Ableton: the range of FX '{name}' (track {deck + 1}, device {device}, parameter "
                      f"{parameter}) is unknown (AbletonOSC not answering); riding the rack's FX macro instead",
                      once=f"fx-range-{name}")
        return self._macro(action.beat, action.id, "fx_depth", amount)

    def _range_known(self, track: int, device: int, parameter: int) -> bool:
        """Only cached ranges: render never waits on Live (ranges are fetched at open, off the hot path)."""
        return self.osc is not None and self.osc.range_cached(track, device)

    def _panic(self, action: Action) -> list[Timed]:
        out: list[Timed] = []
        for name, value in action.params.get("neutral", {}).items():
            spec = PARAMS.get(name)
            strips = range(self.capabilities().decks) if (spec and spec.per_deck) else [None]
            seen: set[tuple[int, int]] = set()
            for strip in strips:
                b = self.table.binding(name, strip)
                if b is None or (b.channel, b.cc) in seen:
                    continue
                seen.add((b.channel, b.cc))
                out += self._value(None, action.id, b, value)
        return out

    def load_note(self, pick: dict[str, Any] | None) -> str | None:
        # AbletonOSC has no browser and no load (issue #66, PRs open: shared/reference/hosts-loading.md).
        path = pick.get("path") if isinstance(pick, dict) else None
        where = f"; drag {path} onto a clip slot yourself" if path else ""
        return f"Live cannot be handed a track over AbletonOSC (no browser, no load): nothing is sent{where}"

    # -- feedback ----------------------------------------------------------------------------------------
    def deck_tracks(self) -> list[int]:
        """Live's track (0-based) behind decks A–D: `deck_tracks = [0, 1, 2, 3]` in [targets.ableton-live]."""
        tracks = self.config.get("deck_tracks") or range(self.capabilities().decks)
        return [int(t) for t in tracks]

    def _follow_decks(self, osc: AbletonOSC) -> None:
        """AbletonOSC pushes each deck's track state (the current value at once, then every change):
        which clip slot plays, then that clip's name. The safety rules then know every deck, not one."""
        osc.listen("/live/track/get/playing_slot_index", self._on_playing_slot)
        osc.listen("/live/clip/get/name", self._on_clip_name)
        for track in self.deck_tracks():
            if osc.send("/live/track/start_listen/playing_slot_index", track):
                self._following.append(track)

    def _deck_of(self, track: Any) -> Deck | None:
        tracks = self.deck_tracks()
        try:
            index = tracks.index(int(track))
        except (TypeError, ValueError):
            return None
        return Deck.from_index(index) if index < self.capabilities().decks else None

    def _on_playing_slot(self, params: tuple[Any, ...], t: float) -> None:
        """AbletonOSC's receive thread: `/live/track/get/playing_slot_index track slot` (slot < 0: none)."""
        if len(params) < 2 or not isinstance(params[1], int | float):
            return
        deck = self._deck_of(params[0])
        if deck is None:
            return
        track, slot = int(params[0]), int(params[1])
        self._playing_slot[track] = slot
        if slot >= 0:
            self._feed(DeckUpdate(deck, {"playing": True, "loaded": True}))
            if self.osc is not None:
                self.osc.send("/live/clip/get/name", track, slot)  # answered on this thread's next read
        else:
            self._feed(DeckUpdate(deck, {"playing": False}))

    def _on_clip_name(self, params: tuple[Any, ...], t: float) -> None:
        """`/live/clip/get/name track clip name`: the playing clip's name becomes the deck's track."""
        if len(params) < 3:
            return
        deck = self._deck_of(params[0])
        if deck is not None and self._playing_slot.get(int(params[0])) == params[1]:
            self._feed(DeckUpdate(deck, {"track": str(params[2])}))

    def _feed(self, update: DeckUpdate) -> None:
        ctx = self.context
        if ctx is None:
            return
        if ctx.feedback is not None:
            ctx.feedback(self.name, update)  # the session logs it and applies it through on_feedback
        else:
            ctx.state.apply_feedback(update)

    def on_feedback(self, message: Any) -> list[DeckUpdate]:
        """Live lights its Play button on the script's output port while the transport runs; AbletonOSC's
        deck updates (from the listeners above) pass through as they are."""
        if isinstance(message, DeckUpdate):
            return [message]
        if self._following:
            return []  # each deck's own clip says whether it plays; the transport lamp is no deck's
        play = self.table.transport.get("Play")
        heard = decode(message)
        if (play is None or heard is None or heard.kind != "cc" or heard.channel != self.table.channel
                or heard.number != play):
            return []
        return [DeckUpdate(Deck.A, {"playing": heard.on})]

    def _on_live_beat(self, beat: int, t: float) -> None:
        """Live's beat arrives a tick late; how late, against Link, says whether Live is on Link at all."""
        clock = self.context.clock if self.context else None
        if clock is None:
            return
        b = clock.beat_at_time(t)
        self._beat_lags.append((b - round(b)) * 60.0 / clock.tempo)
        if self.live_on_link() is False:
            self._say(f"Ableton: Live's beat is {self.beat_lag() * 1000:+.0f} ms off the Link grid and not steady "
                      "— is Link on in Live?", once="beat-lag")

    def live_on_link(self) -> bool | None:
        """Does Live's beat (AbletonOSC) agree with Link's grid? None until 8 beats were heard."""
        if len(self._beat_lags) < 8:
            return None
        q = statistics.quantiles(self._beat_lags, n=4)
        lag = statistics.median(self._beat_lags)
        return BEAT_LAG_WINDOW[0] <= lag <= BEAT_LAG_WINDOW[1] and q[2] - q[0] <= BEAT_LAG_SPREAD

    def beat_lag(self) -> float | None:
        """Median of (Live's beat arrival − Link's beat), seconds: ~+0.05..0.15 when Live is on Link."""
        return statistics.median(self._beat_lags) if self._beat_lags else None

    def health(self) -> dict[str, Any]:
        osc = self.osc
        return {
            "port": self.port_name,
            "dropped": self.dropped,
            "osc": None if osc is None else {"listening": osc.listening, "error": osc.error, **osc.stats.to_dict()},
            "live_beat_lag_ms": None if self.beat_lag() is None else round(self.beat_lag() * 1000, 1),
            "live_on_link": self.live_on_link(),
        }

    def _say(self, message: str, once: str | None = None) -> None:
        if once is not None:
            if once in self._warned:
                return
            self._warned.add(once)
        report = self.context.report if self.context else None
        (report or log.warning)(message)

    # -- files ---------------------------------------------------------------------------------------------
    def mapping_files(self) -> list[MappingFile]:
        return [MappingFile(f"{self.table.folder}/UserConfiguration.txt", user_configuration(self.table).encode(),
                            f"User Remote Script '{self.table.folder}': copilot's CCs → Live's device, mixer, "
                            "transport")]

    def mapping_folders(self) -> list[Path]:
        return user_script_folders()

    def install_steps(self) -> list[str]:
        t = self.table
        return [
            "Restart Live (it reads User Remote Scripts at start-up).",
            f"Settings > Link, Tempo & MIDI: Control Surface '{t.folder}', Input '{t.input_port}', "
            f"Output '{t.output_port}'; turn Link on (copilot joins the same session).",
            "For the MIDI ports of that row: Remote On (input), Remote On (output); Track and Sync off.",
            "Put the Copilot Rack (docs/ableton-live.md: macros 1-8 = filter, FX depth, room, energy, tension, "
            "tremolo, Beat Repeat on, Beat Repeat grid) on the track you ride and lock the blue hand to it.",
            "For launches and FX parameters install AbletonOSC (github.com/ideoforms/AbletonOSC) and pick it as "
            "a second Control Surface; `copilot doctor` says whether it answers.",
        ]


def _cc_bytes(b: Binding, value: float) -> list[bytes]:
    """One value on one control, after the mixer scale (capped to 0..1 by the encoder)."""
    return cc_bytes(b.channel, b.cc, value * b.scale, b.fourteen_bit)


# -- plugin hooks -----------------------------------------------------------------------------------------
@hookimpl
def copilot_targets(config: dict[str, Any]) -> list[Target]:
    return [AbletonLive(config.get(AbletonLive.name))]


@hookimpl
def copilot_doctor(config: dict[str, Any]) -> Sequence[Check]:
    from .host_evidence import session_evidence

    return [*doctor_checks(config.get(AbletonLive.name) or {}),
            session_evidence(AbletonLive.name, "Live", "install AbletonOSC, choose it as a Control Surface in "
                             "Live's settings and keep Live open while copilot starts")]


def _version(folder: Path) -> str:
    return next((part for part in folder.parts if part.startswith("Live ")), str(folder))


def doctor_checks(cfg: dict[str, Any], folders: list[Path] | None = None) -> list[Check]:
    target = AbletonLive(cfg)
    checks: list[Check] = []
    osc = target.make_osc()
    fix = ("install AbletonOSC (github.com/ideoforms/AbletonOSC) into Live's 'Remote Scripts' folder, "
           "choose it as a Control Surface in Live's settings, and keep Live open")
    if not osc.open():
        checks.append(Check("AbletonOSC", False, osc.error or "cannot listen for replies",
                            "stop the other program listening on that port, or set reply_port in copilot.toml"))
    else:
        rt = osc.ping()
        if rt is None:
            checks.append(Check("AbletonOSC", False, f"AbletonOSC not installed/running: nothing answered "
                                f"/live/test at {osc.host}:{osc.port} within {osc.timeout:g} s", fix))
        else:
            checks.append(Check("AbletonOSC", True, f"answers at {osc.host}:{osc.port} "
                                f"({rt * 1000:.0f} ms round trip)"))
    osc.close()
    folders = user_script_folders() if folders is None else folders
    if not folders:
        checks.append(Check("Ableton Live user script", True, "no Ableton Live preferences on this machine"))
    else:
        missing = [f for f in folders if not (f / target.table.folder / "UserConfiguration.txt").is_file()]
        if missing:
            versions = ", ".join(_version(f) for f in missing)
            checks.append(Check("Ableton Live user script", False,
                                f"'{target.table.folder}' is not installed for {versions}",
                                "copilot mappings install ableton-live"))
        else:
            checks.append(Check("Ableton Live user script", True,
                                f"'{target.table.folder}' installed for {len(folders)} Live version(s)"))
    return checks
