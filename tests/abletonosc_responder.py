"""A stand-in for Live with AbletonOSC, as its own process (inside a network namespace): listens on UDP
11000 and answers on port 11001 of the sender, exactly as AbletonOSC does (see fixtures_live).

    python -m copilot.tests.abletonosc_responder [--port 11000] [--reply-port 11001]

Prints "ready" once it listens, then one line per message received; stops when stdin closes.
"""

from __future__ import annotations

import argparse
import sys

from copilot.tests.fixtures_live import AbletonOscServer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=11000)
    ap.add_argument("--reply-port", type=int, default=11001)
    args = ap.parse_args()
    server = AbletonOscServer(reply_port=args.reply_port, listen_port=args.port)
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin (or kills us)
    finally:
        for address, params in server.messages():
            print(address, *params, flush=True)
        server.close()


if __name__ == "__main__":
    main()
