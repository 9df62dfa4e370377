"""The line protocol between the session's process and the view's: `<name> <json>\n` both ways.

Session → view: `config` (first, once), `state`, `lateness`, `decision`, `heard`, `motion`, `meters`,
`reply` (to a command). View → session: `command` ({"rid", "op", …}) and `clients` ({"n"}).
The JSON in a line is exactly what the page receives: the view forwards it without decoding it again.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_LINE = 1 << 20  # a line longer than this is a broken peer, not a message


def encode(name: str, payload: Any) -> bytes:
    """One line. Non-finite numbers become null (a browser's JSON.parse refuses NaN)."""
    try:
        text = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=_plain)
    except ValueError:
        text = json.dumps(_finite(payload), separators=(",", ":"), default=_plain)
    return f"{name} {text}\n".encode()


def decode(line: bytes) -> tuple[str, bytes]:
    """A line → (name, its JSON text as bytes); ValueError for anything else."""
    name, sep, body = line.rstrip(b"\n").partition(b" ")
    if not sep or not name.isalpha():
        raise ValueError(f"not a view line: {line[:40]!r}")
    return name.decode("ascii"), body


def _plain(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


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
    return {"text": data.get("text", ""), "confidence": data.get("confidence"), "intent": data.get("intent"),
            "reason": data.get("reason"), "latency_ms": data.get("latency_ms")}
