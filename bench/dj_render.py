"""DJ targets: how long rendering an action and decoding host feedback take, against midi-monitor.

Rendering runs on the thread that decides (the scheduler's caller), feedback decoding on the MIDI
input thread; both must stay far below a beat's worth of slack. The baseline is the spine's
midi-monitor target doing the same work from hard-coded dicts, measured in the same run.

    python bench/dj_render.py            # full run
    python bench/dj_render.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from copilot.bridge.actions import Action, ActionKind, Stream
from copilot.bridge.envelope import Breakpoint, Curve, Envelope
from copilot.bridge.state import HostState
from copilot.intents.schema import Deck
from copilot.plugins.midi_monitor import MidiMonitor
from copilot.plugins.mixxx import MixxxTarget
from copilot.plugins.serato import SeratoTarget


def actions() -> list[Action]:
    """A set's worth of actions: buttons, loops, hot cues, FX, a control and a one-bar envelope."""
    out = []
    for deck in (Deck.A, Deck.B):
        out += [Action(ActionKind.PLAY, deck, 4.0), Action(ActionKind.CUE, deck, 4.0),
                Action(ActionKind.LOOP, deck, 4.0, params={"beats": 4.0}),
                Action(ActionKind.HOTCUE, deck, 4.0, params={"n": 3}),
                Action(ActionKind.FX, deck, 4.0, params={"name": "echo", "amount": 0.7}),
                Action(ActionKind.LOAD, deck, 4.0, params={"query": "x"}),
                Action(ActionKind.CONTROL, deck, 4.0, params={"param": "fx_depth", "value": 0.4})]
    return out


def envelope() -> Action:
    env = Envelope("filter", (Breakpoint(8.0, 0.5, Curve.EXP), Breakpoint(12.0, 0.2)), "A")
    return Action(ActionKind.ENVELOPE, Deck.A, 8.0, envelope=env, params={"param": "filter", "start_value": 0.5})


def drained(items: list) -> int:
    """Render and draw out every envelope stream (what the dispatcher pulls over the envelope's bars)."""
    return sum(len(list(i.items)) if isinstance(i, Stream) else 1 for i in items)


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)  # µs
    return samples


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    repeat = 300 if args.quick else 3000
    state = HostState()
    targets = {"midi-monitor (baseline)": MidiMonitor({}), "serato-dj-pro": SeratoTarget({}), "mixxx": MixxxTarget({})}
    set_actions = actions()
    env = envelope()
    feedback = bytes((0x90, 0x10, 0x7F))
    print(f"{platform.node()} · {platform.processor() or platform.machine()} · Python {platform.python_version()}"
          f" · {time.strftime('%Y-%m-%d %H:%M')} · {repeat} repeats")
    print(f"{'target':26} {'action µs p50':>14} {'p99':>8} {'envelope µs p50':>16} {'p99':>8} "
          f"{'feedback µs p50':>16} {'p99':>8}")
    base: dict[str, float] = {}
    for name, target in targets.items():
        per_action = [s / len(set_actions) for s in
                      timed(lambda t=target: [t.render(a, state) for a in set_actions], repeat)]
        per_env = timed(lambda t=target: drained(t.render(env, state)), max(30, repeat // 10))
        per_fb = timed(lambda t=target: t.on_feedback(feedback), repeat)
        row = {"action": statistics.median(per_action), "env": statistics.median(per_env),
               "fb": statistics.median(per_fb)}
        if not base:
            base = row
        print(f"{name:26} {row['action']:14.1f} {p99(per_action):8.1f} {row['env']:16.1f} {p99(per_env):8.1f} "
              f"{row['fb']:16.2f} {p99(per_fb):8.2f}")
        if name != "midi-monitor (baseline)":
            print(f"{'':26} {'×' + format(row['action'] / base['action'], '.2f'):>14} {'':8} "
                  f"{'×' + format(row['env'] / base['env'], '.2f'):>16} {'':8} "
                  f"{'×' + format(row['fb'] / base['fb'], '.2f'):>16}")
    t0 = time.perf_counter()
    SeratoTarget({}).mapping_files()
    MixxxTarget({}).mapping_files()
    print(f"load both tables and generate every mapping file: {(time.perf_counter() - t0) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
