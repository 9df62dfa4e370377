"""Fuzz the mapping installer's destinations in a process of its own (run without root's power over
file permissions, so read-only folders really are read-only): missing paths, files where folders
should be, unwritable folders, dangling and looping links, odd names. Every input ends in a result or
an InstallError, never another exception; a refused install changes nothing. Prints a JSON summary.

    python -m copilot.tests.install_fuzz_probe ROOT COUNT SEED
"""

from __future__ import annotations

import json
import os
import random
import sys
import traceback
from pathlib import Path

from copilot.bridge.host import MappingFile
from copilot.mappings.install import InstallError, Manifest, install, uninstall

ODD = ["sets", "My Sets", "déjà vu", "🎧", " lead", "trail ", "-dash", "a\nb", "x" * 255, ".", "..", "Copilot.xml",
       "UPPER", "tab\there", "semi;colon", "$HOME", "*", "?", "[x]", "a:b", "nul-less", "ok"]
FILES_ONE = [MappingFile("Copilot.xml", b"<copilot/>\n", "preset")]
FILES_TWO = [MappingFile("Copilot.midi.xml", b"<preset/>\n", "mapping"), MappingFile("Copilot-scripts.js", b"//\n")]


def snapshot(folder: Path) -> dict[str, bytes] | None:
    try:
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}
    except OSError:
        return None


def build(root: Path, rng: random.Random) -> list[Path]:
    """A playground: good folders, read-only ones, files in the way, links that go nowhere or in circles."""
    good = root / "good"
    good.mkdir()
    locked = root / "locked"
    locked.mkdir()
    (locked / "inner").mkdir()
    blocker = root / "a-file"
    blocker.write_bytes(b"not a folder")
    (root / "dangling").symlink_to(root / "nowhere")
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    mine = good / "theirs"
    mine.mkdir()
    (mine / "Copilot.xml").write_bytes(b"the DJ's own preset")
    locked.chmod(0o555)
    (locked / "inner").chmod(0o555)
    return [good, mine, locked, locked / "inner", blocker, root / "dangling", root / "loop1", root / "missing",
            root / "missing" / "deeper", blocker / "under-a-file", good / "one-file.xml", locked / "x.xml"]


def destination(pool: list[Path], rng: random.Random) -> Path:
    base = rng.choice(pool)
    for _ in range(rng.randrange(3)):
        base = base / rng.choice(ODD)
    return base


def main() -> None:
    root, count, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    pool = build(root, rng)
    manifest = Manifest(root / "manifest.json")
    counts = {"done": 0, "refused": 0, "crashed": 0, "changed_when_refused": 0}
    crashes: list[str] = []
    for i in range(count):
        dest = destination(pool, rng)
        files = FILES_ONE if rng.random() < 0.5 else FILES_TWO
        dry = rng.random() < 0.85  # a real write now and then (each is fsynced): enough to change things
        create = rng.random() < 0.5
        folder = dest if dest.is_dir() else dest.parent
        before = snapshot(folder)
        try:
            if rng.random() < 0.8:
                install("fuzz", files, [dest], dry_run=dry, manifest=manifest, create=create)
            else:
                uninstall("fuzz", files, [dest], dry_run=dry, manifest=manifest)
            counts["done"] += 1
        except InstallError as exc:
            counts["refused"] += 1
            if snapshot(folder) != before:
                counts["changed_when_refused"] += 1
                if len(crashes) < 8:
                    crashes.append(f"changed #{i} {dest!r} dry={dry} create={create}: {exc}")
        except Exception as exc:  # noqa: BLE001 - what this probe is looking for
            counts["crashed"] += 1
            kind = f"{type(exc).__name__}: {exc}"[:80]
            if len(crashes) < 8 and not any(kind in c for c in crashes):
                crashes.append(f"#{i} {dest!r}: {kind}\n{traceback.format_exc(limit=6)}")
    os.chmod(root / "locked" / "inner", 0o755)
    os.chmod(root / "locked", 0o755)
    print(json.dumps({**counts, "inputs": count, "crashes": crashes, "uid": os.geteuid()}))


if __name__ == "__main__":
    main()
