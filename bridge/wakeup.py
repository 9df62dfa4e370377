"""Cores kept awake while a set plays: a CPU wake-up latency request (Linux PM QoS).

An idle core sleeps, and waking it costs time JACK's cycle does not have: on this project's VMs (cpuidle
"haltpoll") the JACK server lost hundreds of cycles in half a minute of a quiet test set, and a handful
with the cores kept from sleeping (docs/spine.md, "Cores kept awake"). Audio software asks the kernel
for this itself — Ardour's "CPU DMA latency" preference writes the same file. The request holds while
the file stays open and ends with the process, even on a kill, so nothing is left behind.

The price is power: a core that may not sleep polls when idle. A set asks for it; offline work (a
render, a rehearsal) does not. `[run] wake_latency_us` sets the request ("off" to leave the machine as
it is).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

PATH = "/dev/cpu_dma_latency"
DEFAULT_US = 0  # the only value that keeps a haltpoll guest from halting (its one sleep state exits in 1 µs)


@dataclass
class WakeLatency:
    """A held request (`held`), or why there is none (`why`, in words)."""

    us: int | None
    why: str = ""
    _fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def line(self) -> str:
        """One line for the performer: what the cores were asked to do."""
        if self.held:
            return f"cores kept awake: wake-up latency held at {self.us} µs while the set plays"
        if self.us is None:
            return 'cores may sleep ([run] wake_latency_us = "off")'
        return f"cores may sleep: {self.why or 'the set let its request go'}"

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def hold(us: int | None, path: str = PATH) -> WakeLatency:
    """Ask the kernel to wake idle cores within `us` microseconds for as long as the result is held.
    None asks nothing. Never raises: a machine that will not allow it says why, and the set plays on."""
    if us is None:
        return WakeLatency(None)
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return WakeLatency(us, f"this system has no {path} (not Linux, or no PM QoS)")
    except PermissionError:
        return WakeLatency(us, f"no permission to write {path} (root, or a udev rule giving the audio group "
                               "write access)")
    except OSError as exc:
        return WakeLatency(us, f"{path}: {exc.strerror or exc}")
    try:
        os.write(fd, struct.pack("=i", us))
    except OSError as exc:
        os.close(fd)
        return WakeLatency(us, f"{path} refused {us} µs: {exc.strerror or exc}")
    return WakeLatency(us, "", fd)


def current(path: str = PATH) -> int | None:
    """The request in force now (the lowest any process holds), in µs; None where it cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = f.read(4)
    except OSError:
        return None
    return struct.unpack("=i", raw)[0] if len(raw) == 4 else None
