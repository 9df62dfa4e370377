"""Serato crates: the copilot's suggestions appear in Serato's library as a crate.

Serato keeps each crate as `_Serato_/Subcrates/<Name>.crate` (a child crate is `Parent%%Child`)
in the `_Serato_` folder of the drive that holds the music. A crate file is a sequence of records:
a 4-byte ASCII tag, a 4-byte big-endian length, then the body. Tags starting with `o` nest records,
`t` and `p` are UTF-16 big-endian text (`p` a path relative to the drive's root, no leading slash),
`u`/`s` 32-bit big-endian integers, `b` one byte. The file starts with `vrsn` =
"1.0/Serato ScratchLive Crate"; `osrt` (sort column: `tvcn` name + `brev` direction) and `ovct`
(shown columns: `tvcn` name + `tvcw` width) set the browser view; each track is an `otrk` holding
its `ptrk` path. (Facts from the Mixxx wiki's "Serato Database Format" page and public crate readers.)
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

VERSION = "1.0/Serato ScratchLive Crate"
COLUMNS = ("song", "artist", "bpm", "key", "length")
CRATE_NAME = "copilot suggestions"


def record(tag: str, body: bytes) -> bytes:
    if len(tag) != 4 or not tag.isascii():
        raise ValueError(f"a crate tag is 4 ASCII characters, not {tag!r}")
    return tag.encode("ascii") + struct.pack(">I", len(body)) + body


def text(tag: str, value: str) -> bytes:
    return record(tag, value.encode("utf-16-be"))


def crate_bytes(track_paths: Sequence[str], sort_by: str = "song", columns: Sequence[str] = COLUMNS) -> bytes:
    """A whole .crate file for tracks given as drive-relative paths (see `drive_relative`)."""
    out = [text("vrsn", VERSION), record("osrt", text("tvcn", sort_by) + record("brev", b"\x00"))]
    out += [record("ovct", text("tvcn", col) + text("tvcw", "0")) for col in columns]
    out += [record("otrk", text("ptrk", p)) for p in track_paths]
    return b"".join(out)


def parse(data: bytes) -> list[tuple[str, object]]:
    """Records as (tag, value): nested lists for `o…`, str for `t…`/`p…`/vrsn, int for `u…`/`s…`/`b…`."""
    out: list[tuple[str, object]] = []
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError(f"truncated record header at byte {pos}")
        tag = data[pos : pos + 4].decode("ascii")
        (length,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError(f"record {tag!r} at byte {pos} wants {length} bytes, {len(body)} left")
        pos += 8 + length
        value: object
        if tag[0] == "o":
            value = parse(body)
        elif tag[0] in "tp" or tag == "vrsn":
            value = body.decode("utf-16-be")
        elif tag[0] == "u":
            value = struct.unpack(">I", body)[0]
        elif tag[0] == "s":
            value = struct.unpack(">i", body)[0]
        elif tag[0] == "b":
            value = body[0]
        else:
            value = body
        out.append((tag, value))
    return out


def track_paths(data: bytes) -> list[str]:
    return [str(v) for tag, rec in parse(data) if tag == "otrk" for t, v in rec if t == "ptrk"]  # type: ignore[union-attr]


def drive_relative(path: str | Path) -> tuple[Path, str]:
    """(drive root, path relative to it in Serato's spelling) for an absolute track path.

    macOS external drives live under /Volumes/NAME; Windows paths carry a drive letter; anything else
    is on the system drive, whose root is '/'.
    """
    p = str(path)
    win = PureWindowsPath(p)
    if win.drive and len(win.drive) == 2:
        return Path(win.drive + "\\"), "/".join(win.parts[1:])
    posix = PurePosixPath(p)
    parts = posix.parts
    if len(parts) > 3 and parts[1] == "Volumes":
        return Path(*parts[:3]), "/".join(parts[3:])
    return Path("/"), "/".join(parts[1:])


def default_serato_folder() -> Path:
    return Path.home() / "Music" / "_Serato_"


def write_crate(serato_folder: Path, tracks: Iterable[str | Path], name: str = CRATE_NAME) -> Path:
    """Write (replace) crate `name` under `serato_folder/Subcrates`; returns the crate's path.

    Only tracks on the same drive as `serato_folder` can be listed (Serato resolves paths against
    its own drive); the others are left out. Raises FileNotFoundError when the folder is missing.
    """
    folder = Path(serato_folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no Serato library folder at {folder} (start Serato once, or name its _Serato_)")
    root = drive_relative(folder)[0]
    rel = []
    for t in tracks:
        drive, inside = drive_relative(t)
        if drive == root and inside not in rel:
            rel.append(inside)
    sub = folder / "Subcrates"
    sub.mkdir(exist_ok=True)
    target = sub / f"{name}.crate"
    tmp = sub / f".{name}.{os.getpid()}.tmp"
    tmp.write_bytes(crate_bytes(rel))
    os.replace(tmp, target)
    return target
