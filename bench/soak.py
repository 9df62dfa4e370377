"""Soak: a long set under everything at once — does memory stay flat, does any send come late, is every
decision logged?

    python bench/soak.py                  # one hour
    python bench/soak.py --minutes 5      # a quick look
    python bench/soak.py --send-path rtmidi   # the old send path (the dispatch thread sends at the time)

A real live session (midi-monitor on "Copilot Out" of its own JACK dummy server, internal clock at
124 BPM, the phrase-database library over the example crate, OSC intents on a UDP port, motion OSC on
another) plays for `--minutes`:
  settle     the first `--settle-minutes`: four phones at 100 Hz only, not measured (start-up: imports,
             compiled kernels, the library warming up);
  baseline   the next `--baseline-minutes`: the same four phones only (the motion stream is the music);
  loaded     the rest: the phones, plus OSC intents at 10 a second with three hostile datagrams after
             each (tests/fuzz_corpus.py), a voice transcript every 3 s through the voice input's text
             path (copilot.voice.understand → session.submit), and a LOAD every 30 s.
The phones and the OSC controller are other devices in a real set: they send from child processes, so
their own Python never holds the set's GIL; voice and the LOADs run inside the set, as they do live.
Reported: send lateness per phase in fixed histograms (10 µs bins: memory does not grow with the set) —
as the dispatcher saw it (its send time − due time; on the native path that is the hand-over, a lookahead
early), and on the wire (a frame-exact JACK recorder on "Copilot Out", each message matched to its send
by its bytes, in order: wire time − due time) — how many loaded sends came later than the baseline's p99
+ 1 ms, OSC decision round trips (send → /copilot/decision), memory every 10 s — RSS and its parts
(anonymous: what the session allocates; file-backed; shared: JACK's segments, which every probe client
maps for a moment) with, from `--warmup-minutes` into the loaded phase on, min, max and the trend in MB per
minute (a least-squares line) — and decisions made vs decision records in the session log.
On the wire, two kinds of send are judged apart, because their lateness is not the set's: sends with no
beat (a PANIC, a confirm's effect: due when decided, so late by the reaction) and sends of actions
decided after their beat (a press within the phase window counts on the beat just gone: late by how late
the press was). Every other loaded send over 2 ms late is listed, with how long after the last voice
transcript and LOAD it came (`late_sends`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from memory import rss_parts_mb, slope_mb_per_minute  # bench/memory.py: the script's folder is on the path

from copilot.bridge.clock import host_time
from copilot.bridge.config import Config
from copilot.bridge.dispatch import Sent
from copilot.bridge.host import TargetHost
from copilot.bridge.scheduler import Decision
from copilot.bridge.session import Session, SessionOptions
from copilot.intents.schema import Intent, IntentKind, Source
from copilot.motion import synth
from copilot.plugins import midi_monitor, motion_input, phrase_db
from copilot.tests.fixtures import free_udp_port, start_jack, stop_jack
from copilot.tests.fuzz_corpus import corpus, osc
from copilot.tests.jack_recorder import JackRecorder

TEMPO = 124.0
PHONES = 4
PHONE_HZ = 100.0
INTENTS_HZ = 10.0
GARBAGE_PER_INTENT = 3
VOICE_EVERY = 3.0
LOAD_EVERY = 30.0
COMMANDS = ("loop 4 on deck A", "exit loop on deck A", "hot cue 2 on deck B", "sync B", "fx echo on deck A",
            "fx off on deck A", "filter up 20 percent on deck B", "cue deck B", "loop 8 on deck B", "exit loop on B")
SPOKEN = ("loop eight on deck b", "filter down on deck a", "hot cue three on deck a", "sync deck a",
          "echo on deck b", "echo off on deck b", "cancel", "exit loop on deck b")
QUERIES = ("dubby", "sunrise keys", "techno", "house")


def threads_realtime(pid: int | str = "self") -> list[str]:
    """The threads of a process that run real-time: "name FIFO/prio" each (from /proc; Linux only)."""
    out = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        priority, policy = int(fields[37]), int(fields[38])  # rt_priority (field 40), policy (field 41)
        if policy in (1, 2):
            out.append(f"{name} {'FIFO' if policy == 1 else 'RR'}/{priority}")
    return out


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Histogram:
    """Lateness in 10 µs bins from −2 ms to 100 ms (and the exact max): fixed memory for any length of set."""

    LO, STEP, BINS = -0.002, 1e-5, 10_200

    def __init__(self) -> None:
        self.counts = np.zeros(self.BINS + 2, dtype=np.int64)  # [below, bins…, above]
        self.max = -math.inf
        self.n = 0

    def add(self, x: float) -> None:
        i = int((x - self.LO) / self.STEP) + 1
        self.counts[min(max(i, 0), self.BINS + 1)] += 1
        self.max = max(self.max, x)
        self.n += 1

    def add_many(self, xs: np.ndarray) -> None:
        if not xs.size:
            return
        idx = np.clip(((xs - self.LO) / self.STEP).astype(np.int64) + 1, 0, self.BINS + 1)
        np.add.at(self.counts, idx, 1)
        self.max = max(self.max, float(xs.max()))
        self.n += int(xs.size)

    def quantile(self, q: float) -> float:
        if not self.n:
            return math.nan
        k = int(np.searchsorted(np.cumsum(self.counts), q * self.n, side="left"))
        return self.LO + (k - 0.5) * self.STEP

    def above(self, x: float) -> int:
        i = int((x - self.LO) / self.STEP) + 1
        return int(self.counts[min(max(i + 1, 0), self.BINS + 1):].sum())

    def summary(self) -> dict[str, float]:
        return {"sends": self.n, "p50_ms": self.quantile(0.5) * 1e3, "p99_ms": self.quantile(0.99) * 1e3,
                "p999_ms": self.quantile(0.999) * 1e3, "max_ms": self.max * 1e3}


def _phones(port: int, stop: Any, out: Any) -> None:
    """Four phones at 100 Hz (a child process: see Soak.devices)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    period = 1.0 / PHONE_HZ
    start = time.monotonic()
    sent = 0
    for tick in itertools.count():
        if stop.is_set():
            break
        beat = tick * period * TEMPO / 60.0
        for p in range(PHONES):
            sway = 0.6 * math.sin(2 * math.pi * beat + p)
            for data in synth.phone_datagrams("zigsim", f"PHONE{p}", (sway, 0.2 * sway, 1.0 + 0.3 * sway),
                                              (0.0, 0.0, 1.0), (sway, -sway, 0.5 * sway)):
                sock.sendto(data, ("127.0.0.1", port))
                sent += 1
        wait = start + (tick + 1) * period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    sock.close()
    out.put({"phone_datagrams": sent})


