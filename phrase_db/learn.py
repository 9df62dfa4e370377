"""`copilot transitions learn LOG...`: the performer's own transitions, read from session logs, as templates.

A session log (bridge/log.py) holds every decision with its actions and every message sent. From it
this module rebuilds, beat by beat, what each deck was doing — playing or not (PLAY, PAUSE, CUE, LOAD),
and where its channel strip stood: crossfader, fader, EQ, filter, FX send, from the envelopes of the
performer's own intents ("crossfade to B over 8 bars", "kill the bass on A") and from the continuous
moves they made (motion, pads: the CONTROL messages the log shows going out, read back through the
target's mapping table). Intents of the planner and template transitions are left out: they are not
the performer's hand.

A *hand-made transition* is a span of at least a bar where both decks of a pair are audible (playing,
fader up, not crossfaded away) and the mixer moves, with one deck audible before it and the other
after. It is normalised to a template: time 0 → 1 over the span snapped to whole bars, decks named by
role (`out`, `in`), the crossfader read as "toward the incoming deck", each curve thinned to the few
corners that carry its shape (Ramer–Douglas–Peucker, 0.02). The template keeps the `context` it was
made in — the two tracks' Camelot distance, tempo change, energy step and phrase roles, when the log's
LOADs carried them — which the planner compares with the pairs it mixes (mixing.choose_template).
Saved as JSON beside the bundled templates (transitions.user_folder), it is in use at once.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.bridge.envelope import Envelope
from copilot.bridge.params import PARAMS
from copilot.intents.schema import Deck

from .keys import Key, camelot_distance
from .transitions import Template, user_folder

MIX_PARAMS = ("crossfader", "volume", "eq_low", "eq_mid", "eq_high", "filter", "fx_send")
STEP = 0.25  # beats between the samples a span is read at
AUDIBLE = 0.05  # a fader or crossfader gain below this is silence
TOLERANCE = 0.02  # curve simplification: corners that move a curve less than this go
MIN_BEATS = 4.0  # a transition lasts a bar at least
NOT_HAND_MADE = ("planner",)
TEMPLATE_KINDS = ("TRANSITION", "NEXT")  # already a template: nothing to learn from them


@dataclass
class Curve:
    """A parameter's value over beats: a step function through (beat, value) samples, last one wins."""

    beats: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, beat: float, value: float) -> None:
        i = bisect.bisect_right(self.beats, beat)
        self.beats.insert(i, beat)
        self.values.insert(i, value)

    def at(self, beat: float, default: float) -> float:
        i = bisect.bisect_right(self.beats, beat)
        return self.values[i - 1] if i else default

    def moves_between(self, a: float, b: float, default: float) -> bool:
        values = [self.at(a, default)] + [v for t, v in zip(self.beats, self.values, strict=True) if a < t <= b]
        return max(values) - min(values) > 0.05


@dataclass
class DeckLife:
    """One deck's transport and tracks over the log: (beat, playing) and (beat, track, cue) events."""

    transport: list[tuple[float, bool]] = field(default_factory=list)
    loads: list[tuple[float, dict[str, Any], float]] = field(default_factory=list)

    def playing(self, beat: float) -> bool:
        state = False
        for b, on in self.transport:
            if b > beat:
                break
            state = on
        return state

    def track_at(self, beat: float) -> tuple[dict[str, Any] | None, float | None]:
        """The track on the deck at `beat`, and the clock beat its beat 0 sounded on (if it played)."""
        loaded = [(b, t, cue) for b, t, cue in self.loads if b <= beat]
        if not loaded:
            return None, None
        b0, track, cue = loaded[-1]
        starts = [b for b, on in self.transport if on and b0 <= b <= beat]
        return track, (starts[0] - cue if starts else None)


@dataclass
class Learned:
    name: str
    template: Template
    source: str
    start: float
    end: float
    path: Path | None = None


