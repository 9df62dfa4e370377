"""The status line of `copilot run` on a terminal: one line, redrawn in place, instead of scrolling text.

    bar 13.2 ●●○○ 124.0 BPM │ A ▶ Dubby 118 ⟳ │ B ■ empty │ next LOOP A in 1.5♩ │ ✓ 4-beat loop on deck A …

The bar and beat, each deck that matters, the next queued action, a transition under way and the last
thing the session said (a refusal in red). Everything said still goes to the session log (JSON Lines);
before the set starts and after it ends, messages print as usual. Drawn about 8 times a second from
`bridge.telemetry` on a thread of its own.
"""

from __future__ import annotations

import shutil
import sys
import threading
from typing import Any, TextIO

RATE = 8.0
RED, DIM, RESET = "\x1b[31m", "\x1b[2m", "\x1b[0m"
CLEAR = "\r\x1b[2K"


def status_text(snap: dict[str, Any], last: str = "") -> str:
    """One status line (without colour) from a telemetry snapshot."""
    q = snap["quantum"]
    beat = snap["beat"]
    bar = int(beat // q)
    in_bar = int(beat - bar * q)
    dots = "".join("●" if i <= in_bar else "○" for i in range(int(q))) if q <= 8 else ""
    parts = [f"bar {bar + 1}.{in_bar + 1} {dots} {snap['tempo']:.1f} BPM"]
    decks = snap["decks"]
    for name, d in decks.items():
        if name in ("A", "B") or d.get("playing") or d.get("track"):
            mark = "▶" if d.get("playing") else "■"
            loop = " ⟳" if d.get("loop") else ""
            parts.append(f"{name} {mark} {d.get('track') or 'empty'}{loop}")
    upcoming = [a for a in snap["queue"] if a["due"] is not None and a["due"] >= beat]
    if upcoming:
        a = upcoming[0]
        what = f"{a['kind']}{' ' + a['deck'] if a.get('deck') else ''}"
        parts.append(f"next {what} in {a['due'] - beat:.1f}♩")
    for m in snap.get("transitions", [])[:1]:  # the transition the mixer planned: its countdown, then its bar
        name = f"{str(m['template']).replace('_', ' ')} {m['out']}→{m['in']}"
        if beat < m["start"]:
            parts.append(f"mix {name} in {m['start'] - beat:.1f}♩")
        else:
            parts.append(f"mix {name} bar {min(m['bars'], int((beat - m['start']) // q) + 1)}/{m['bars']}")
    if snap.get("pending"):
        parts.append(f"? {snap['pending'][-1]['what']} — say yes")
    if last:
        parts.append(last)
    return " │ ".join(parts)


class StatusLine:
    def __init__(self, stream: TextIO | None = None, rate: float = RATE) -> None:
        self.stream = stream or sys.stdout
        self.period = 1.0 / rate
        self.session: Any = None
        self.last = ""
        self.drawing = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def report(self, message: str) -> None:
        """The session's `report`: printed before and after the set, shown on the line during it."""
        with self._lock:
            if not self.drawing:
                print(message, file=self.stream, flush=True)
                return
            self.last = message.replace("\n", " ")

    def start(self, session: Any) -> None:
        self.session = session
        self._thread = threading.Thread(target=self._run, name="copilot-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        with self._lock:
            if self.drawing:
                self.stream.write(CLEAR)
                self.stream.flush()
            self.drawing = False

    def _run(self) -> None:
        from copilot.bridge.dispatch import make_realtime

        make_realtime(20)  # short and sleeping; never preempted while it holds the GIL
        while not self._stop.wait(self.period):
            session = self.session
            if getattr(session, "started_at", None) is None:
                continue  # still starting: messages print as lines
            try:
                snap = session.telemetry.snapshot()
            except Exception:  # noqa: BLE001 - the status line must never take the set down
                continue
            with self._lock:
                if self._stop.is_set():
                    break
                self.drawing = True
                self._draw(snap)

    def _draw(self, snap: dict[str, Any]) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        text = status_text(snap, self.last)
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        if self.last and self.last.startswith("✗"):
            at = text.rfind(self.last[: min(len(self.last), 12)])
            if at >= 0:
                text = text[:at] + RED + text[at:] + RESET
        self.stream.write(CLEAR + text)
        self.stream.flush()
