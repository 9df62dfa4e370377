"""Motion settings from `copilot run` options and the [motion] table of copilot.toml.

    [motion]
    osc = "127.0.0.1:9200"        # or a list; a LAN address needs `allow`
    mocopi = 12351                # or "HOST:PORT", or a list
    allow = ["192.168.1.0/24"]
    performer = "alice"           # the profile (calibration) unnamed devices use
    deck = "auto"                 # per-deck parameters go to: auto (the playing deck), A–D
    iterations = 4                # K, fixed-point steps per frame (3–4)
    halpern = false
    record = "~/takes/tonight.jsonl"   # keep a take of everything that arrives
    [motion.devices."gyrosc@192.168.1.23"]
    limb = "left_hand"
    performer = "bob"
    [motion.performers.bob]
    deck = "B"
    [motion.map.fx_depth]         # change a mapping row, or `enabled = false`
    hi = 0.6
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from typing import Any

from copilot.bridge.config import ALLOW, BIND
from copilot.bridge.params import PARAMS
from copilot.bridge.settings import PATH, Choice, ListOf, Num, Switch, Table, Text

from .limbs import limb_name
from .mapper import DEFAULT_MAPPINGS, SOURCES, Mapping, mappings_from_config
from .mocopi import DEFAULT_PORT as MOCOPI_PORT
from .profile import safe_name
from .registry import DEFAULT_PERFORMER, DeviceRule
from .sources import DEFAULT_HOST, Bind

DECKS = ("auto", "A", "B", "C", "D")


def _list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _deck(value: Any) -> str | None:
    if value is None or str(value).lower() in ("none", "global", ""):
        return None
    text = str(value).strip()
    text = "auto" if text.lower() == "auto" else text.upper()
    if text not in DECKS:
        raise ValueError(f"motion deck must be auto or A–D, not {value!r}")
    return text


def _binds(flag: Any, configured: Any) -> list[Bind]:
    """The command line wins; a bare port on it keeps the host copilot.toml names (so `--mocopi 12351`
    with `mocopi = "0.0.0.0:12351"` in the file still listens on the LAN)."""
    from_file = [Bind.parse(v) for v in _list(configured)]
    if not _list(flag):
        return from_file
    host = from_file[0].host if from_file else DEFAULT_HOST
    return [Bind.parse(v, default_host=host) for v in _list(flag)]


@dataclass
class MotionSettings:
    osc: list[Bind] = field(default_factory=list)
    mocopi: list[Bind] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    rules: list[DeviceRule] = field(default_factory=list)
    performer: str = DEFAULT_PERFORMER
    deck: str | None = "auto"
    performer_decks: dict[str, str | None] = field(default_factory=dict)
    performer_profiles: dict[str, str] = field(default_factory=dict)
    profiles_dir: str | None = None
    iterations: int = 4
    halpern: bool = False
    record: str | None = None
    mappings: tuple[Mapping, ...] = DEFAULT_MAPPINGS

    @property
    def wanted(self) -> bool:
        return bool(self.osc or self.mocopi)

    def profile_name(self, performer: str) -> str:
        return self.performer_profiles.get(performer, performer)

    @classmethod
    def build(cls, options: MappingType[str, Any] | None = None, section: MappingType[str, Any] | None = None
              ) -> MotionSettings:
        """Command-line options win over copilot.toml; ValueError names the bad setting."""
        opts = dict(options or {})
        extra = dict(opts.get("extra") or {})
        sec = dict(section or {})
        s = cls()
        s.osc = _binds(opts.get("motion_osc"), sec.get("osc"))
        s.mocopi = _binds(MOCOPI_PORT if opts.get("mocopi") is True else opts.get("mocopi"), sec.get("mocopi"))
        s.allow = [str(a) for a in _list(opts.get("allow")) + _list(sec.get("allow"))]
        s.performer = str(extra.get("motion_performer") or sec.get("performer") or DEFAULT_PERFORMER)
        s.deck = _deck(extra.get("motion_deck", sec.get("deck", "auto")))
        s.iterations = int(extra.get("motion_iterations", sec.get("iterations", 4)))
        if not 1 <= s.iterations <= 16:
            raise ValueError(f"[motion] iterations must be 1–16 (3–4 is the design), not {s.iterations}")
        s.halpern = bool(extra.get("motion_halpern", sec.get("halpern", False)))
        s.profiles_dir = extra.get("motion_profiles") or sec.get("profiles")
        s.record = extra.get("motion_record") or sec.get("record")
        for pattern, fields in dict(sec.get("devices") or {}).items():
            if not isinstance(fields, MappingType):
                raise ValueError(f"[motion.devices.{pattern!r}] must be a table")
            limb = fields.get("limb")
            s.rules.append(DeviceRule(pattern, limb_name(limb) if limb else None, fields.get("performer"),
                                      float(fields["nominal_hz"]) if "nominal_hz" in fields else None))
        s.rules = [DeviceRule.parse(r) for r in _list(extra.get("motion_limb"))] + s.rules
        for name, fields in dict(sec.get("performers") or {}).items():
            if "deck" in fields:
                s.performer_decks[name] = _deck(fields["deck"])
            if "profile" in fields:
                s.performer_profiles[name] = str(fields["profile"])
        s.mappings = mappings_from_config(dict(sec.get("map") or {}))
        return s


def _check(section: dict[str, Any]) -> None:
    """What only the whole table can tell (a mapping row's range inside its parameter's caps …)."""
    MotionSettings.build({}, section)


NAME = Text("a name of letters, digits, '.', '_' or '-'", check=safe_name)
DECK = Choice((*DECKS, "global", "none"), fold=True)
BINDS = ListOf(BIND, single=True)
# The [motion] table of copilot.toml.
MOTION = Table({
    "osc": BINDS, "mocopi": BINDS, "allow": ListOf(ALLOW, single=True), "performer": NAME, "deck": DECK,
    "iterations": Num(1, 16, "steps", integer=True), "halpern": Switch(), "record": PATH, "profiles": PATH,
    "devices": Table(each=Table({"limb": Text("a limb name", check=limb_name), "performer": NAME,
                                 "nominal_hz": Num(1.0, 1000.0, "Hz")}), what="a table of device pattern → limb"),
    "performers": Table(each=Table({"deck": DECK, "profile": NAME}), what="a table of performer → settings"),
    "map": Table(each=Table({
        "source": Choice(SOURCES), "lo": Num(0.0, 1.0), "hi": Num(0.0, 1.0), "threshold": Num(0.0, 0.99),
        "curve": Num(0.0, 10.0, above=True), "min_cutoff": Num(0.01, 100.0, "Hz"), "beta": Num(0.0, 100.0),
        "slope": Num(0.0, 100.0, "per beat", above=True), "only_if_target_can": Switch(), "enabled": Switch(),
    }), names=sorted(PARAMS), what="a table of parameter → mapping row"),
}, check=_check)
