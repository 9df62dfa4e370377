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


# -- one way to do each job -------------------------------------------------------------------------------
def runtime_modules() -> list[Path]:
    """Every module that ships and runs: the package folders (tests/ and bench/ are not runtime code)."""
    folders = [p for p in sorted(ROOT.iterdir()) if (p / "__init__.py").is_file() and p.name != "tests"]
    return [*sorted(ROOT.glob("*.py")), *(f for folder in folders for f in sorted(folder.rglob("*.py")))]


STATUS_NIBBLES = {0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0}  # note off/on, aftertouch, CC, program, pressure, bend


def hand_made_midi(tree: ast.AST) -> list[int]:
    """Lines that build MIDI bytes by hand: `bytes((…))`/`bytearray([…])` on a literal sequence, or a
    status nibble literal joined to a channel (`0xB0 | ch`, `0x90 + ch`)."""
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("bytes", "bytearray")
                and node.args and isinstance(node.args[0], ast.Tuple | ast.List)):
            lines.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.Add):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and type(side.value) is int and side.value in STATUS_NIBBLES:
                    lines.append(node.lineno)
    return lines


def test_midi_bytes_are_built_in_bridge_midi_only():
    """One MIDI encoder: outside bridge/midi.py no runtime module makes a note/CC message (or its status
    byte) itself; it calls bridge.midi (note, cc, message, cc_bytes, cc_value, press, envelope_stream).
    Decoding host feedback goes through bridge.midi.decode too, but reading a byte is not checked here.
    The mapping tables' status numbers for host files (mappings/table.MESSAGES) are data, not messages."""
    encoder = ROOT / "bridge" / "midi.py"
    found = []
    for path in runtime_modules():
        if path == encoder:
            continue
        for line in hand_made_midi(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, "MIDI bytes built outside bridge/midi.py:\n" + "\n".join(found)


def imports_tomllib(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(a.name == "tomllib" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "tomllib":
            return True
    return False


def test_every_table_lives_in_mappings_tables_and_one_loader_reads_them():
    """One table loader: every declarative table is a TOML file in mappings/tables/ (shipped as package
    data), and among the modules that use tables (mappings/, plugins/) only mappings/table.py parses TOML."""
    tables = ROOT / "mappings" / "tables"
    stray = [p.relative_to(ROOT) for p in (ROOT / "mappings").rglob("*.toml") if p.parent != tables]
    assert not stray, f"tables outside mappings/tables/: {stray}"
    assert {p.stem for p in tables.glob("*.toml")} >= {"serato-dj-pro", "mixxx", "ableton-live", "strudel"}
    readers = sorted(str(p.relative_to(ROOT)) for folder in ("mappings", "plugins")
                     for p in (ROOT / folder).rglob("*.py") if imports_tomllib(p))
    assert readers == ["mappings/table.py"], readers
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.toml" in data["tool"]["setuptools"]["package-data"]["copilot.mappings.tables"]


def private_imports(path: Path, folder: str) -> list[str]:
    """`from copilot.<other>.x import _name` (or `from ..other.x import _name`): a private name of
    another top-level folder."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:
            parts = (node.module or "").split(".")
            other = parts[1] if parts[0] == "copilot" and len(parts) > 1 else None
        else:
            other = (node.module or "").split(".")[0] if node.level >= 2 and node.module else None
        if other is None or other == folder:
            continue
        modules = (node.module or "").split(".")
        names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        names += [m for m in modules if m.startswith("_") and not m.startswith("__")]
        found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name} from copilot.{other}" for name in names]
    return found


def test_no_private_names_are_imported_across_folders():
    """What one folder needs from another is that folder's public API: no `_private` import across them."""
    found = []
    for path in runtime_modules():
        rel = path.relative_to(ROOT)
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        found += private_imports(path, folder)
    assert not found, "private names imported across folders:\n" + "\n".join(found)
