"""Put a target's mapping files where its host looks for them, and take them back out. Generic over
every target: it only sees (relative path, bytes) pairs and destination folders (or one file).

Rules, because a performer's own presets are at stake:
- Every destination is checked before anything is written; an unwritable one is refused with the
  reason, and nothing is changed anywhere.
- A file copilot would replace is backed up first (``<name>.copilot-backup``, numbered if taken);
  ``uninstall`` puts the newest backup back.
- Copilot remembers what it wrote (a manifest in the user data folder, keyed by absolute path and
  content hash), so installing twice, or installing a newer version over its own file, never backs
  up copilot's file over the user's original.
- Every write is atomic: a temporary file in the same folder, flushed, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

BACKUP_SUFFIX = ".copilot-backup"


class MappingFileLike(Protocol):
    relpath: str
    content: bytes
    description: str


class InstallError(RuntimeError):
    """An install or uninstall that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Step:
    """One thing the installer does (or would do, for --dry-run) to one file."""

    path: Path
    action: str  # create | replace | update | unchanged | remove | restore | keep | absent
    backup: Path | None = None
    description: str = ""

    def describe(self) -> str:
        what = {
            "create": "write",
            "replace": "back up the existing file, then write",
            "update": "update copilot's earlier version of",
            "unchanged": "already up to date:",
            "remove": "remove",
            "restore": "put back the backed-up file at",
            "keep": "leave alone (not the file copilot wrote):",
            "absent": "nothing installed at",
        }[self.action]
        line = f"{what} {self.path}"
        if self.backup is not None:
            line += f"  (backup: {self.backup})" if self.action != "restore" else f"  (from {self.backup})"
        return line


@dataclass
class Result:
    target: str
    steps: list[Step] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(s.action not in ("unchanged", "keep", "absent") for s in self.steps)


# -- where the files go ------------------------------------------------------------------------------
def destinations(files: Sequence[MappingFileLike], dest: Path) -> list[tuple[MappingFileLike, Path]]:
    """Where each file goes under `dest`. A destination that names a file (it has a suffix and is not a
    folder) takes exactly one mapping file, written to exactly that path."""
    dest = dest.expanduser()
    if _is_file_dest(files, dest):
        return [(files[0], dest)]
    if dest.exists() and not dest.is_dir():
        raise InstallError(f"{dest} is a file, but {len(files)} mapping files need a folder; pass --dest FOLDER")
    out = []
    for f in files:
        rel = Path(f.relpath)
        if rel.is_absolute() or ".." in rel.parts:
            raise InstallError(f"refusing mapping file path {f.relpath!r}: it must stay inside the folder")
        out.append((f, dest / rel))
    return out


def _is_file_dest(files: Sequence[MappingFileLike], dest: Path) -> bool:
    return len(files) == 1 and not dest.is_dir() and (dest.is_file() or bool(dest.suffix))


# -- the manifest: what copilot wrote, so its own files are never taken for the user's -----------------
def manifest_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("copilot")) / "installed.json"


class Manifest:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or manifest_path()
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text("utf-8"))
                self.entries = {str(k): dict(v) for k, v in data.get("files", {}).items()}
            except (OSError, ValueError, AttributeError):
                # A damaged manifest only costs us the memory of what we wrote: keep it aside, start over.
                with contextlib.suppress(OSError):
                    os.replace(self.path, self.path.with_suffix(".damaged"))
                self.entries = {}

    def get(self, path: Path) -> dict[str, Any] | None:
        return self.entries.get(str(path.resolve()))

    def put(self, path: Path, entry: dict[str, Any]) -> None:
        self.entries[str(path.resolve())] = entry

    def drop(self, path: Path) -> None:
        self.entries.pop(str(path.resolve()), None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"files": self.entries}, indent=1, sort_keys=True).encode("utf-8")
        atomic_write(self.path, payload)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str | None:
    try:
        return sha256(path.read_bytes())
    except OSError:
        return None