class SessionReading:
    """A session log read back into decks and curves (see the module docstring)."""

    def __init__(self, records: Iterable[Mapping[str, Any]], name: str = "log") -> None:
        self.name = name
        self.quantum = 4.0
        self.curves: dict[tuple[str, str | None], Curve] = {}
        self.decks: dict[str, DeckLife] = {}
        self.first, self.last = math.inf, -math.inf
        hand_actions: dict[str, str] = {}  # action id → intent source, for actions the log decided
        sent: list[Mapping[str, Any]] = []
        targets: set[str] = set()
        for r in records:
            kind = r.get("type")
            if kind == "session":
                self.quantum = float((r.get("options") or {}).get("quantum") or 4.0)
                targets |= set(r.get("targets") or [])
            elif kind == "decision":
                self._decision(r["decision"], hand_actions)
            elif kind == "sent":
                sent.append(r)
        self._moves(sent, hand_actions, targets)

    # -- reading --------------------------------------------------------------------------------------------
    def _decision(self, d: Mapping[str, Any], seen: dict[str, str]) -> None:
        intent = d.get("intent") or {}
        source = str(intent.get("source", ""))
        hand = source not in NOT_HAND_MADE and intent.get("kind") not in TEMPLATE_KINDS
        if d.get("verdict") not in ("scheduled", "done"):
            return
        for a in d.get("actions") or []:
            seen[str(a.get("id"))] = source
            beat, deck = a.get("beat"), a.get("deck")
            if beat is None:
                continue
            self._span(float(beat))
            life = self.decks.setdefault(deck, DeckLife()) if deck else None
            kind = a.get("kind")
            if life is not None and kind in ("PLAY", "PAUSE", "CUE"):
                life.transport.append((float(beat), kind == "PLAY"))
                life.transport.sort(key=lambda e: e[0])
            elif life is not None and kind == "LOAD":
                params = a.get("params") or {}
                track = dict(params.get("resolved") or {"title": params.get("title") or params.get("query")})
                life.loads.append((float(beat), track, float(params.get("cue") or 0.0)))
                life.transport.append((float(beat), False))
                life.transport.sort(key=lambda e: e[0])
            elif kind == "ENVELOPE" and a.get("envelope") and hand:
                env = Envelope.from_dict(a["envelope"])
                if env.param in MIX_PARAMS:
                    curve = self.curves.setdefault((env.param, env.deck), Curve())
                    for b, v in env.render(STEP, (a.get("params") or {}).get("start_value")):
                        curve.add(b, v)
                        self._span(b)

    def _moves(self, sent: list[Mapping[str, Any]], decided: dict[str, str], targets: set[str]) -> None:
        """Continuous moves (no decision behind them): engine CONTROL commands and host CCs."""
        tables = _tables(targets)
        pending: dict[tuple[str, int, int], int] = {}  # 14-bit: (target, channel, msb number) → msb
        for r in sent:
            if str(r.get("action")) in decided or r.get("beat") is None:
                continue
            beat = float(r["beat"])
            if r.get("engine") == "control":
                param, value = r["args"][0], float(r["args"][1])
                if param in MIX_PARAMS:
                    self.curves.setdefault((param, r.get("deck") if PARAMS[param].per_deck else None),
                                           Curve()).add(beat, value)
                    self._span(beat)
            elif isinstance(r.get("midi"), str) and r.get("target") in tables:
                moved = _decode_cc(tables[r["target"]], bytes.fromhex(r["midi"]), pending, r["target"])
                if moved is not None and moved[0] in MIX_PARAMS:
                    param, deck, value = moved
                    self.curves.setdefault((param, deck), Curve()).add(beat, value)
                    self._span(beat)

    def _span(self, beat: float) -> None:
        self.first, self.last = min(self.first, beat), max(self.last, beat)

    # -- what the room heard ----------------------------------------------------------------------------------
    def level(self, param: str, deck: str | None, beat: float) -> float:
        curve = self.curves.get((param, deck if PARAMS[param].per_deck else None))
        neutral = PARAMS[param].neutral
        return neutral if curve is None else curve.at(beat, neutral)

    def audible(self, deck: str, beat: float) -> bool:
        life = self.decks.get(deck)
        if life is None or not life.playing(beat):
            return False
        x = self.level("crossfader", None, beat)
        gain = math.cos(0.5 * math.pi * x) if Deck(deck).index % 2 == 0 else math.sin(0.5 * math.pi * x)
        return self.level("volume", deck, beat) > AUDIBLE and gain > AUDIBLE

    # -- finding transitions -----------------------------------------------------------------------------------
    def transitions(self) -> list[tuple[str, str, float, float]]:
        """(out deck, in deck, first beat, last beat) of every hand-made transition."""
        found = []
        if not math.isfinite(self.first):
            return found
        for a, b in (("A", "B"), ("C", "D")):
            if a not in self.decks or b not in self.decks:
                continue
            beats = [self.first + k * STEP for k in range(int((self.last - self.first) / STEP) + 2)]
            both = [self.audible(a, t) and self.audible(b, t) for t in beats]
            k = 0
            while k < len(beats):
                if not both[k]:
                    k += 1
                    continue
                j = k
                while j + 1 < len(beats) and both[j + 1]:
                    j += 1
                s, e = beats[k], beats[j]
                k = j + 1
                if e - s < MIN_BEATS:
                    continue
                before, after = s - 2 * STEP, e + 2 * STEP
                out = [d for d in (a, b) if self.audible(d, before) and not self.audible(d, after)]
                into = [d for d in (a, b) if self.audible(d, after) and not self.audible(d, before)]
                if len(out) != 1 or len(into) != 1:
                    continue
                moved = any(self.curves[key].moves_between(s - self.quantum, e + self.quantum,
                                                            PARAMS[key[0]].neutral)
                            for key in self.curves if key[1] in (a, b, None))
                if moved:
                    found.append((out[0], into[0], s, e))
        return sorted(found, key=lambda f: f[2])

    def template(self, out: str, into: str, s: float, e: float, name: str) -> Template:
        """The span as a template: bars snapped outward, time 0 → 1, roles for decks, corners thinned."""
        q = self.quantum
        start = math.floor(s / q + 1e-9) * q
        end = max(start + q, math.ceil((e + STEP) / q - 1e-9) * q)
        span = end - start
        mirror = Deck(into).index % 2 == 0
        curves = []
        for param in MIX_PARAMS:
            for role, deck in ((None, None),) if not PARAMS[param].per_deck else (("out", out), ("in", into)):
                key = (param, deck)
                if key not in self.curves:
                    continue
                n = int(span / STEP)
                pts = []
                for k in range(n + 1):
                    t = start + k * STEP
                    v = self.level(param, deck, t)
                    if param == "crossfader" and mirror:
                        v = 1.0 - v
                    pts.append((k / n, min(1.0, max(0.0, v))))
                if max(v for _, v in pts) - min(v for _, v in pts) <= 0.05 and \
                        abs(pts[0][1] - PARAMS[param].neutral) <= 0.05:
                    continue  # it neither moved nor sat away from neutral: not part of the move
                kept = simplify(pts, TOLERANCE)
                curves.append({"param": param, "deck": role, "points": [[round(t, 4), round(v, 4), "linear"]
                                                                        for t, v in kept]})
        data = {"name": name, "description": f"learned from {self.name}, beats {start:g}–{end:g} ({out}→{into})",
                "bars": round(span / q), "grid": "beat", "curves": curves,
                "context": self.context(out, into, start, end), "learned": True}
        return Template.from_dict(slug(name), data)

    def context(self, out: str, into: str, beat: float, end: float) -> dict[str, Any]:
        """The situation the transition was made in (what the LOADs told the log about both tracks)."""
        facts: dict[str, Any] = {}
        (ta, anchor_a), (tb, anchor_b) = self.decks[out].track_at(beat), self.decks[into].track_at(end)
        ka, kb = _key(ta), _key(tb)
        if ka and kb:
            facts["key_distance"] = camelot_distance(ka, kb)
        if ta and tb and ta.get("bpm") and tb.get("bpm"):
            facts["tempo_percent"] = round(100 * (float(tb["bpm"]) / float(ta["bpm"]) - 1), 2)
        pa = _phrase(ta, None if anchor_a is None else beat - anchor_a)
        pb = _phrase(tb, None if anchor_b is None else beat - anchor_b)
        if pa and pb and pa.get("energy") is not None and pb.get("energy") is not None:
            facts["energy_step"] = round(float(pb["energy"]) - float(pa["energy"]), 3)
        if pa:
            facts["out_label"] = pa.get("label")
        if pb:
            facts["in_label"] = pb.get("label")
        return facts


def simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Ramer–Douglas–Peucker on (t, value): the corners that keep the curve within `tolerance`."""
    if len(points) <= 2:
        return points
    (t0, v0), (t1, v1) = points[0], points[-1]
    worst, at = -1.0, 0
    for i in range(1, len(points) - 1):
        t, v = points[i]
        line = v0 + (v1 - v0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.0)
        if abs(v - line) > worst:
            worst, at = abs(v - line), i
    if worst <= tolerance:
        return [points[0], points[-1]]
    return simplify(points[: at + 1], tolerance)[:-1] + simplify(points[at:], tolerance)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "learned"


def learn(logs: Iterable[Path], name: str | None = None, folder: Path | None = None,
          save: bool = True) -> list[Learned]:
    """Every hand-made transition in the logs, as templates (saved into `folder` unless `save` is off)."""
    from copilot.bridge.log import read_log

    out: list[Learned] = []
    folder = folder or user_folder()
    for log in logs:
        try:  # a file that is JSON Lines but not a session log is said as such, not a crash half-way
            reading = SessionReading([r for r in read_log(log) if isinstance(r, dict)], Path(log).name)
            found = reading.transitions()
        except (AttributeError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"{log} is not a copilot session log ({type(exc).__name__}: {exc})") from None
        for n, (a, b, s, e) in enumerate(found, 1):
            label = name or f"{Path(log).stem} {n}"
            if name and len(out):
                label = f"{name} {len(out) + 1}"
            tpl = reading.template(a, b, s, e, label)
            item = Learned(tpl.id, tpl, str(log), s, e)
            if save:
                folder.mkdir(parents=True, exist_ok=True)
                item.path = folder / f"{tpl.id}.json"
                tmp = item.path.with_name(f".{item.path.name}.tmp")
                tmp.write_text(json.dumps(tpl.to_dict(), indent=1))
                tmp.replace(item.path)
            out.append(item)
    return out


def _key(track: Mapping[str, Any] | None) -> Key | None:
    text = (track or {}).get("key")
    if not text:
        return None
    try:
        return Key.parse(str(text).split("(")[0].strip())
    except ValueError:
        return None


def _phrase(track: Mapping[str, Any] | None, beat: float | None) -> Mapping[str, Any] | None:
    phrases = (track or {}).get("phrases") or []
    if not phrases:
        return None
    if beat is None:
        return phrases[-1]
    inside = [p for p in phrases if 4 * float(p["start_bar"]) <= beat + 1e-6]
    return inside[-1] if inside else phrases[0]


def _tables(targets: set[str]) -> dict[str, Any]:
    from copilot.mappings.table import TableError, load_table

    out = {}
    for name in targets:
        try:
            out[name] = load_table(name)
        except (TableError, OSError, KeyError, ValueError):
            continue  # not a table target (the engine, a monitor): its moves are read elsewhere or not at all
    return out


def _decode_cc(table: Any, data: bytes, pending: dict[tuple[str, int, int], int],
               target: str) -> tuple[str, str | None, float] | None:
    """One CC a host was sent → (parameter, deck, value), pairing 14-bit MSB and LSB."""
    from copilot.bridge.midi import decode

    heard = decode(data)
    if heard is None or heard.kind != "cc":
        return None
    control = table.by_wire("cc", heard.channel, heard.number)
    if control is None or not control.row.param:
        return None
    deck = control.deck.value if control.deck else None
    if not control.row.fourteen_bit:
        return control.row.param, deck, heard.value / 127.0
    if heard.number == control.row.number:  # the MSB: wait for its LSB (number + 32)
        pending[(target, heard.channel, heard.number)] = heard.value
        return None
    msb = pending.pop((target, heard.channel, heard.number - 32), None)
    if msb is None:
        return None
    return control.row.param, deck, ((msb << 7) | heard.value) / 16383.0