def _intents(port: int, stop: Any, out: Any) -> None:
    """OSC intents at 10 a second, three hostile datagrams after each, timing each decision's reply (a child
    process: see Soak.devices)."""
    ask = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ask.bind(("127.0.0.1", 0))
    ask.settimeout(1.0)
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    garbage = itertools.chain.from_iterable(
        itertools.chain(corpus("intents", 10_000, seed=s), corpus("json", 10_000, seed=s))
        for s in itertools.count())
    period = 1.0 / INTENTS_HZ
    start = time.monotonic()
    counts = {"intents": 0, "garbage": 0, "replies": 0}
    round_trips: list[float] = []
    for i in itertools.count():
        if stop.is_set():
            break
        sent_at = host_time()
        ask.sendto(osc("/copilot/intent", COMMANDS[i % len(COMMANDS)]), ("127.0.0.1", port))
        counts["intents"] += 1
        for _ in range(GARBAGE_PER_INTENT):
            try:
                junk.sendto(next(garbage), ("127.0.0.1", port))
                counts["garbage"] += 1
            except OSError:
                pass
        try:
            ask.recvfrom(4096)
            round_trips.append(host_time() - sent_at)
            counts["replies"] += 1
        except TimeoutError:
            pass
        wait = start + (i + 1) * period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    ask.close()
    junk.close()
    out.put({**counts, "round_trips": round_trips})


