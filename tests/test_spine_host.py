"""The plugin host: entry-point discovery, third-party targets, broken plugins, capability honesty."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from copilot.bridge.actions import Action, ActionKind, MidiOut, Timed
from copilot.bridge.host import ENTRY_POINT_GROUP, Capabilities, Check, Target, TargetHost, UnknownTarget, hookimpl
from copilot.bridge.state import HostState
from copilot.intents.schema import Deck
from copilot.plugins import midi_monitor


class Blinky(Target):
    """A third-party target: one LED note per PLAY, nothing else."""

    name = "blinky"

    def capabilities(self) -> Capabilities:
        return Capabilities(actions=frozenset({ActionKind.PLAY}))

    def render(self, action, state):
        return [Timed(action.beat, MidiOut(bytes([0x9F, 1, 127])), action.id)]


class BlinkyPlugin:
    @hookimpl
    def copilot_targets(self, config):
        return [Blinky(config.get("blinky"))]

    @hookimpl
    def copilot_doctor(self, config):
        return [Check("blinky LED", True, "lit")]


class BrokenPlugin:
    @hookimpl
    def copilot_targets(self, config):
        raise RuntimeError("driver missing")


def test_builtin_targets_are_found_through_the_entry_point_group():
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert "midi-monitor" in names
    host = TargetHost()
    assert "midi-monitor" in host.names()


def test_a_third_party_plugin_adds_a_target_that_is_then_called_directly():
    host = TargetHost(plugins=[BlinkyPlugin(), midi_monitor], entry_points=False)
    assert host.names() == ["blinky", "midi-monitor"]
    blinky, monitor = host.get("blinky"), host.get("midi-monitor")
    action = Action(ActionKind.PLAY, Deck.A, 4.0)
    assert blinky.render(action, HostState())[0].payload.data == bytes([0x9F, 1, 127])
    assert monitor.render(action, HostState())[0].payload.data == bytes([0x90, 0x10, 0x7F])
    assert blinky.capabilities().can(ActionKind.PLAY) and not blinky.capabilities().can("filter")
    assert [c.name for c in host.doctor()] == ["blinky LED"]
    # pluggy only finds: a target is no plugin of its own, and no hook is called per action (the mixer,
    # like a library, is found once and then asked per transition directly)
    assert blinky not in host.pm.get_plugins() and monitor not in host.pm.get_plugins()
    assert {h for h in dir(host.pm.hook) if h.startswith("copilot_")} == {
        "copilot_targets", "copilot_inputs", "copilot_doctor", "copilot_library", "copilot_mixer",
        "copilot_settings"}


class Shelf:
    """A third-party library: LOAD words → a file."""

    name = "shelf"

    def resolve(self, query):
        return {"path": f"/music/{query}.flac", "title": query.title()} if query == "dubby" else None


class ShelfPlugin:
    @hookimpl
    def copilot_library(self, options):
        return Shelf() if options.get("shelf") else None


def test_libraries_are_found_in_order_and_a_plugin_may_offer_none():
    host = TargetHost(plugins=[ShelfPlugin()], entry_points=False)
    assert host.libraries({}) == []
    (shelf,) = host.libraries({"shelf": True})
    assert shelf.resolve("dubby")["path"] == "/music/dubby.flac" and shelf.resolve("polka") is None
    # the built-in ones: the phrase database first, the engine's crate as the fallback
    names = [lib.name for lib in TargetHost().libraries({})]
    assert names.index("phrase database") < names.index("crate") == len(names) - 1


def test_a_broken_plugin_is_reported_not_fatal():
    host = TargetHost(plugins=[BrokenPlugin(), midi_monitor], entry_points=False)
    assert host.names() == ["midi-monitor"]
    problems = [c for c in host.doctor() if not c.ok]
    assert problems and "driver missing" in problems[0].detail


def test_unknown_target_lists_what_is_installed():
    host = TargetHost(plugins=[midi_monitor], entry_points=False)
    with pytest.raises(UnknownTarget, match="installed targets: midi-monitor"):
        host.get("traktor")


def test_midi_monitor_documents_every_action_it_can_render():
    table = midi_monitor.describe_table()
    for kind in ("PLAY", "PAUSE", "CUE", "SYNC", "EXIT_LOOP", "LOAD", "FX", "FX_OFF", "DROP", "PANIC"):
        assert f"| {kind} | Note 0x{midi_monitor.NOTES[kind]:02X}" in table
    for param, cc in midi_monitor.CCS.items():
        assert f"| {param} | {cc} |" in table
