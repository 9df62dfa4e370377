"""`copilot doctor` lines shared by the DJ-software targets: table, installed mapping, feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from copilot.bridge.host import Check
from copilot.mappings.install import file_hash, sha256
from copilot.mappings.table import TableError, override_path


def checks(cls: Any, config: dict[str, Any], host: str, feedback_hint: str, levels: int = 1) -> list[Check]:
    """`levels`: how many folders above the mapping folder the host's own settings folder sits."""
    name = cls.name
    try:
        target = cls(config)
    except TableError as exc:
        return [Check(f"{name} table", False, str(exc),
                      f"correct or remove {override_path(name)}, then `copilot mappings install {name}`")]
    out = [Check(f"{name} table", True, "loaded from " + " + ".join(target.table.sources))]
    out.append(_installed(target, host, levels))
    out.append(Check(
        f"{name} feedback", True,
        f"deck state (playing, loop, loaded, hot cues) comes from {host}'s output on '{target.feedback_port}' "
        f"once {host} sends it; until then copilot trusts its own record of what it sent, so a deck "
        "started by hand is unknown to the safety rules",
        f"{feedback_hint} '{target.feedback_port}'",
    ))
    return out


def _installed(target: Any, host: str, levels: int) -> Check:
    name = target.name
    try:
        folders = target.mapping_folders()
    except LookupError as exc:
        return Check(f"{name} mapping", True, str(exc))
    files = target.mapping_files()
    present = [f for f in folders if _host_present(Path(f), levels)]
    if not present:
        return Check(f"{name} mapping", True, f"{host} not found on this machine (no {folders[0] if folders else '?'})")
    stale: list[str] = []
    missing: list[str] = []
    for folder in present:
        for f in files:
            path = Path(folder) / f.relpath
            current = file_hash(path)
            if current is None:
                missing.append(str(path))
            elif current != sha256(f.content):
                stale.append(str(path))
    if missing or stale:
        detail = "; ".join(x for x in (f"missing: {', '.join(missing)}" if missing else "",
                                        f"differs from the table: {', '.join(stale)}" if stale else "") if x)
        return Check(f"{name} mapping", False, detail, f"copilot mappings install {name}")
    return Check(f"{name} mapping", True, "installed and up to date in " + ", ".join(map(str, present)))


def _host_present(folder: Path, levels: int) -> bool:
    """The host has run on this machine if its settings folder exists (…/_Serato_, ~/.mixxx)."""
    return folder.exists() or folder.parents[levels - 1].exists()
