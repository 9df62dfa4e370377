"""Imports point one way (ARCHITECTURE): a module imports only from its own floor or below."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {
    "intents": 0, "mappings": 0,
    "bridge": 1, "phrase_db": 1,
    "engine": 2, "motion": 2, "voice": 2,
    "plugins": 3, "view": 3, "cli": 3, "rehearsal": 3,
}
# Every folder whose modules are Python, runtime or not (the rules on names and imports hold for all).
FOLDERS = (*FLOORS, "tests", "bench")
# The ground floor is pure and fast: the voice runtime (audio, models, threads) lives in voice/.
RUNTIME_ONLY = ("sounddevice", "faster_whisper", "ctranslate2", "onnxruntime", "numpy", "numba", "soundfile",
                "soxr", "queue")


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


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "node_modules" not in p.parts)


def test_every_module_imports_only_from_its_floor_or_below():
    wrong = []
    for package, floor in FLOORS.items():
        for path in python_files(package):
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


def test_the_ground_floor_runs_no_audio_models_or_threads():
    """intents/ (schema, grammar, parser, scripts) imports no audio, no model runtime, no numpy and no
    threading (the Lamport clock that orders racing intents lives in the bridge, where races are settled)."""
    wrong = []
    for path in python_files("intents"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if top in RUNTIME_ONLY or top == "threading":
                    wrong.append(f"{where} imports {module}")
    assert not wrong, "the ground floor reaches for the runtime:\n" + "\n".join(wrong)


def imports_from_other_folders(path: Path, folder: str) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of copilot.<another folder> in `path` (which lives in `folder`)."""
    found = []
    package = list(path.relative_to(ROOT).parts[:-1])  # e.g. ["mappings", "tables"]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: up level − 1 packages from this file's own
                parts = package[:len(package) - (node.level - 1)] + (module.split(".") if module else [])
            elif module.startswith("copilot."):
                parts = module.split(".")[1:]
            else:
                continue  # not ours
            if parts and parts[0] != folder:
                found.append((node.lineno, module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "copilot" and len(parts) > 1 and parts[1] != folder:
                    found.append((node.lineno, alias.name, []))
    return found


def test_no_private_name_is_imported_across_folders():
    """What one folder needs from another is public API: `from copilot.x.y import _z` (or a `_module`)
    outside x/ means the name should be public, or the code lives in the wrong folder."""
    wrong = []
    for folder in FOLDERS:
        for path in python_files(folder):
            for line, module, names in imports_from_other_folders(path, folder):
                private = [n for n in [*module.split("."), *names] if n.startswith("_") and not n.startswith("__")]
                if private:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {', '.join(private)} from {module}")
    assert not wrong, "private names imported across folders:\n" + "\n".join(wrong)


def test_runtime_code_never_imports_the_examples_folder():
    """examples/ holds what performers read (scripts); the example crate the engine plays is an engine module."""
    wrong = [f"{path.relative_to(ROOT)} imports copilot.examples"
             for folder in FLOORS for path in python_files(folder) if "examples" in imported_packages(path)]
    assert not wrong, "\n".join(wrong)
    assert not list((ROOT / "examples").glob("*.py")), "examples/ holds scripts to read, not modules to import"


# -- one way to do each job -------------------------------------------------------------------------------
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
    byte) itself; it calls bridge.midi (note, cc, encode, cc_bytes, cc_value, press, envelope_stream).
    Decoding host feedback goes through bridge.midi.decode too, but reading a byte is not checked here.
    The mapping tables' status numbers for host files (mappings/table.MESSAGES) are data, not messages."""
    encoder = ROOT / "bridge" / "midi.py"
    found = []
    for path in (p for folder in FLOORS for p in python_files(folder)):  # runtime code: not tests/, bench/
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
