"""Print every MIDI message arriving from a JACK port, one `<host time> <hex bytes>` line each.

    python -m copilot.tests.midi_probe "Copilot Out" [client name]

For tests whose own process must not load libjack (one process talking to two JACK servers crashes
libjack): the probe runs beside them, on the server JACK_DEFAULT_SERVER names, until it is terminated.
"""

from __future__ import annotations

import sys

from copilot.tests.fixtures import MidiCapture


def main() -> None:
    capture = MidiCapture(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "copilot-midi-probe")
    print("ready", flush=True)
    while True:
        at, _jack_time, data = capture.messages.get()  # when read; collect() gives JACK's arrival times
        print(f"{at:.6f} {data.hex()}", flush=True)


if __name__ == "__main__":
    main()