class Soak:
    def __init__(self, args: argparse.Namespace, log_path: Path) -> None:
        self.args = args
        self.motion_port = free_udp_port()
        config = Config({"motion": {"osc": f"127.0.0.1:{self.motion_port}"},
                         "ports": {"native": args.send_path == "native"},
                         "run": {"wake_latency_us": args.wake_latency}})
        host = TargetHost(config.targets(), plugins=[midi_monitor, motion_input, phrase_db], entry_points=False,
                          settings=config.data)
        options = SessionOptions(target="midi-monitor", duration=args.minutes * 60.0, link=False, tempo=TEMPO,
                                 osc="127.0.0.1:0", midi_api="jack", log=log_path,
                                 motion_osc=f"127.0.0.1:{self.motion_port}")
        self.said: list[str] = []
        self.session = Session(options, config, host=host, report=self._say)
        # actions decided after their beat had passed (a press within the phase window δ counts on the beat
        # just gone, as a DJ expects): sent at once, late by how late the press was — the performer's
        # lateness, not the set's, so reported apart (bounded: the ids of the last few thousand)
        self.after_beat: set[str] = set()
        self._after_order: deque[str] = deque()
        self.session.listen_decisions(self._on_decision)
        self.phase = "settle"
        self.lateness = {"settle": Histogram(), "baseline": Histogram(), "loaded": Histogram()}
        self.wire = {"settle": Histogram(), "baseline": Histogram(), "loaded": Histogram()}
        # sends with no beat (a PANIC, a CONFIRM's effect: "now"): due when decided, so their wire time is
        # the reaction (the hand-over and the next JACK cycle), not a beat kept or missed; apart
        self.wire_at_once = {"settle": Histogram(), "baseline": Histogram(), "loaded": Histogram()}
        self.wire_after_beat = {"settle": Histogram(), "baseline": Histogram(), "loaded": Histogram()}
        self.placed = {"settle": Histogram(), "baseline": Histogram(), "loaded": Histogram()}  # native callback's own
        self.awaiting: deque[tuple[float, bytes, bool, str]] = deque()  # (due, bytes, no beat, action): not yet heard
        self.unmatched = 0
        self.heard_unmatched = 0
        self.round_trips: list[float] = []
        self.children: list[tuple[Any, Any]] = []  # (process, its result queue)
        self.device_stop: Any = None
        self.rss: list[tuple[float, dict[str, float]]] = []  # every 10 s: RSS and its anon/file/shmem parts
        self.counts = {"intents": 0, "garbage": 0, "voice": 0, "loads": 0, "replies": 0, "phone_datagrams": 0}
        self.stop = threading.Event()
        self.loaded_at = math.inf
        self.loads_seen: list[float] = []  # the machine's 1-minute load average every 10 s
        # the loaded phase's sends over 2 ms late on the wire, and when voice and the LOADs came (Link time):
        # what was going on when a send came late
        self.late_sends: list[tuple[float, float, str]] = []
        self.moments: dict[str, list[float]] = {"voice": [], "load": []}
        self.realtime: dict[str, list[str]] = {}
        self.load_at_start = load_average()
        self.traced: tracemalloc.Snapshot | None = None

    def _say(self, line: str) -> None:
        if len(self.said) < 2000:
            self.said.append(line)

    def _on_sent(self, sent: Sent) -> None:  # dispatch thread: two adds into fixed arrays, one append
        if sent.sink != "clock":
            self.lateness[self.phase].add(sent.sent - sent.due)
            data = getattr(sent.payload, "data", None)
            if data is not None:
                self.awaiting.append((sent.due, bytes(data), sent.beat is None, sent.action_id))

    def on_the_wire(self, recorder: JackRecorder) -> None:
        """Every 0.2 s: match what the recorder heard to what was sent — the same bytes, the send whose due
        time is nearest among the next few with those bytes (a move's value changes between sends, so equal
        bytes are far apart; a lost or recalled message is not matched to a later one) — and drain the
        native callback's own record of its placements. Kept light (a table by bytes, numpy for the
        placements): this thread shares the set's GIL."""
        out = self.session.ports.outputs.get("Copilot Out") if self.session.ports else None
        since = 0
        by_bytes: dict[bytes, deque[tuple[float, Histogram | None]]] = {}
        swept = time.monotonic()
        while not self.stop.wait(0.2):
            phase = self.phase
            while self.awaiting:
                due, data, at_once, action = self.awaiting.popleft()
                apart = self.wire_at_once if at_once else self.wire_after_beat if action in self.after_beat else None
                by_bytes.setdefault(data, deque()).append((due, apart[phase] if apart else None))
            for wire, data in recorder.messages():
                dues = by_bytes.get(data)
                while dues and dues[0][0] < wire - 1.0:
                    dues.popleft()  # sent but never heard (a recall, a loss): counted, not timed
                    self.unmatched += 1
                best, gap = -1, 0.25  # farther than this from its due time: not this send
                for k in range(min(4, len(dues) if dues else 0)):
                    if abs(wire - dues[k][0]) < gap:
                        best, gap = k, abs(wire - dues[k][0])
                if best >= 0:
                    due, apart = dues[best]
                    (apart or self.wire[phase]).add(wire - due)
                    if wire - due > 0.002 and apart is None and phase == "loaded" and len(self.late_sends) < 500:
                        self.late_sends.append((due, wire - due, data.hex()))
                    del dues[best]
                else:
                    self.heard_unmatched += 1
            if time.monotonic() - swept > 5.0:  # what was sent long ago and never heard
                swept, old = time.monotonic(), host_time() - 2.0
                for dues in by_bytes.values():
                    while dues and dues[0][0] < old:
                        dues.popleft()
                        self.unmatched += 1
            if out is not None:
                errors, since = out.placements(since)
                self.placed[phase].add_many(np.asarray(errors, dtype=float))

    def _on_decision(self, decision: Decision) -> None:
        if decision.beat is not None and self.session.clock.time_at_beat(decision.beat) < decision.at:
            for action in decision.actions:
                self.after_beat.add(action.id)
                self._after_order.append(action.id)
            while len(self._after_order) > 4096:
                self.after_beat.discard(self._after_order.popleft())

    def _late_story(self) -> list[dict[str, Any]]:
        """Each send over 2 ms late on the wire, with how long after the last voice transcript and LOAD."""
        story = []
        for due, late, data in self.late_sends:
            since = {what: round(due - max((t for t in times if t <= due), default=math.nan), 3)
                     for what, times in self.moments.items()}
            story.append({"due": round(due, 4), "late_ms": round(late * 1e3, 2), "midi": data, "after": since})
        return story

    # -- the performers ------------------------------------------------------------------------------
    # The phones and the OSC controller are other devices in a real set: they send from a child process
    # (`devices`), so their Python does not compete with the set's threads for the GIL — what they cost
    # the set is what a real datagram costs it. Voice and the LOADs run inside the set, as they do live.
    def devices(self, what: str) -> Any:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        target = _phones if what == "phones" else _intents
        port = self.motion_port if what == "phones" else self.session.osc_server.port
        out: Any = ctx.Queue()
        proc = ctx.Process(target=target, args=(port, self.device_stop, out), daemon=True, name=f"soak-{what}")
        proc.start()
        self.children.append((proc, out))
        return proc

    def voice(self) -> None:
        from copilot.voice.asr import Transcript
        from copilot.voice.understand import understand

        for i in itertools.count():
            if self.stop.wait(VOICE_EVERY):
                break
            text = SPOKEN[i % len(SPOKEN)]
            result = understand(Transcript(text, 0.2, -0.15, 0.01, len(text.split()) + 2, 2.0), constrained=False)
            if result.intent is not None:
                self.moments["voice"].append(host_time())
                self.session.submit(result.intent)
                self.counts["voice"] += 1

    def loads(self) -> None:
        for i in itertools.count():
            if self.stop.wait(LOAD_EVERY):
                break
            query = QUERIES[i % len(QUERIES)]
            self.moments["load"].append(host_time())
            self.session.submit_soon(Intent(IntentKind.LOAD, args={"query": query}, source=Source.PAD,
                                            text=f"load {query}"))
            self.counts["loads"] += 1

    def watch(self) -> None:
        while not self.stop.wait(10.0):
            self.rss.append((host_time(), rss_parts_mb()))
            self.loads_seen.append(os.getloadavg()[0])
            if len(self.rss) == 3:  # 30 s in: every thread of the set is up
                self.realtime = {"copilot (this process)": threads_realtime(),
                                 "jackd": threads_realtime(self.args.jackd_pid) if self.args.jackd_pid else []}
            if tracemalloc.is_tracing() and self.traced is None and \
                    host_time() >= self.loaded_at + self.args.warmup_minutes * 60.0:
                self.traced = tracemalloc.take_snapshot()  # what grows from here on is printed at the end

    def growth(self) -> None:
        """--tracemalloc: Python's allocations that grew after the warm-up, by traceback (stderr)."""
        if self.traced is None:
            return
        for stat in tracemalloc.take_snapshot().compare_to(self.traced, "traceback")[:10]:
            print(f"{stat.size_diff / 2**20:+.2f} MB in {stat.count_diff:+d} blocks", file=sys.stderr)
            for line in stat.traceback.format()[-12:]:
                print("   " + line, file=sys.stderr)

    # -- the run ---------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        s = self.session
        s.dispatcher.listeners.append(self._on_sent)
        s.start()
        started = host_time()
        recorder = JackRecorder("Copilot Out", "soak-recorder")
        import multiprocessing

        self.device_stop = multiprocessing.get_context("spawn").Event()
        self.devices("phones")
        threads = [threading.Thread(target=self.watch, daemon=True, name="soak-watch")]
        threads.append(threading.Thread(target=self.on_the_wire, args=(recorder,), daemon=True, name="soak-wire"))
        for t in threads:
            t.start()

        def go_loaded() -> None:
            if self.stop.wait(self.args.settle_minutes * 60.0):
                return
            self.phase = "baseline"
            if self.stop.wait(self.args.baseline_minutes * 60.0):
                return
            self.loaded_at = host_time()
            self.phase = "loaded"
            self.devices("intents")
            for f in (self.voice, self.loads):
                t = threading.Thread(target=f, daemon=True, name=f"soak-{f.__name__}")
                t.start()
                threads.append(t)

        threading.Thread(target=go_loaded, daemon=True).start()
        from copilot.bridge.dispatch import freeze_heap, thaw_heap

        freeze_heap()
        try:
            s.play()
        finally:
            self.stop.set()
            self.device_stop.set()
            for proc, results in self.children:
                try:
                    got = results.get(timeout=5.0)
                except Exception:  # noqa: BLE001 - a device that died says nothing: its counts stay 0
                    got = {}
                self.round_trips += got.pop("round_trips", [])
                for key, value in got.items():
                    self.counts[key] += value
                proc.join(2.0)
            out = s.ports.outputs.get("Copilot Out") if s.ports is not None else None
            self.path_line = out.path_line if out is not None else None
            self.native_counters = out.counters() if out is not None else None
            self.cores_line = s.wake.line()
            s.stop()
            thaw_heap()
        for t in threads:
            t.join(3.0)
        recorder.close()
        self.growth()
        print("\n".join(line for line in self.said[:200] if not line.startswith(("✓", "✗", "?"))), file=sys.stderr)
        return self.report(started)

    def _memory(self, part: str, after: list[tuple[float, dict[str, float]]]) -> dict[str, Any]:
        """One part of the memory (rss, anon, file, shmem): its course, and after the warm-up its floor,
        peak and trend (MB per minute, a least-squares line: one passing peak hardly moves it)."""
        key = f"{part}_mb"
        mb = [p[key] for _, p in after]
        return {"start": self.rss[0][1][key] if self.rss else None, "end": self.rss[-1][1][key] if self.rss else None,
                "every_minute": [p[key] for _, p in self.rss[::6]],
                "after_warmup_min": min(mb) if mb else None, "after_warmup_max": max(mb) if mb else None,
                "after_warmup_growth": (max(mb) - min(mb)) if mb else None,
                "after_warmup_slope_mb_per_min": slope_mb_per_minute([t for t, _ in after], mb)}

    def report(self, started: float) -> dict[str, Any]:
        base, loaded = (self.lateness[k].summary() for k in ("baseline", "loaded"))
        if not self.lateness["baseline"].n:
            raise SystemExit("no sends in the baseline phase: did the motion input start? (see the lines above)")
        bound = self.lateness["baseline"].quantile(0.99) + 0.001
        warm = self.loaded_at + self.args.warmup_minutes * 60.0
        after = [(t, parts) for t, parts in self.rss if t >= warm]
        log_decisions = 0
        with open(self.session.options.log, encoding="utf-8") as fh:
            for line in fh:
                if '"type": "decision"' in line:
                    log_decisions += 1
        rt = np.asarray(self.round_trips) * 1e3

        def judged(h: dict[str, Histogram]) -> dict[str, Any]:
            if not h["baseline"].n:
                return {}
            b = h["baseline"].quantile(0.99) + 0.001
            return {"baseline": h["baseline"].summary(), "loaded": h["loaded"].summary(), "bound_ms": b * 1e3,
                    "loaded_later_than_bound": h["loaded"].above(b)}

        return {
            "send_path": self.path_line, "cores": self.cores_line, "native_counters": self.native_counters,
            "on_the_wire": judged(self.wire), "native_placements": judged(self.placed),
            "late_sends": self._late_story(),
            "on_the_wire_at_once": {phase: self.wire_at_once[phase].summary() for phase in ("baseline", "loaded")},
            "on_the_wire_after_beat": {phase: self.wire_after_beat[phase].summary()
                                       for phase in ("baseline", "loaded")},
            "sent_never_heard": self.unmatched, "heard_never_matched": self.heard_unmatched,
            "minutes": self.args.minutes, "settle_minutes": self.args.settle_minutes,
            "baseline_minutes": self.args.baseline_minutes, "warmup_minutes": self.args.warmup_minutes,
            "lateness": {"baseline": base, "loaded": loaded},
            "loaded_later_than_baseline_p99_plus_1ms": self.lateness["loaded"].above(bound),
            "bound_ms": bound * 1e3,
            "decision_round_trip_ms": {"n": int(rt.size), "p50": float(np.percentile(rt, 50)) if rt.size else None,
                                       "p99": float(np.percentile(rt, 99)) if rt.size else None,
                                       "max": float(rt.max()) if rt.size else None},
            "memory_mb": {part: self._memory(part, after) for part in ("rss", "anon", "file", "shmem")},
            "decisions": {"made": sum(self.session.verdicts.values()), "logged": log_decisions,
                          "by_verdict": dict(self.session.verdicts)},
            "counts": self.counts,
            "osc": {k: v for k, v in vars(self.session.osc_server.counters).items() if k != "by_address"}
            if self.session.osc_server else None,
            "said_trouble": [line for line in self.said if "failing" in line or line.startswith("!")
                             or "did not start" in line][:10],
            "load_average": {"at_start": self.load_at_start, "at_end": load_average(),
                             "1min_median": float(np.median(self.loads_seen)) if self.loads_seen else None,
                             "1min_max": max(self.loads_seen) if self.loads_seen else None},
            "realtime_threads": self.realtime,
        }


