"""Paths the performer names on the command line, checked before anything starts: one sentence that says
what is wrong (missing, a folder where a file should be, not permitted) instead of a library's
"System error" later. Every command that takes a file or a folder checks it here.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class PathProblem(ValueError):
    """A path that cannot be used; the message names it and what to do."""


def _nearest_existing(path: Path) -> Path | None:
    return next((p for p in path.parents if p.exists()), None)


def _why(exc: OSError) -> str:
    """An OSError in words: missing, not permitted, read-only, full."""
    return {
        errno.ENOENT: "it does not exist", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.EROFS: "the disk is read-only", errno.ENOSPC: "the disk is full", errno.ENOTDIR: "a part of it "
        "is a file, not a folder", errno.EISDIR: "it is a folder", errno.ENAMETOOLONG: "the name is too long",
        errno.ELOOP: "its links go round in a circle",
    }.get(exc.errno or 0, exc.strerror or str(exc))


def _guarded(check: Callable[..., Path]) -> Callable[..., Path]:
    """An OSError while looking (a name too long, a link loop) is a PathProblem in words too."""

    @functools.wraps(check)
    def guarded(path: Path | str, *args: Any, **kw: Any) -> Path:
        try:
            return check(path, *args, **kw)
        except OSError as exc:
            raise PathProblem(f"cannot use {path}: {_why(exc)}") from None

    return guarded


@_guarded
def existing_file(path: Path | str, what: str = "file", suffixes: Sequence[str] = ()) -> Path:
    """A file that exists and can be read (an audio file, a script, a database)."""
    p = Path(path).expanduser()
    if not p.exists():
        where = _nearest_existing(p)
        hint = "" if where is None or where == p.parent else f" (no folder {p.parent})"
        raise PathProblem(f"no {what} at {p}{hint}")
    if p.is_dir():
        raise PathProblem(f"{p} is a folder; give the {what} inside it")
    if suffixes and p.suffix.lower() not in suffixes:
        raise PathProblem(f"{p} is not a {what} ({' or '.join(suffixes)})")
    if not os.access(p, os.R_OK):
        raise PathProblem(f"cannot read {p}: permission denied")
    return p


@_guarded
def existing_folder(path: Path | str, what: str = "folder") -> Path:
    """A folder that exists and can be listed (a crate, one-shots)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise PathProblem(f"no {what} at {p}")
    if not p.is_dir():
        raise PathProblem(f"{p} is a file; give the {what} that holds it")
    if not os.access(p, os.R_OK | os.X_OK):
        raise PathProblem(f"cannot read the {what} {p}: permission denied")
    return p


def _ready(folder: Path, parents: bool, missing: str, not_a_folder: str) -> None:
    """`folder` is a folder (made now, with its parents, if `parents`); otherwise the sentence that says why not."""
    if not folder.exists():
        if not parents:
            raise PathProblem(missing)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PathProblem(f"cannot make the folder {folder}: {_why(exc)}") from None
    elif not folder.is_dir():
        raise PathProblem(not_a_folder)


@_guarded
def new_file(path: Path | str, parents: bool = False, what: str = "file", suffixes: Sequence[str] = (),
             flag: str = "--parents") -> Path:
    """A file copilot will write: its folder must exist (or `parents`: it is made now) and be writable."""
    p = Path(path).expanduser()
    if suffixes and p.suffix.lower() not in suffixes:
        raise PathProblem(f"{p}: a {what} must end in {' or '.join(suffixes)}")
    if p.is_dir():
        raise PathProblem(f"{p} is a folder; give a file name inside it")
    folder = p.parent
    _ready(folder, parents, f"no folder {folder} for the {what}; check the path, or pass {flag} to make it",
           f"{folder} is a file, not a folder; the {what} cannot go inside it")
    if not os.access(folder, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise PathProblem(f"cannot write the {what} {p}: permission denied")
    return p


@_guarded
def new_folder(path: Path | str, parents: bool = False, what: str = "folder", flag: str = "--parents") -> Path:
    """A folder copilot will write files into: it must exist (or `parents`: it is made now) and be writable."""
    p = Path(path).expanduser()
    _ready(p, parents, f"no {what} {p}; check the path, or pass {flag} to make it",
           f"{p} is a file, not a folder; give the {what} to write into")
    if not os.access(p, os.W_OK | os.X_OK):
        raise PathProblem(f"cannot write into the {what} {p}: permission denied")
    return p