# -- writing -------------------------------------------------------------------------------------------
def atomic_write(path: Path, content: bytes) -> None:
    """Write via a temporary file in the same folder and os.replace: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_writable(folder: Path, create: bool) -> None:
    """Make sure files can be created in `folder` (creating it if asked); raise InstallError if not.

    Probing with a real temporary file answers for permissions, read-only disks, full disks and
    sandboxes alike, where os.access would not.
    """
    try:
        if not folder.exists():
            if not create:
                parent = next((p for p in folder.parents if p.exists()), None)
                if parent is None or not parent.is_dir():
                    raise InstallError(f"cannot create {folder}: no folder above it exists")
                folder = parent
            else:
                folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise InstallError(f"{folder} is not a folder")
        fd, probe = tempfile.mkstemp(prefix=".copilot-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except InstallError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InstallError(f"cannot write to {folder}: {reason}. Fix its permissions, or pass --dest "
                           "with a folder you can write to; nothing was changed") from None


def next_backup(path: Path) -> Path:
    candidate = path.with_name(path.name + BACKUP_SUFFIX)
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}{BACKUP_SUFFIX}.{n}")
        n += 1
    return candidate


# -- install / uninstall -------------------------------------------------------------------------------
def plan_install(target: str, files: Sequence[MappingFileLike], dests: Iterable[Path],
                 manifest: Manifest | None = None) -> Result:
    manifest = manifest or Manifest()
    result = Result(target)
    for dest in dests:
        for f, path in destinations(files, dest):
            result.steps.append(_plan_one(path, f, manifest))
    return result


def _plan_one(path: Path, f: MappingFileLike, manifest: Manifest) -> Step:
    if path.is_dir():
        raise InstallError(f"{path} is a folder; copilot wants to write a file there")
    if not path.exists():
        return Step(path, "create", description=f.description)
    current = file_hash(path)
    if current == sha256(f.content):
        return Step(path, "unchanged", description=f.description)
    entry = manifest.get(path)
    if entry is not None and entry.get("sha256") == current:
        return Step(path, "update", description=f.description)
    return Step(path, "replace", backup=next_backup(path), description=f.description)


def install(target: str, files: Sequence[MappingFileLike], dests: Sequence[Path], dry_run: bool = False,
            manifest: Manifest | None = None) -> Result:
    """Install `files` into every destination; returns what was (or, dry run, would be) done."""
    if not files:
        raise InstallError(f"{target} has no mapping files to install")
    if not dests:
        raise InstallError(f"no destination for {target}: pass --dest")
    manifest = manifest or Manifest()
    pairs = [(f, p) for d in dests for f, p in destinations(files, d)]
    for folder in dict.fromkeys(p.parent for _, p in pairs):  # every folder first: all or nothing
        check_writable(folder, create=not dry_run)
    if not dry_run:
        check_writable(manifest.path.parent, create=True)
    result = plan_install(target, files, dests, manifest)
    result.dry_run = dry_run
    if dry_run:
        return result
    content = {p: f.content for f, p in pairs}
    for step in result.steps:
        entry = manifest.get(step.path) or {"target": target, "backups": []}
        if step.action == "replace" and step.backup is not None:
            atomic_write(step.backup, step.path.read_bytes())
            entry["backups"] = [*entry.get("backups", []), str(step.backup)]
        if step.action in ("create", "replace", "update"):
            atomic_write(step.path, content[step.path])
        entry.update(target=target, sha256=sha256(content[step.path]),
                     installed=datetime.now(UTC).isoformat(timespec="seconds"))
        manifest.put(step.path, entry)
        manifest.save()  # after each file: a crash half-way still knows which files are copilot's
    return result


def uninstall(target: str, files: Sequence[MappingFileLike], dests: Sequence[Path], dry_run: bool = False,
              manifest: Manifest | None = None) -> Result:
    """Remove copilot's files and put back what they replaced. A file the user changed since is kept."""
    if not dests:
        raise InstallError(f"no destination for {target}: pass --dest")
    manifest = manifest or Manifest()
    result = Result(target, dry_run=dry_run)
    pairs = [(f, p) for d in dests for f, p in destinations(files, d)]
    for _, path in pairs:
        entry = manifest.get(path) or {}
        backups = [Path(b) for b in entry.get("backups", []) if Path(b).exists()]
        backup = backups[-1] if backups else None
        ours = {entry.get("sha256")} - {None}
        current = file_hash(path) if path.exists() else None
        if current is None:
            result.steps.append(Step(path, "restore", backup) if backup else Step(path, "absent"))
        elif current in ours or any(current == sha256(f.content) for f, p in pairs if p == path):
            result.steps.append(Step(path, "restore", backup) if backup else Step(path, "remove"))
        else:
            result.steps.append(Step(path, "keep"))
    if dry_run:
        return result
    for folder in dict.fromkeys(s.path.parent for s in result.steps if s.action in ("remove", "restore")):
        check_writable(folder, create=False)
    for step in result.steps:
        if step.action == "restore" and step.backup is not None:
            os.replace(step.backup, step.path)  # atomic: the user's file comes back whole
        elif step.action == "remove":
            step.path.unlink()
        if step.action != "keep":
            manifest.drop(step.path)
    manifest.save()
    return result
