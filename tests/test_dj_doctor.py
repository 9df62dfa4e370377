"""`copilot doctor` lines from the DJ targets: table, installed mapping, feedback fallback, Mixxx ports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from copilot.bridge.host import Check, TargetHost
from copilot.mappings.install import install
from copilot.plugins import mixxx, serato
from copilot.plugins.mixxx import MixxxTarget


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / ".local" / "share"))
    return tmp_path


def checks(config: dict | None = None) -> dict[str, Check]:
    host = TargetHost(config or {}, plugins=[serato, mixxx], entry_points=False)
    return {c.name: c for c in host.doctor()}


def test_feedback_fallback_is_spelled_out(home: Path) -> None:
    found = checks()
    for name, port in (("serato-dj-pro", "Copilot In"), ("mixxx", "Copilot MIDI 1 In")):
        line = found[f"{name} feedback"]
        assert "own record of what it sent" in line.detail and port in line.detail
        assert port in line.fix


@pytest.mark.skipif(sys.platform == "darwin" or sys.platform.startswith("win"), reason="Linux has no Serato")
def test_serato_on_linux_is_not_a_fault(home: Path) -> None:
    line = checks()["serato-dj-pro mapping"]
    assert line.ok and "macOS and Windows only" in line.detail


def test_mixxx_mapping_missing_stale_and_installed(home: Path) -> None:
    assert checks()["mixxx mapping"].ok  # no ~/.mixxx: Mixxx never ran here, nothing to fix
    (home / ".mixxx").mkdir()
    line = checks()["mixxx mapping"]
    assert not line.ok and "missing" in line.detail and line.fix == "copilot mappings install mixxx"
    target = MixxxTarget({})
    install("mixxx", target.mapping_files(), target.mapping_folders())
    line = checks()["mixxx mapping"]
    assert line.ok and "up to date" in line.detail
    (home / ".mixxx" / "controllers" / "Copilot-scripts.js").write_text("// edited")
    line = checks()["mixxx mapping"]
    assert not line.ok and "differs from the table" in line.detail


def test_a_broken_table_override_shows_up_with_its_file(home: Path) -> None:
    override = home / ".config" / "copilot" / "mappings" / "serato-dj-pro.toml"
    override.parent.mkdir(parents=True)
    override.write_text('[[row]]\nname = "play"\nstatus = "sure"\n')
    line = checks()["serato-dj-pro table"]
    assert not line.ok and "status must be V, I or U" in line.detail and str(override) in line.fix


def test_unpairable_mixxx_port_names_are_flagged(home: Path) -> None:
    assert "mixxx ports" not in checks()
    line = checks({"mixxx": {"port": "Copilot Out", "feedback_port": "Copilot In"}})["mixxx ports"]
    assert not line.ok and "will not pair" in line.detail
