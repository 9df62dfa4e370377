"""Virtual MIDI ports: "Copilot Out" (copilot → host) and "Copilot In" (host → copilot).

Two distinct ports, never one loopback port for both directions (that makes an endless echo with
Serato). The MIDI API is picked automatically (CoreMIDI on macOS, the ALSA sequencer on Linux when
the kernel has one, else JACK) and can be forced with `api=`. A watchdog re-opens an output that
vanished (a restarted JACK server, a sleeping laptop) so the next send finds a port again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import host_time
from .handover import HANDOVER
from .jack_server import jack_ports, jack_running, settle
from .midi import END_OF_SYSEX

log = logging.getLogger(__name__)

OUT_PORT = "Copilot Out"
IN_PORT = "Copilot In"
CLIENT = "Copilot"

API_NAMES = {"auto", "jack", "alsa", "coremidi", "winmm", "dummy"}
LOOKAHEAD = 0.02  # seconds a native JACK out gets each message ahead of its time ([ports] lookahead_ms)


# Clients of a MIDI server that died. Closing or even freeing one crashes inside libjack (seen here:
# a segfault in close_port after a JACK restart), so they are kept, untouched, for the process's life.
_GRAVEYARD: list[Any] = []


def close_client(port: Any, in_use: bool = False) -> None:
    """Close an rtmidi port and its client. python-rtmidi closes the JACK client only on `delete()`, never
    when the object is freed: each closed port's client stayed in the graph, woken every cycle, and 59 of
    them (one test run) made the dummy server overrun its 1.3 ms cycle and lose MIDI. On JACK the graph
    settles first (see `jack_server.settle`: closing a port mid-notification crashes libjack). `in_use`: a
    thread may still be inside the object, so it is closed but not freed."""
    with contextlib.suppress(Exception):
        if _on_jack(port):
            settle()  # a settle that fails costs the wait, never the close
    with contextlib.suppress(Exception):
        port.close_port()
        if not in_use:
            port.delete()


def _new_client(make: Callable[[], Any], api: ApiChoice) -> Any:
    """A new rtmidi client. JACK now and then refuses a client opened while another one is closing (the
    server cannot tell the closing one about it, or a same-named old client's socket file vanishes just
    then; seen in back-to-back churn): it is asked again, over 0.2 s, before the refusal stands."""
    for _ in range(3):
        try:
            return make()
        except Exception:
            if api.name != "jack" or not jack_running():
                raise
            time.sleep(0.05)
    return make()


def _on_jack(port: Any) -> bool:
    import rtmidi

    return bool(port.get_current_api() == rtmidi.API_UNIX_JACK)


def _retire(port: Any, server_alive: bool, in_use: bool = False) -> None:
    if server_alive:
        close_client(port, in_use)
    else:
        _GRAVEYARD.append(port)


class MidiUnavailable(RuntimeError):
    """No MIDI API can open ports here; the message says what to install or start."""


@dataclass(frozen=True)
class ApiChoice:
    api: int  # rtmidi.API_* constant
    name: str
    why: str


def pick_api(requested: str = "auto") -> ApiChoice:
    """Which rtmidi API to use, and why (for `copilot doctor`)."""
    import rtmidi

    requested = (requested or "auto").lower()
    if requested not in API_NAMES:
        raise MidiUnavailable(f"unknown MIDI API {requested!r}; choose from {', '.join(sorted(API_NAMES))}")
    compiled = set(rtmidi.get_compiled_api())
    table = {
        "jack": rtmidi.API_UNIX_JACK,
        "alsa": rtmidi.API_LINUX_ALSA,
        "coremidi": rtmidi.API_MACOSX_CORE,
        "winmm": rtmidi.API_WINDOWS_MM,
        "dummy": rtmidi.API_RTMIDI_DUMMY,
    }
    if requested != "auto":
        api = table[requested]
        if api not in compiled:
            raise MidiUnavailable(f"python-rtmidi here was built without {requested}")
        return ApiChoice(api, requested, "chosen in settings")
    if sys.platform == "darwin":
        return ApiChoice(rtmidi.API_MACOSX_CORE, "coremidi", "macOS")
    if sys.platform.startswith("win"):
        return ApiChoice(rtmidi.API_WINDOWS_MM, "winmm", "Windows (virtual ports need loopMIDI)")
    if os.path.exists("/dev/snd/seq") and rtmidi.API_LINUX_ALSA in compiled:
        return ApiChoice(rtmidi.API_LINUX_ALSA, "alsa", "the ALSA sequencer is present")
    if rtmidi.API_UNIX_JACK in compiled and jack_running():
        return ApiChoice(rtmidi.API_UNIX_JACK, "jack", "no ALSA sequencer; a JACK server is running")
    raise MidiUnavailable(
        "no MIDI system to create ports on: this machine has no ALSA sequencer (/dev/snd/seq) and no "
        "JACK server. Start one with `jackd -d dummy -r 48000 -p 64 &` or load snd-seq (`modprobe snd-seq`)."
    )


def _find(ports: list[str], name: str) -> int | None:
    """Index of a port by its own name ("Copilot Out") whatever client prefix the API adds."""
    for i, port in enumerate(ports):
        bare = port.split(":", 1)[-1] if ":" in port else port
        bare = bare.rsplit(" ", 1)[0] if bare.rsplit(" ", 1)[-1].replace(":", "").isdigit() else bare
        if port == name or bare == name or port.endswith(":" + name):
            return i
    return None


def _probe_for(api: ApiChoice, client: str) -> Any:
    """The watchdog's probe client, made once up front: opening an rtmidi client takes tens of ms with
    the GIL held (77 ms measured on JACK) and would stall the dispatch thread mid-set. JACK needs none."""
    if api.name == "jack":
        return None
    import rtmidi

    return rtmidi.MidiIn(api.api, name=f"{client}-probe")


def _visible(api: ApiChoice, probe: Any, name: str) -> bool | None:
    if api.name == "jack":  # a client of a restarted server lies: ask the server afresh (GIL released)
        ports = jack_ports()
        return None if ports is None else _find(ports, name) is not None
    return _find(probe.get_ports(), name) is not None  # ~15 µs: a listing, no new client


class VirtualOut:
    """One virtual output port. `send` is what the dispatcher calls: a few hundred nanoseconds.

    On JACK the port is native by default (bridge/jack_midi.py): the dispatcher hands each message over
    `ahead` seconds before it is due and JACK's own callback puts it on its frame, so no Python thread
    holding the GIL can make it late. Elsewhere, or when the native client cannot be made, rtmidi sends it
    the moment the dispatcher calls. `path` says which ("native" | "rtmidi"); `path_line` says it in words."""

    def __init__(self, name: str = OUT_PORT, api: ApiChoice | None = None, client: str = CLIENT,
                 native: bool = True, lookahead: float = LOOKAHEAD) -> None:
        self.name = name
        self.client = client
        self.api = api or pick_api()
        self._lock = threading.Lock()  # open/close vs the watchdog; send itself takes no lock
        self._out: Any = None
        self._probe: Any = None
        self._native_wanted = native
        self._lookahead = lookahead
        self.native = False
        self.why_not_native = ""
        self.reopened = 0
        self.lost = False  # the MIDI system went away (the watchdog says so): sends fail until it is back
        self.open()

    @property
    def path(self) -> str:
        return "native" if self.native else "rtmidi"

    @property
    def ahead(self) -> float:
        """How long before its due time a message may be handed to this port (0: send at the time)."""
        return float(self._out.lookahead) if self.native and self._out is not None else 0.0

    @property
    def notice(self) -> float:
        """How long before its time this port must have a message to put it on its frame: a native JACK out
        fills a cycle's buffer when the cycle starts, so a message handed over later than that goes a cycle
        late. (rtmidi sends at the time and always lands at the start of the next cycle: 0.)"""
        return float(self._out.period) if self.native and self._out is not None else 0.0

    @property
    def path_line(self) -> str:
        if self.native:
            return (f"MIDI out '{self.name}': native JACK sends, handed over {self.ahead * 1e3:.0f} ms ahead and "
                    "put on their frame by JACK's callback")
        why = f" ({self.why_not_native})" if self.why_not_native else ""
        return f"MIDI out '{self.name}': rtmidi ({self.api.name}) sends, at their time by the dispatch thread{why}"

    def _native_out(self) -> Any:
        """A native JACK out, or None (and why) when it is not wanted or cannot be made here."""
        if self.api.name != "jack" or not self._native_wanted:
            self.why_not_native = "" if self.api.name != "jack" else "native sends are off in [ports]"
            return None
        try:
            from .jack_midi import NativeJackOut, NativeUnavailable
        except Exception as exc:  # noqa: BLE001 - numba/llvmlite missing or broken: rtmidi still works
            self.why_not_native = f"no native sends: {type(exc).__name__}: {exc}"
            return None
        try:
            return _new_client(lambda: NativeJackOut(self.name, self.client, self._lookahead), self.api)
        except NativeUnavailable as exc:
            self.why_not_native = f"no native sends: {exc}"
        except Exception as exc:  # noqa: BLE001 - whatever the native client tripped on, rtmidi still sends
            self.why_not_native = f"no native sends: {type(exc).__name__}: {exc}"
        return None

    def open(self) -> None:
        import rtmidi

        with self._lock:
            native = self._native_out()
            if native is not None:
                out: Any = native
            else:
                out = _new_client(lambda: rtmidi.MidiOut(self.api.api, name=self.client), self.api)
                if self.api.name == "winmm":  # no app-owned virtual ports: use a loopMIDI port of that name
                    index = _find(out.get_ports(), self.name)
                    if index is None:
                        raise MidiUnavailable(f"create a loopMIDI port named '{self.name}' first")
                    out.open_port(index)
                else:
                    out.open_virtual_port(self.name)
            probe = _probe_for(self.api, self.client)
            old, old_native = self._out, self.native
            self._out, self.native = out, native is not None
            self._probe = probe
        log.info("%s", self.path_line)
        if old is not None:
            _retire_out(old, old_native, server_alive=False)  # re-opening means the old one's server went away

    def send(self, data: bytes | list[int]) -> None:
        if self.native:
            out = self._out
            if out.dead:  # the server dropped our client: a message handed over now would never be placed
                raise MidiUnavailable(f"the JACK server under '{self.name}' is gone; waiting for it")
            handover = HANDOVER
            due = handover.due
            ticket = out.send(data, host_time() if due is None else due)
            if handover.tickets is not None:
                handover.tickets.append((self._out, ticket))
        else:
            self._out.send_message(data)
        if self.lost:  # rtmidi dropped it without a word: fail, so it is counted and said
            raise MidiUnavailable(f"the MIDI system under '{self.name}' is gone (JACK stopped?); waiting for it")

    def counters(self) -> dict[str, int] | None:
        """What the native callback did (handed, placed, late, recalled …); None on the rtmidi path."""
        out = self._out
        return out.counters() if self.native and out is not None else None

    def placements(self, since: int = 0) -> tuple[Any, int]:
        """The native callback's placement errors (placed − due, s) from number `since` on, and the next
        number to ask from; nothing on the rtmidi path."""
        out = self._out
        if not self.native or out is None:
            return [], since
        return out.placements(since)

    def visible(self) -> bool | None:
        """Does the port still show up in the MIDI system? None: the MIDI system itself is gone."""
        return _visible(self.api, self._probe, self.name)

    def close(self) -> None:
        with self._lock:
            out, self._out = self._out, None  # a late send fails in Python, never inside a freed client
            if out is not None:
                _retire_out(out, self.native, self.visible() is not None)
            self._probe = None


def _retire_out(out: Any, native: bool, server_alive: bool) -> None:
    if native:
        out.close(server_alive)  # settles first; a client of a dead server is kept, never closed
    else:
        _retire(out, server_alive)


class VirtualIn:
    """One virtual input port; every message goes to `callback(data, host_time)` on a reader thread.

    rtmidi's own callback would run Python inside JACK's real-time process thread: whenever another
    thread holds the GIL that cycle overruns and MIDI is lost. So rtmidi only queues (C++, lock-free)
    and an ordinary thread drains the queue every `poll` seconds.
    """

    def __init__(
        self,
        callback: Callable[[bytes, float], None],
        name: str = IN_PORT,
        api: ApiChoice | None = None,
        client: str = CLIENT,
        poll: float = 0.001,
    ) -> None:
        self.name = name
        self.api = api or pick_api()
        self.callback = callback
        self.received = 0
        self.errors = 0
        self.lost = False
        self._poll = poll
        self.client = client
        self.reopened = 0
        self._in: Any = None
        self._probe: Any = None
        self._unstick: Any = None
        self.open()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"copilot-midi-in-{name}", daemon=True)
        self._thread.start()

    def open(self) -> None:
        import rtmidi

        port = _new_client(lambda: rtmidi.MidiIn(self.api.api, name=self.client, queue_size_limit=4096), self.api)
        port.ignore_types(sysex=True, timing=True, active_sense=True)  # nothing copilot reads is sysex
        if self.api.name == "winmm":
            index = _find(port.get_ports(), self.name)
            if index is None:
                raise MidiUnavailable(f"create a loopMIDI port named '{self.name}' first")
            port.open_port(index)
        else:
            port.open_virtual_port(self.name)
        self._probe = _probe_for(self.api, self.client)
        old, self._in = self._in, port
        if old is not None:
            _retire(old, server_alive=False)
        old_unstick, self._unstick = self._unstick, self._unsticker()
        if old_unstick is not None:
            _retire(old_unstick, server_alive=False)

    def _unsticker(self) -> Any:
        """A private output wired to this input. rtmidi takes everything after a sysex start (F0) as part of
        that sysex until some message ends with F7: one truncated sysex from any client on the MIDI system
        would deafen the port for the rest of the set. A lone F7 now and then (`unstick`) ends it."""
        if self.api.name not in ("jack", "alsa"):
            return None
        import rtmidi

        try:
            out = _new_client(lambda: rtmidi.MidiOut(self.api.api, name=f"{self.client}-unstick"), self.api)
            index = _find(out.get_ports(), self.name)
            if index is None:
                return None
            out.open_port(index, "unstick")
            return out
        except Exception as exc:  # noqa: BLE001 - without it the port works; only a bad sysex could stop it
            log.warning("no unsticking output for %s: %s", self.name, exc)
            return None

    def unstick(self) -> None:
        """End a sysex some client left open (the watchdog calls this once a period)."""
        out = self._unstick
        if out is not None:
            with contextlib.suppress(Exception):
                out.send_message(END_OF_SYSEX)

    def visible(self) -> bool | None:
        return _visible(self.api, self._probe, self.name)

    def _read(self) -> None:
        from .dispatch import HELPER_PRIORITY, make_realtime

        make_realtime(HELPER_PRIORITY)
        while not self._stop.is_set():
            port = self._in
            if port is None:  # closed
                return
            event = port.get_message()
            if event is None:
                self._stop.wait(self._poll)
                continue
            data = bytes(event[0])
            if data == END_OF_SYSEX:
                continue  # our own (see _unsticker)
            self.received += 1
            try:
                self.callback(data, host_time())
            except Exception:
                self.errors += 1
                log.exception("feedback handler failed")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        alive = self.visible() is not None
        if self._unstick is not None:
            _retire(self._unstick, alive)
        if self._in is not None:
            _retire(self._in, alive, in_use=self._thread.is_alive())
        self._in = self._unstick = self._probe = None


class MidiPorts:
    """The session's MIDI ports by name, plus the watchdog that re-opens vanished outputs."""

    def __init__(self, api: str = "auto", watchdog_period: float = 1.0, native: bool = True,
                 lookahead: float = LOOKAHEAD) -> None:
        self.choice = pick_api(api)
        self.native = native  # JACK outputs fed ahead of time (bridge/jack_midi.py) when they can be
        self.lookahead = lookahead
        self.outputs: dict[str, VirtualOut] = {}
        self.inputs: dict[str, VirtualIn] = {}
        self._period = watchdog_period
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def output(self, name: str = OUT_PORT) -> VirtualOut:
        if name not in self.outputs:
            self.outputs[name] = VirtualOut(name, self.choice, native=self.native, lookahead=self.lookahead)
            self._start_watchdog()
        return self.outputs[name]

    def input(self, callback: Callable[[bytes, float], None], name: str = IN_PORT) -> VirtualIn:
        if name in self.inputs:
            raise ValueError(f"input port {name!r} is already open")
        self.inputs[name] = VirtualIn(callback, name, self.choice)
        self._start_watchdog()
        return self.inputs[name]

    def _start_watchdog(self) -> None:
        if self._watchdog is None and self._period > 0:
            self._watchdog = threading.Thread(target=self._watch, name="copilot-midi-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        gone: dict[str, int] = {}  # port → watchdog rounds in a row that found no MIDI system
        while not self._stop.wait(self._period):
            for port in [*self.outputs.values(), *self.inputs.values()]:
                try:
                    seen = port.visible()
                    if seen is None:  # the MIDI system itself is gone (twice running: a probe can fail once)
                        gone[port.name] = gone.get(port.name, 0) + 1
                        if gone[port.name] >= 2 and not port.lost:
                            log.warning("the MIDI system under %s is gone; waiting for it", port.name)
                            port.lost = True
                        continue
                    gone.pop(port.name, None)
                    if seen is False:  # gone while the MIDI system is up: make it again
                        log.warning("MIDI port %s vanished; re-opening", port.name)
                        port.open()
                        port.reopened += 1
                    port.lost = False
                    if isinstance(port, VirtualIn):
                        port.unstick()
                except Exception as exc:  # noqa: BLE001 - keep watching; doctor shows the state
                    log.warning("could not re-open %s: %s", port.name, exc)

    def status(self) -> dict[str, Any]:
        return {
            "api": self.choice.name,
            "why": self.choice.why,
            "outputs": {n: {"reopened": p.reopened, "lost": p.lost, "path": p.path} for n, p in self.outputs.items()},
            "inputs": {n: {"received": p.received, "errors": p.errors, "reopened": p.reopened, "lost": p.lost}
                       for n, p in self.inputs.items()},
        }

    def close(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(2.0)
        for port in self.outputs.values():
            port.close()
        for port in self.inputs.values():
            port.close()
        self.outputs.clear()
        self.inputs.clear()