def _wake_latency(text: str) -> int | str:
    if text == "off":
        return text
    try:
        return max(0, int(text))
    except ValueError:
        raise argparse.ArgumentTypeError("a whole number of µs, or off") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--settle-minutes", type=float, default=None, help="default: 2 %% of the run, 0.3 min or more")
    ap.add_argument("--baseline-minutes", type=float, default=None, help="default: 5 %% of the run, 0.5 min or more")
    ap.add_argument("--warmup-minutes", type=float, default=None,
                    help="memory is judged from this far into the loaded phase (default: 10 %% of the run)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--send-path", choices=("native", "rtmidi"), default="native",
                    help="JACK MIDI sends handed ahead to the native callback (default), or rtmidi's at the time")
    ap.add_argument("--wake-latency", default=0, type=_wake_latency, metavar="US|off",
                    help="[run] wake_latency_us: idle cores wake within this many µs (default 0), or off")
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                    help="trace Python's allocations and print what grew after the warm-up, by traceback "
                         "(a measurement: slows the whole set)")
    args = ap.parse_args()
    if args.baseline_minutes is None:
        args.baseline_minutes = max(0.5, 0.05 * args.minutes)
    if args.settle_minutes is None:
        args.settle_minutes = max(0.3, 0.02 * args.minutes)
    if args.warmup_minutes is None:
        args.warmup_minutes = max(0.3, 0.1 * args.minutes)
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    name = f"copilot-soak-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    server = start_jack(name)
    args.jackd_pid = server.process.pid
    tmp = Path(tempfile.mkdtemp(prefix="copilot-soak-"))
    try:
        result = Soak(args, tmp / "session.jsonl").run()
    finally:
        stop_jack(server)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    result["date"] = time.strftime("%Y-%m-%d %H:%M")
    text = json.dumps(result, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text)
    (tmp / "session.jsonl").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
