"""Put a target's mapping files where its host looks for them, and take them back out. Generic over
every target: it only sees (relative path, bytes) pairs and destination folders (or one file).

Rules, because a performer's own presets are at stake:
- Every destination is checked before anything is written; a missing folder (unless asked to create
  it), a file where a folder should be, or one that cannot be written is refused with the reason in
  words, and nothing is changed anywhere.
- A file copilot would replace is backed up first (``<name>.copilot-backup``, numbered if taken), with
  its permissions and times; ``uninstall`` puts the newest backup back — also when the manifest is
  lost or damaged (the backups beside the file are found by name). Files copilot rewrites on its own
  (the Serato suggestions crate) are backed up the same way the first time (`keep_before_replacing`).
- Copilot remembers what it wrote (a manifest in the user data folder, keyed by absolute path and
  content hash), so installing twice, or installing a newer version over its own file, never backs
  up copilot's file over the user's original.
- Every write is atomic: a temporary file in the same folder, flushed, then ``os.replace``. A file
  that replaces another keeps that file's permissions (0644 stays 0644); a new one gets the umask's.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
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
    folder) takes exactly one mapping file, written to exactly that path. `..` and links are resolved
    first, so what is checked is where the files will land ("x/missing/.." is x)."""
    dest = Path(Manifest.key(dest.expanduser()))
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

    @staticmethod
    def key(path: Path) -> str:
        """The absolute path, links resolved where they can be (a link loop is kept as written)."""
        try:
            return str(path.resolve())
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
            return os.path.abspath(path)

    def get(self, path: Path) -> dict[str, Any] | None:
        return self.entries.get(self.key(path))

    def put(self, path: Path, entry: dict[str, Any]) -> None:
        self.entries[self.key(path)] = entry

    def drop(self, path: Path) -> None:
        self.entries.pop(self.key(path), None)

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
def atomic_write(path: Path, content: bytes, like: Path | None = None) -> None:
    """Write via a temporary file in the same folder and os.replace: readers see old or new, never half.
    The file gets the permissions (and, for a backup, the times) of `like` — the file it replaces or
    copies — else the umask's, as any new file would (mkstemp's 0600 would hide it from the host)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        if like is not None and like.exists():
            os.chmod(tmp, stat.S_IMODE(like.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def back_up(path: Path, backup: Path) -> None:
    """A copy of the user's file, atomically, with its permissions and times: what uninstall restores."""
    atomic_write(backup, path.read_bytes(), like=path)
    with contextlib.suppress(OSError):
        shutil.copystat(path, backup)


_NOT_PERMITTED = (errno.EACCES, errno.EPERM)


def _refusal(folder: Path, exc: OSError, doing: str) -> InstallError:
    """An OSError in the words a performer can act on: not permitted, read-only, full, not a folder."""
    if exc.errno in _NOT_PERMITTED:
        why = (f"permission denied (you may not {'create folders' if doing == 'create' else 'write'} there). "
               "Pass --dest with a folder you can write to")
    elif exc.errno == errno.EROFS:
        why = "the disk is read-only"
    elif exc.errno == errno.ENOSPC:
        why = "the disk is full"
    elif exc.errno == errno.ENOTDIR:
        why = "a part of the path is a file, not a folder"
    else:
        why = exc.strerror or str(exc)
    return InstallError(f"cannot {doing} {folder}: {why}; nothing was changed")


def check_writable(folder: Path, create: bool, dry_run: bool = False) -> None:
    """Make sure files can be created in `folder`; raise InstallError naming the real problem if not.

    A missing folder is made only when `create` is given (for a dry run: would be made, where the
    nearest existing folder above it is writable). Probing with a real temporary file answers for
    permissions, read-only disks, full disks and sandboxes alike, where os.access would not.
    """
    if folder.exists() and not folder.is_dir():
        raise InstallError(f"{folder} is a file, not a folder; nothing was changed")
    probe_in, doing = folder, "write to"
    if not folder.exists():
        above = next((p for p in folder.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise InstallError(f"cannot create {folder}: {above} is a file, not a folder; nothing was changed")
        if not create:
            raise InstallError(f"there is no folder {folder}; check the path, or pass --create to make it; "
                               "nothing was changed")
        if dry_run:  # it would be made inside the nearest folder that exists: may files be made there?
            probe_in, doing = (above if above is not None else folder), "create"
        else:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _refusal(folder, exc, "create") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".copilot-probe-", dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _refusal(folder, exc, doing) from None


def next_backup(path: Path) -> Path:
    candidate = path.with_name(path.name + BACKUP_SUFFIX)
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}{BACKUP_SUFFIX}.{n}")
        n += 1
    return candidate


def backups_beside(path: Path) -> list[Path]:
    """Copilot's backups of `path` found by name (oldest first): what uninstall falls back on when the
    manifest that listed them is lost or damaged."""
    pattern = re.compile(re.escape(path.name + BACKUP_SUFFIX) + r"(?:\.(\d+))?$")
    found = []
    with contextlib.suppress(OSError):
        for p in path.parent.iterdir():
            m = pattern.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1) or 0), p))
    return [p for _, p in sorted(found)]


