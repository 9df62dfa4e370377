"""Run inside a private network namespace (with a JACK server named by $JACK_DEFAULT_SERVER): a live
session on Link turns a knob 50 times a second into a JACK port while Link peers join, one yanks the
tempo between a TEMPO decision and its beat, and the peers leave. Prints one JSON line.

    python -m copilot.tests.drill_link_probe PORT-NAME
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from typing import Any

from copilot.bridge.clock import host_time
from copilot.bridge.config import Config
from copilot.bridge.host import TargetHost
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import Intent, IntentKind
from copilot.plugins import midi_monitor
from copilot.tests.fixtures import MidiCapture, die_with_parent
from copilot.tests.fixtures_drill import knob_thread


class Peer:
    """`copilot.tests.link_peer` (aalink): its anchors as they come, `tempo X` and `quit` on stdin."""

    def __init__(self, tempo: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "copilot.tests.link_peer", "--tempo", str(tempo)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     preexec_fn=die_with_parent)
        self.tempos: list[tuple[float, float]] = []  # (host time, tempo)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            a = json.loads(line)
            self.tempos.append((a["now"], a["tempo"]))

    def tell(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def tempo_at(self, t: float) -> float | None:
        before = [tempo for at, tempo in self.tempos if at <= t]
        return before[-1] if before else None

    def wait_up(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.tempos and time.monotonic() < deadline:
            time.sleep(0.02)

    def quit(self) -> None:
        if self.proc.poll() is None:
            self.tell("quit")
            self.proc.wait(5)


def main() -> None:
    port = sys.argv[1]
    first = Peer(120.0)
    first.wait_up()
    time.sleep(1.0)  # a set already running at 120 BPM
    said: list[tuple[float, str]] = []
    config = Config({"targets": {"midi-monitor": {"port": port}}, "ports": {"in": f"{port} In"}})
    session = Session(SessionOptions(target="midi-monitor", duration=10.0, link=True, tempo=120.0, osc=None,
                                     midi_api="jack", log=None),
                      config, host=TargetHost(config.targets(), plugins=[midi_monitor], entry_points=False),
                      report=lambda line: said.append((host_time(), line)))
    session.start()
    capture = MidiCapture(port, f"{port}-capture")
    out: dict[str, Any] = {}
    marks: dict[str, float] = {}

    def peers() -> None:
        second = Peer(90.0)  # joins a running set: must adopt 120, never reset it
        second.wait_up()
        time.sleep(1.0)
        out["second_joined_at"] = second.tempo_at(host_time())
        tempo = session.submit(Intent(IntentKind.TEMPO, args={"delta_bpm": 2.0}, at_beat=session.clock.beat + 4))
        out["tempo_decision"] = (tempo.verdict.value, tempo.beat)
        marks["tempo_due"] = session.clock.time_at_beat(tempo.beat) if tempo.beat is not None else 0.0
        time.sleep(1.0)
        second.tell("tempo 160")  # a peer yanks the tempo before copilot's +2 lands
        marks["yank"] = host_time()
        time.sleep(0.5)
        fresh = session.submit(Intent(IntentKind.TEMPO, args={"bpm": 122.0}))  # from 160: a 38 BPM jump
        out["fresh_tempo"] = fresh.verdict.value
        while host_time() < marks["tempo_due"] + 0.8:
            time.sleep(0.05)
        out["tempo_after_due"] = {"first": first.tempo_at(host_time()), "copilot": round(session.clock.tempo, 2)}
        second.quit()
        marks["left"] = host_time()
        deadline = time.monotonic() + 3.0
        while session.clock.peers > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        out["peers_after_one_left"] = session.clock.peers
        first.quit()  # and the last one goes: copilot plays on alone
        session._stop.wait()

    knob_thread(session)  # the music
    threading.Thread(target=peers, daemon=True).start()
    try:
        session.play()
    finally:
        alive = session.dispatcher._thread is not None and session.dispatcher._thread.is_alive()
        session.stop()
    arrivals = [capture.messages.get()[1] for _ in range(capture.messages.qsize())]
    capture.close()
    tally = session.dispatcher.tally.get("midi-monitor")
    out.update(
        dispatcher_alive=alive, sent=tally.sent if tally else 0, failed=tally.failed if tally else -1,
        wire=len(arrivals), largest_gap=round(max(b - a for a, b in itertools.pairwise(arrivals)), 3),
        after_leaving=len([a for a in arrivals if a > marks.get("left", float("inf"))]),
        tempo_lines=[line for _, line in said if "tempo" in line.lower()],
    )
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
