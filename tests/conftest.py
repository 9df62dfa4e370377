"""Shared fixtures live in copilot.tests.fixtures so later suites (and bench/) can import them."""

from copilot.tests.fixtures import (  # noqa: F401  (pytest finds fixtures by name)
    jack_server,
    link_netns,
    midi_capture,
    osc_pair,
)
