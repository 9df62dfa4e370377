"""Text for a terminal: tables with headers and paragraphs that fit its width (80 columns when it is not a
terminal), wrapped between words. A path is never cut: when a column is too narrow for one, the table
is laid out one row per block instead. Plain text, so nothing in it ("[voice]") is taken for markup.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Sequence

GAP = "  "
NBSP = "\u00a0"  # holds a "header: value" pair together on one line (textwrap breaks at ASCII spaces only)
SOFT = re.compile(r"(?<=[_\-.,=/])")  # where a long word that is not a path may break (after _ - . , = /)


def width() -> int:
    """The terminal's width ($COLUMNS wins; 80 when there is no terminal)."""
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def wrap(text: str, indent: int = 0, first: str = "", total: int | None = None) -> list[str]:
    """`text` wrapped between words to the width; `first` prefixes the first line, the rest are indented
    to match. A word longer than a line (a long path) keeps a line of its own, whole."""
    total = total or width()
    rest = " " * (len(first) if first else indent)
    lead = first or " " * indent
    lines = textwrap.wrap(text, total, initial_indent=lead, subsequent_indent=rest, break_long_words=False,
                          break_on_hyphens=False)
    return lines or [lead.rstrip()]


PATH = re.compile(r"^(~|\.{0,2}/|[A-Za-z]:\\)")  # /root/x, ~/x, ./x, C:\x


def _is_path(word: str) -> bool:
    """A file path (never cut): it starts like one, or has folders in it — PLAY/PAUSE and 1/32 are words."""
    return bool(PATH.match(word)) or word.count("/") >= 2 or word.count("\\") >= 2


def _unbreakable(text: str) -> int:
    """The narrowest a cell can be: its longest path or word piece."""
    return max([len(w) if _is_path(w) else max(len(c) for c in SOFT.split(w) if c) for w in text.split()] or [1])


def _cell(text: str, room: int) -> list[str] | None:
    """One cell's lines within `room` columns, or None when only cutting a path would make it fit."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        chunks = [word]
        if len(word) > room:
            if _is_path(word):
                return None
            chunks = [c for c in SOFT.split(word) if c]
            if any(len(c) > room for c in chunks):
                return None
        for j, chunk in enumerate(chunks):  # the pieces of one word follow each other without a space
            sep = " " if current and j == 0 else ""
            if current and len(current) + len(sep) + len(chunk) > room:
                lines.append(current)
                current = chunk
            else:
                current += sep + chunk
    lines.append(current)
    return lines


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], total: int | None = None,
          right: Sequence[int] = ()) -> list[str]:
    """Rows under their headers, columns shrunk (widest first) and wrapped to fit the width; columns in
    `right` are right-aligned (numbers). Falls back to one block per row rather than cut a path."""
    total = total or width()
    cells = [[str(c) for c in row] for row in rows]
    n = len(headers)
    floor = [max(_unbreakable(x) for x in [headers[i], *(r[i] for r in cells)]) for i in range(n)]
    gap = next((g for g in (GAP, " ") if sum(floor) + len(g) * (n - 1) <= total), None)
    if gap is None:
        return blocks(headers, cells, total)
    widths = [max(len(x) for x in [headers[i], *(r[i] for r in cells)]) for i in range(n)]
    while sum(widths) + len(gap) * (n - 1) > total:
        widest = max((i for i in range(n) if widths[i] > floor[i]), key=lambda i: widths[i])
        widths[widest] -= 1
    out: list[str] = []
    for row, is_head in [(list(headers), True), *((r, False) for r in cells)]:
        parts = [_cell(text, widths[i]) or [text] for i, text in enumerate(row)]  # floors make every cell fit
        for k in range(max(len(p) for p in parts)):
            line = []
            for i, p in enumerate(parts):
                text = p[k] if k < len(p) else ""
                line.append(text.rjust(widths[i]) if i in right and not is_head else text.ljust(widths[i]))
            out.append(gap.join(line).rstrip())
        if is_head:
            out.append(gap.join("─" * w for w in widths))
    return out


def blocks(headers: Sequence[str], rows: Sequence[Sequence[str]], total: int | None = None) -> list[str]:
    """One block per row: its first cell, then "header: value" pairs wrapped beneath it. A value too long
    for a line (a path) has a line of its own, whole."""
    total = total or width()
    out: list[str] = []
    for row in rows:
        out.append(str(row[0]))
        pairs: list[str] = []
        for h, v in zip(headers[1:], row[1:], strict=True):
            if not str(v):
                continue
            pair = f"{h}: {v}"
            if len(pair) + 4 <= total:
                pairs.append(pair.replace(" ", NBSP))
                continue
            out += _joined(pairs, total)
            pairs = []
            words = str(v).split()
            if len(words) == 1:  # one long word: the header on its line, the word whole beneath it
                out += [f"    {h}:", " " * max(0, min(4, total - len(words[0]))) + words[0]]
            else:
                out += wrap(f"{h}: {v}", indent=4, total=total)
        out += _joined(pairs, total)
    return out


def _joined(pairs: list[str], total: int) -> list[str]:
    if not pairs:
        return []
    return [line.replace(NBSP, " ") for line in wrap(" · ".join(pairs), indent=4, total=total)]
