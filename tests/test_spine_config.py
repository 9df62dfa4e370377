"""copilot.toml: defaults, overrides that reach the scheduler, and clear errors."""

from __future__ import annotations

import pytest

from copilot.bridge.config import Config, ConfigError
from copilot.bridge.safety import Grid, SafetyConfig
from copilot.intents.schema import IntentKind


def test_missing_default_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("COPILOT_CONFIG", str(tmp_path / "none.toml"))
    assert Config.load().data == {}


def test_safety_settings_and_caps_reach_the_scheduler_config(tmp_path):
    path = tmp_path / "copilot.toml"
    path.write_text(
        '[safety]\nphase_window = 0.0625\ntempo_jump_cap = 1.5\n[safety.grid]\nLOOP = "bar"\n'
        '[safety.params.trim]\nhi = 0.6\n[targets.serato-dj-pro]\noutput_latency_ms = 12\n'
    )
    config = Config.load(path)
    safety = SafetyConfig.from_dict(config.section("safety"))
    assert safety.phase_window == 0.0625 and safety.tempo_jump_cap == 1.5
    assert safety.grid[IntentKind.LOOP] is Grid.BAR
    assert safety.params["trim"].hi == 0.6 and safety.params["trim"].max_slope == 0.5
    assert config.target("serato-dj-pro") == {"output_latency_ms": 12}


def test_broken_files_and_unknown_settings_are_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[safety\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        Config.load(bad)
    with pytest.raises(ValueError, match=r"\[safety\] has no setting 'phase_windw' \(did you mean 'phase_window'\?\)"):
        SafetyConfig.from_dict({"phase_windw": 0.1})
    with pytest.raises(ConfigError, match="no config file"):
        Config.load(tmp_path / "missing.toml")
