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


def test_the_bounds_a_sender_meets_are_settings_checked_like_the_rest():
    # [safety] horizon_bars / max_scheduled / max_pending, [motion] forget_after and an ableton-live target's
    # reply_allow take effect when sane and are refused with the file and key when not (a NaN horizon would
    # let an intent be planned for ever).
    from copilot.bridge.config import Config, ConfigError
    from copilot.bridge.host import TargetHost
    from copilot.bridge.safety import SafetyConfig

    schema = TargetHost().settings_schema()
    good = {"safety": {"horizon_bars": 32, "max_scheduled": 100, "max_pending": 8}, "motion": {"forget_after": 5},
            "targets": {"ableton-live": {"reply_allow": ["192.168.1.20"]}}}
    Config(good).check(schema)
    cfg = SafetyConfig.from_dict(good["safety"])
    assert (cfg.horizon_bars, cfg.max_scheduled, cfg.max_pending) == (32, 100, 8)
    for bad, key in (({"safety": {"horizon_bars": float("nan")}}, "horizon_bars"),
                     ({"safety": {"max_scheduled": 10**9}}, "max_scheduled"),
                     ({"motion": {"forget_after": 0}}, "forget_after"),
                     ({"targets": {"ableton-live": {"reply_allow": ["nowhere at all"]}}}, "reply_allow")):
        with pytest.raises(ConfigError, match=key):
            Config(bad).check(schema)
