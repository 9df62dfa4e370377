"""Script files: one command per line, `<seconds after start> <command text>`.

    # warm-up
    0.0  play A
    2.5  loop 4 on deck A
    8    drop in 2

Blank lines and `#` comments are ignored. Every line is checked before a run starts: a malformed
line is reported with its line number and nothing runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .parser import parse
from .schema import Intent, Source


@dataclass(frozen=True)
class ScriptLine:
    at: float  # seconds after the start of the run
    text: str
    line: int
    intent: Intent


class ScriptError(ValueError):
    def __init__(self, path: str, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f"  line {n}: {why}" for n, why in problems)
        super().__init__(f"{path}: {len(problems)} malformed line(s); nothing was run\n{lines}")


def parse_script(text: str, name: str = "<script>") -> list[ScriptLine]:
    lines: list[ScriptLine] = []
    problems: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        head, _, command = body.partition(" ")
        try:
            at = float(head)
        except ValueError:
            problems.append((number, f"expected '<seconds> <command>', got {raw.strip()!r}"))
            continue
        if not math.isfinite(at) or at < 0:
            problems.append((number, f"the time must be zero or more seconds, got {head}"))
            continue
        command = command.strip()
        if not command:
            problems.append((number, "no command after the time"))
            continue
        result = parse(command, Source.SCRIPT)
        if result.intent is None:
            problems.append((number, f"{command!r}: {result.reason}"))
            continue
        lines.append(ScriptLine(at, command, number, result.intent))
    if problems:
        raise ScriptError(name, problems)
    return sorted(lines, key=lambda s: (s.at, s.line))


def load_script(path: Path | str) -> list[ScriptLine]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(str(p), [(0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(str(p), [(0, f"cannot read it: {exc}")]) from None
    return parse_script(text, str(p))