def keep_before_replacing(path: Path, target: str, manifest: Manifest | None = None) -> Path | None:
    """Before copilot rewrites `path` on its own (a crate it keeps up to date): back up a file that is
    not copilot's own last version, once; returns the backup (None when there was nothing to keep)."""
    if not path.is_file():
        return None
    manifest = manifest or Manifest()
    entry = manifest.get(path) or {"target": target, "backups": []}
    if entry.get("sha256") is not None and entry.get("sha256") == file_hash(path):
        return None
    backup = next_backup(path)
    back_up(path, backup)
    entry["backups"] = [*entry.get("backups", []), str(backup)]
    manifest.put(path, entry)
    manifest.save()
    return backup


def remember(path: Path, target: str, manifest: Manifest | None = None) -> None:
    """Note that the file at `path` is now copilot's (its hash), so its next rewrite needs no backup."""
    manifest = manifest or Manifest()
    entry = manifest.get(path) or {"target": target, "backups": []}
    entry.update(target=target, sha256=file_hash(path), installed=datetime.now(UTC).isoformat(timespec="seconds"))
    manifest.put(path, entry)
    manifest.save()


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
            manifest: Manifest | None = None, create: bool = True) -> Result:
    """Install `files` into every destination; returns what was (or, dry run, would be) done. A missing
    folder is made only with `create` (the CLI: the host's own folders, or --dest with --create)."""
    if not files:
        raise InstallError(f"{target} has no mapping files to install")
    if not dests:
        raise InstallError(f"no destination for {target}: pass --dest")
    manifest = manifest or Manifest()
    pairs = [(f, p) for d in dests for f, p in destinations(files, d)]
    folders = list(dict.fromkeys(p.parent for _, p in pairs))
    for folder in folders:  # every folder first, making none yet: all or nothing
        check_writable(folder, create=create, dry_run=True)
    if not dry_run:
        check_writable(manifest.path.parent, create=True)
    result = plan_install(target, files, dests, manifest)  # may still refuse: a folder where a file goes
    result.dry_run = dry_run
    if dry_run:
        return result
    for folder in folders:
        check_writable(folder, create=create)
    content = {p: f.content for f, p in pairs}
    for step in result.steps:
        entry = manifest.get(step.path) or {"target": target, "backups": []}
        try:
            if step.action == "replace" and step.backup is not None:
                back_up(step.path, step.backup)
                entry["backups"] = [*entry.get("backups", []), str(step.backup)]
            if step.action in ("create", "replace", "update"):
                atomic_write(step.path, content[step.path], like=step.path)
        except OSError as exc:  # the disk filled up, the name is too long for it …: said, and what was done
            done = [str(s.path) for s in result.steps[: result.steps.index(step)]]
            raise InstallError(f"{_refusal(step.path, exc, 'write').args[0].removesuffix('; nothing was changed')}"
                               f"; written before it: {', '.join(done) or 'nothing'}") from None
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
        entry = manifest.get(path)
        if entry is None:  # the manifest lost it: the user's backups still sit beside the file
            backups = backups_beside(path)
            entry = {}
        else:
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
        check_writable(folder, create=False)  # restore/remove only happen where the file or its backup is
    for step in result.steps:
        if step.action == "restore" and step.backup is not None:
            os.replace(step.backup, step.path)  # atomic: the user's file comes back whole
        elif step.action == "remove":
            step.path.unlink()
        if step.action != "keep":
            manifest.drop(step.path)
    manifest.save()
    return result
