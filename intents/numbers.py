"""Numbers as people say them and as Whisper writes them, turned into plain digits.

    thirty two → 32 · one hundred and eighteen → 118 · one twenty four → 124 (how DJs say tempos)
    one eighteen → 118 · a half / one half / 1/2 / ½ → 0.5 · one point five → 1.5 · 50% → 50 percent
    +2 → plus 2 · −3 → minus 3 · 8-bar → 8 bar

Only the text changes; deciding what a number *means* (beats, bars, BPM) is the grammar's job.
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}
FRACTIONS = {"half": 0.5, "halves": 0.5, "quarter": 0.25, "quarters": 0.25, "eighth": 0.125, "eighths": 0.125,
             "sixteenth": 0.0625, "thirty-second": 0.03125}
_UNICODE_FRACTIONS = {"½": "1/2", "¼": "1/4", "¾": "3/4", "⅛": "1/8"}
_NUMBER_WORDS = {**UNITS, **TEENS, **TENS}


def fmt(x: float) -> str:
    """12.0 → '12', 0.5 → '0.5' (no float noise in the canonical text)."""
    return f"{x:g}"


def spell_symbols(text: str) -> str:
    """Symbols Whisper likes ('50%', '+2', '-3', '8-bar', '1/4', '½') as words and bare numbers."""
    for sym, frac in _UNICODE_FRACTIONS.items():
        text = text.replace(sym, f" {frac} ")
    text = text.replace("%", " percent ")
    text = re.sub(r"(?<![\w.])\+\s*(?=\d)", " plus ", text)
    text = re.sub(r"(?<![\w.])[-−–]\s*(?=\d)", " minus ", text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 → 1000
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)  # 124bpm, a4 → 124 bpm, a 4
    return text


def words_to_numbers(text: str) -> str:
    """Number words in already-lowercased, space-separated text → digits (see the module docstring)."""
    tokens = text.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if re.fullmatch(r"\d+/\d+", tok):
            num, den = (int(p) for p in tok.split("/"))
            out.append(fmt(num / den) if den else tok)
            i += 1
            continue
        if tok in ("a", "one", "an") and i + 1 < len(tokens) and tokens[i + 1] in FRACTIONS:
            out.append(fmt(FRACTIONS[tokens[i + 1]]))
            i += 2
            continue
        if tok in FRACTIONS and not (out and _is_number(out[-1])):
            out.append(fmt(FRACTIONS[tok]))
            i += 1
            continue
        if tok in _NUMBER_WORDS or (tok in ("hundred", "thousand") and out and out[-1].isdigit()):
            start_from = int(out.pop()) if tok in ("hundred", "thousand") else None
            value, i = _read_number(tokens, i, start_from)
            out.append(fmt(value))
            continue
        if tok == "point" and out and _is_number(out[-1]) and i + 1 < len(tokens):
            digits, j = _read_decimals(tokens, i + 1)
            if digits:
                out[-1] = fmt(float(f"{out[-1]}.{digits}"))
                i = j
                continue
        out.append(tok)
        i += 1
    return _join_digit_groups(out)


def _join_digit_groups(tokens: list[str]) -> str:
    """Digits Whisper splits the way people say them: '1 24' → '124', '100 and 28' → '128'."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "1" and re.fullmatch(r"[1-9]\d", nxt):
            out.append("1" + nxt)
            i += 2
            continue
        if re.fullmatch(r"[1-9]00", tok):
            j = i + 2 if nxt == "and" else i + 1
            if j < len(tokens) and re.fullmatch(r"[1-9]\d?", tokens[j]):
                out.append(str(int(tok) + int(tokens[j])))
                i = j + 1
                continue
        out.append(tok)
        i += 1
    return " ".join(out)


def _is_number(tok: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d+)?", tok) is not None


def _small(tokens: list[str], i: int) -> tuple[int, int] | None:
    """0–99 from 'twenty four', 'eighteen', 'seven', or a digit string below 100."""
    if i >= len(tokens):
        return None
    tok = tokens[i]
    if tok in TENS:
        if i + 1 < len(tokens) and tokens[i + 1] in UNITS and UNITS[tokens[i + 1]] > 0:
            return TENS[tok] + UNITS[tokens[i + 1]], i + 2
        return TENS[tok], i + 1
    if tok in TEENS:
        return TEENS[tok], i + 1
    if tok in UNITS:
        return UNITS[tok], i + 1
    return None


def _read_number(tokens: list[str], i: int, start_from: int | None = None) -> tuple[float, int]:
    """One spoken number starting at tokens[i]; returns (value, index after it)."""
    total = 0
    if start_from is not None:
        value = start_from
    else:
        first = _small(tokens, i)
        assert first is not None
        value, i = first
    # 'one hundred (and) eighteen', 'two thousand'
    while i < len(tokens) and tokens[i] in ("hundred", "thousand"):
        scale = 100 if tokens[i] == "hundred" else 1000
        value = max(value, 1) * scale
        i += 1
        if scale == 1000:
            total, value = total + value, 0
        j = i + 1 if i < len(tokens) and tokens[i] == "and" else i
        rest = _small(tokens, j)
        if rest is not None:
            value += rest[0]
            i = rest[1]
    # 'one twenty four' → 124, 'one eighteen' → 118: a unit followed by a tens/teen group
    if start_from is None and total == 0 and value < 10 and i < len(tokens) and (
        tokens[i] in TENS or tokens[i] in TEENS
    ):
        rest = _small(tokens, i)
        assert rest is not None
        value, i = value * 100 + rest[0], rest[1]
    return float(total + value), i


def _read_decimals(tokens: list[str], i: int) -> tuple[str, int]:
    digits = ""
    while i < len(tokens) and (tokens[i] in UNITS or tokens[i].isdigit()):
        digits += str(UNITS.get(tokens[i], tokens[i]))
        i += 1
    return digits, i
