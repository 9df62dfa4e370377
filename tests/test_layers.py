"""Imports point one way (ARCHITECTURE): a module imports only from its own floor or below."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {
    "intents": 0, "mappings": 0, "examples": 0,
    "bridge": 1, "phrase_db": 1,
    "engine": 2, "motion": 2,
    "plugins": 3, "cli": 3,
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside its own package, or up to copilot.<pkg>
                if node.level >= 2 and node.module:
                    found.add(node.module.split(".")[0])
                continue
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "copilot" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_module_imports_only_from_its_floor_or_below():
    wrong = []
    for package, floor in FLOORS.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for used in imported_packages(path) - {package}:
                if used in FLOORS and FLOORS[used] > floor:
                    where = path.relative_to(ROOT)
                    wrong.append(f"{where} (floor {floor}) imports copilot.{used} (floor {FLOORS[used]})")
    assert not wrong, "imports pointing up:\n" + "\n".join(wrong)


def test_the_spine_never_names_a_host():
    hosts = ("serato", "mixxx", "ableton", "strudel", "standalone")
    named = []
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        text = path.read_text(encoding="utf-8").lower().replace("ableton link", "link")  # the protocol
        code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))
        for host in hosts:
            if f'"{host}' in code or f"'{host}" in code:
                named.append(f"{path.relative_to(ROOT)} names {host!r}")
    assert not named, "\n".join(named)
