"""`copilot doctor`, per host: what the recent sessions *proved* (read back from their logs).

A one-shot doctor cannot see a host that answers only a running session (Serato sends its output
blocks to a port copilot opened; AbletonOSC replies to one client), so it reads what the newest
sessions recorded: the handshake `--target auto` saw (`detect`), the target chosen (`session`) and the
host's feedback (`feedback`). A host no session has used is not a fault.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from copilot.bridge.config import log_dir
from copilot.bridge.host import Check

SESSIONS = 20  # newest logs looked at
MAX_BYTES = 20_000_000  # per log: a long set's log is read up to here


def session_evidence(name: str, host: str, fix: str, logs: Path | None = None) -> Check:
    """The newest session that looked for or used `name`: proven or not, feedback seen or not."""
    folder = log_dir() if logs is None else Path(logs)
    paths = sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)[:SESSIONS]
    for path in paths:
        seen = _read(path, name)
        if seen is None:
            continue
        proven, hinted, chosen, feedback = seen
        where = f"last session {path.name}"
        if proven:
            return Check(f"{name} handshake", True, f"{where}: {host} proved itself — {proven}; "
                         f"{feedback} feedback message(s) from it")
        if chosen and feedback:
            return Check(f"{name} handshake", True, f"{where}: chosen by --target; {feedback} feedback "
                         f"message(s) from {host}")
        if chosen:
            return Check(f"{name} handshake", False, f"{where}: chosen, but {host} never answered "
                         f"(no handshake, no feedback){f' — {hinted}' if hinted else ''}", fix)
        return Check(f"{name} handshake", True, f"{where}: {host} was looked for and did not answer"
                     f"{f' ({hinted})' if hinted else ''}", fix)
    return Check(f"{name} handshake", True, f"no recent session used or found {host}")


def _read(path: Path, name: str) -> tuple[str, str, bool, int] | None:
    """(proof, hint, chosen, feedback messages) of `name` in one log, or None if it is not mentioned."""
    proven = hinted = ""
    chosen = mentioned = False
    feedback = 0
    try:
        with open(path, encoding="utf-8") as fh:
            read = 0
            for line in fh:
                read += len(line)
                if read > MAX_BYTES:
                    break
                if '"detect"' not in line and '"session"' not in line and '"feedback"' not in line:
                    continue
                try:
                    rec: dict[str, Any] = json.loads(line)
                except ValueError:
                    continue
                kind = rec.get("type")
                if kind == "detect":
                    proven = str(rec.get("proven", {}).get(name, "")) or proven
                    hinted = str(rec.get("hinted", {}).get(name, "")) or hinted
                    mentioned = True
                elif kind == "session" and name in rec.get("targets", []):
                    chosen = mentioned = True
                elif kind == "feedback" and chosen and rec.get("target", name) == name:
                    feedback += 1
    except OSError:
        return None
    return (proven, hinted, chosen, feedback) if mentioned else None
