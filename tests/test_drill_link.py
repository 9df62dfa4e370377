"""Fault drill on the shared clock, with the music going on: Link peers join and leave a live set in a
private network namespace, and one yanks the tempo between copilot's TEMPO decision and its beat."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.netns, pytest.mark.jack]


def test_peers_join_and_leave_and_a_yanked_tempo_is_never_yanked_back(link_netns, jack_server):
    port = f"drill-link-{os.getpid()}"
    out = link_netns.run(link_netns.python("-m", "copilot.tests.drill_link_probe", port), timeout=90)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["second_joined_at"] == pytest.approx(120.0, abs=0.01)  # a joining peer adopts the set's tempo
    assert r["tempo_decision"][0] == "scheduled"  # +2 BPM from 120: within the cap
    # the peer took the set to 160 before copilot's +2 was due: 122 from 160 is a 38 BPM jump nobody
    # confirmed, so it is withdrawn — the tempo stays where the peer put it, on every peer
    assert r["tempo_after_due"] == {"first": pytest.approx(160.0, abs=0.01), "copilot": 160.0}
    assert any("tempo to 122 BPM withdrawn: the Link session moved to 160.0 BPM" in line
               for line in r["tempo_lines"]), r["tempo_lines"]
    assert r["fresh_tempo"] == "awaiting_confirm"  # a new 38 BPM jump asks first
    # the music never stopped: the knob on the wire all along, also after every peer left
    assert r["dispatcher_alive"] and r["failed"] == 0
    assert r["wire"] >= 0.8 * r["sent"] and r["largest_gap"] < 0.3, r
    assert r["peers_after_one_left"] == 1 and r["after_leaving"] > 100  # ~50 a second after the peers went
