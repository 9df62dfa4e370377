"""What `--target auto` can see while it looks around: Link peers, MIDI arriving, programs running."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Surroundings:
    clock: Any  # the session's BeatClock (peers, tempo)
    midi_in: frozenset[str]  # input ports that received anything while looking
    processes: frozenset[str]  # names of running programs, lower-cased


def running_processes() -> frozenset[str]:
    """Lower-cased names of running programs; empty when the OS will not say."""
    names: set[str] = set()
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    names.add((entry / "comm").read_text().strip().lower())
                except OSError:
                    continue
        return frozenset(names)
    command = ["tasklist", "/fo", "csv", "/nh"] if sys.platform.startswith("win") else ["ps", "-A", "-o", "comm="]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    for line in out.splitlines():
        name = line.split('","')[0].strip('"') if sys.platform.startswith("win") else line.strip()
        if name:
            names.add(os.path.basename(name).lower())
    return frozenset(names)
