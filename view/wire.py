"""What travels between the session's process and the view's, over their socket pair.

Session → view: frames (a 4-byte length, then `marshal` of `(name, payload)`): `config` (first, once),
`state`, `lateness`, `decision`, `heard`, `motion`, `meters`, `reply`. marshal because it costs the
session's process a few microseconds where JSON costs a hundred: the JSON every browser gets is made in
the view's process, off the session's interpreter lock. Only plain data goes in (dicts, lists, str,
numbers, None); the view's process only ever *loads* these frames, from the session it was started by.

View → session: JSON lines `<name> <json>\n` — `command` ({"rid", "op", …}) and `clients` ({"n"}). The
session never unmarshals anything: what comes back has been through HTTP, so it is parsed as JSON and
checked like any other intent.
"""

from __future__ import annotations

import json
import marshal
import math
import numbers
import struct
from typing import Any

MAX_LINE = 1 << 20  # a line or frame longer than this is a broken peer, not a message
_LENGTH = struct.Struct(">I")


# -- session → view -----------------------------------------------------------------------------------------
def frame(name: str, payload: Any) -> bytes:
    try:
        body = marshal.dumps((name, payload))
    except ValueError:  # a numpy number or an enum somewhere: make it plain first
        body = marshal.dumps((name, plain(payload)))
    return _LENGTH.pack(len(body)) + body


class Frames:
    """Frames out of a byte stream, however it was cut into reads."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        self._buf += data
        out = []
        while len(self._buf) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buf)
            if size > MAX_LINE:
                raise ValueError(f"a frame of {size} bytes")
            if len(self._buf) < _LENGTH.size + size:
                break
            body = bytes(self._buf[_LENGTH.size:_LENGTH.size + size])
            del self._buf[:_LENGTH.size + size]
            name, payload = marshal.loads(body)
            out.append((str(name), payload))
        return out


def plain(obj: Any) -> Any:
    """Dicts, lists, str, int, float, bool and None only (marshal takes these exact types, no subclasses)."""
    if obj is None or type(obj) in (str, bool, int, float):
        return obj
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [plain(v) for v in obj]
    value = getattr(obj, "value", None)  # an enum
    if type(value) in (str, int, float):
        return value
    item = getattr(obj, "item", None)  # a numpy scalar
    if callable(item):
        return plain(item())
    if isinstance(obj, numbers.Real):
        return float(obj)
    return str(obj)


def to_json(payload: Any) -> bytes:
    """JSON a browser accepts: non-finite numbers become null (JSON.parse refuses NaN)."""
    try:
        return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(payload), separators=(",", ":")).encode()


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


# -- view → session -------------------------------------------------------------------------------------------
def line(name: str, payload: Any) -> bytes:
    return name.encode("ascii") + b" " + to_json(payload) + b"\n"


def read_line(raw: bytes) -> tuple[str, Any]:
    """A line → (name, its JSON value); ValueError for anything else."""
    name, sep, body = raw.rstrip(b"\n").partition(b" ")
    if not sep or not name.isalpha():
        raise ValueError(f"not a view line: {raw[:40]!r}")
    return name.decode("ascii"), json.loads(body)


# -- what the page is shown ------------------------------------------------------------------------------------
def decision_json(decision: Any) -> dict[str, Any]:
    """A scheduler Decision as the page shows it: what, verdict, why, when, which actions."""
    intent = decision.intent
    return {
        "id": intent.id, "kind": intent.kind.value, "deck": intent.deck.value if intent.deck else None,
        "source": intent.source.value, "text": intent.text, "what": intent.describe(),
        "verdict": decision.verdict.value, "reason": decision.reason, "beat": decision.beat, "at": decision.at,
        "actions": [a.id for a in decision.actions],
    }


def heard_json(heard: Any) -> dict[str, Any]:
    """What voice heard (voice.listener.Heard), or any object with to_dict()."""
    data = heard.to_dict() if hasattr(heard, "to_dict") else dict(heard)
    return plain({"text": data.get("text", ""), "confidence": data.get("confidence"), "intent": data.get("intent"),
                  "reason": data.get("reason"), "latency_ms": data.get("latency_ms")})
