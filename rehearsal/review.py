"""The after-show review: the transitions a set really played, read from its session log, become
candidates the sandbox renders and the critic scores like any rehearsed one (`copilot rehearse --log`).

A played transition is the session's `plan` record (the mixer's plan and what its two decks held) whose
decision was accepted. It is rehearsed on the same lines: the outgoing track left from the bar it was on
at the plan's start, the incoming one entered on its cue, with the same template over the same bars.
What the performer did by hand during it (a fader, an EQ) is not in the plan and is not replayed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.phrase_db.store import TrackRecord

from .candidate import Candidate

ACCEPTED = ("scheduled", "done")


@dataclass
class Review:
    """What a log held: the candidates, and one line for each played transition that cannot be rehearsed."""

    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unreadable_lines: int = 0


def played(log: Path, tracks: Sequence[TrackRecord]) -> Review:
    """The accepted transitions of session log `log`, matched to `tracks` (a crate or a phrase database)
    by file."""
    review = Review()
    plans: dict[str, dict[str, Any]] = {}
    accepted: list[str] = []
    for record in _records(log, review):
        if record.get("type") == "plan" and isinstance(record.get("plan"), dict):
            plans[str(record.get("intent_id"))] = record
        elif record.get("type") == "decision":
            decision = record.get("decision") or {}
            intent_id = str((decision.get("intent") or {}).get("id"))
            if decision.get("verdict") in ACCEPTED and intent_id in plans and intent_id not in accepted:
                accepted.append(intent_id)
    by_file = {_file(t.path): t for t in tracks}
    for intent_id in accepted:
        try:
            found = _candidate(plans[intent_id], by_file, log)
        except (AttributeError, TypeError, ValueError, KeyError):  # a hand-edited or torn record
            found = f"the plan record of intent {intent_id} is damaged"
        if isinstance(found, str):
            review.skipped.append(found)
        else:
            review.candidates.append(found)
    return review


def _records(log: Path, review: Review) -> Iterator[dict[str, Any]]:
    with open(log, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                review.unreadable_lines += 1
                continue
            if isinstance(record, dict):
                yield record


def _candidate(record: dict[str, Any], by_file: dict[str, TrackRecord], log: Path) -> Candidate | str:
    plan, decks = record["plan"], record.get("decks") or {}
    out_deck, in_deck = str(plan.get("out")), str(plan.get("in"))
    where = f"the {plan.get('template', '?')} {out_deck}→{in_deck} at beat {_num(plan.get('start')):g}"
    out_d, in_d = decks.get(out_deck) or {}, decks.get(in_deck) or {}
    load = next((s for s in plan.get("steps", []) if s.get("kind") == "LOAD" and s.get("deck") == in_deck), None)
    in_path = ((load.get("params") or {}).get("resolved") or {}).get("path") if load else in_d.get("path")
    in_cue = (load.get("params") or {}).get("cue") if load else in_d.get("position")
    out_anchor = out_d.get("anchor")
    if not out_d.get("path") or not in_path:
        return f"{where}: the log does not say which tracks the decks held"
    if out_anchor is None:
        return f"{where}: the log does not say where deck {out_deck}'s track was"
    out_track, in_track = by_file.get(_file(out_d["path"])), by_file.get(_file(in_path))
    for path, track in ((out_d["path"], out_track), (in_path, in_track)):
        if track is None:
            return f"{where}: {Path(path).name} is not in the crate or database given; analyse it first"
    assert out_track is not None and in_track is not None
    start = _num(plan.get("start"))
    exit_bar = max(0, round((start - _num(out_anchor)) / 4.0))
    entry_bar = max(0, math.floor(_num(in_cue or 0.0) / 4.0 + 1e-9))
    return Candidate(out_track, in_track, str(plan.get("template")), entry_bar=entry_bar, exit_bar=exit_bar,
                     bars=int(plan.get("bars") or 16), source=f"log:{log.name}",
                     label=f"as played at beat {start:g}")


def _file(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return str(path)


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0
