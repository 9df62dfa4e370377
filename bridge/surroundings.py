"""What `--target auto` can see while it looks around: Link peers, MIDI arriving, programs running.

A target *proves* its host with something only that host does (an AbletonOSC answer, the output
blocks of our own mapping arriving on its feedback port) and says so with a plain sentence. What merely
*hints* at a host (its program is running) comes back as a `Hint`: the session picks a hinted target
only when it is the one candidate. Link peers prove nothing: Serato, Traktor, rekordbox, djay all
speak Link; they mean only that a Link session exists (the clock joins it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class Hint(str):
    """A reason a host *may* be there, not proof (e.g. its program is running)."""


@dataclass(frozen=True)
class Surroundings:
    clock: Any  # the session's BeatClock (peers, tempo)
    midi_in: frozenset[str]  # input ports that received anything while looking
    processes: frozenset[str]  # names of running programs, lower-cased
    heard: tuple[tuple[str, bytes], ...] = ()  # (input port, message) received while looking, oldest first

    def heard_on(self, port: str) -> list[bytes]:
        return [data for name, data in self.heard if name == port]


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
