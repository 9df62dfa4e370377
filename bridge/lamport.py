"""The node's Lamport clock: orders intents from racing sources (voice vs pad vs a phone on the LAN).

Intents are stamped where races are settled, when the scheduler decides (under its lock); a remote
sender's stamp is merged, so everything decided here afterwards is ordered after what it had seen.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from copilot.intents.schema import Intent

# How far ahead of this node a sender's stamp may pull its clock in one merge. A real peer is never
# millions of decisions ahead; a hostile one claiming 2^53 would otherwise use up the stamps every
# reader keeps exactly (MAX_LAMPORT) in one packet.
MAX_LEAD = 2**24


class LamportClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def tick(self) -> int:
        with self._lock:
            self._value += 1
            return self._value

    def observe(self, remote: int) -> int:
        """Merge a stamp seen on a message from elsewhere; returns the local stamp for that event."""
        with self._lock:
            self._value = max(self._value, min(int(remote), self._value + MAX_LEAD)) + 1
            return self._value

    @property
    def value(self) -> int:
        return self._value

    def stamp(self, intent: Intent) -> Intent:
        """The intent with its local stamp: ticked, or merged past the remote sender's."""
        return replace(intent, lamport=self.observe(intent.lamport) if intent.lamport else self.tick())


LAMPORT = LamportClock()  # one per process: every scheduler in it shares the order
