"""The sandbox renders candidates through the real session, scheduler, mixer and engine on a manual clock,
and the critic hears the differences the candidates were built to have: the incoming deck started 1/8
beat off its phrase line, and a blend (both basslines up together) against a bass swap."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.phrase_db.loader import folder_records
from copilot.rehearsal import sandbox
from copilot.rehearsal.candidate import Candidate, RenderSettings
from copilot.tests.fixtures_rehearse import KickTrack, write_kick_track

OUT = KickTrack("Floor Filler", 55.0, key="A minor")
IN = KickTrack("Night Shift", 82.41, key="E minor")


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    crate = tmp_path_factory.mktemp("crate")
    for spec in (OUT, IN):
        write_kick_track(crate, spec)
    return {r.title: r for r in folder_records([crate])}


@pytest.fixture(scope="module")
def swap(tracks, tmp_path_factory) -> sandbox.Rendered:
    c = Candidate(tracks[OUT.title], tracks[IN.title], "bass_swap", bars=8)
    return sandbox.render(c, RenderSettings(), tmp_path_factory.mktemp("work"))


def test_the_mixer_places_the_transition_on_the_outgoing_phrase_line_and_the_span_is_cropped(swap) -> None:
    plan, ctx = swap.plan, swap.context
    assert plan["template"] == "bass_swap" and plan["bars"] == 8
    bar = 60.0 / OUT.bpm * 4
    assert ctx.start == pytest.approx(2 * bar) and ctx.end == pytest.approx(10 * bar)
    assert len(swap.mix) == pytest.approx(round(12 * bar * 48000), abs=2)
    # both tracks' section lines fall on the transition's start and end: the outro of one, the intro of the other
    verdict = swap.judge()
    assert verdict.metrics["phrase"].value == pytest.approx(0.0, abs=0.01)
    assert verdict.metrics["key"].value == 1.0  # A minor (8A) → E minor (9A)
    # each deck alone is alone: the outgoing deck is silent after the span, the incoming one before it
    assert abs(swap.out_alone[-48000:]).max() < 1e-4 and abs(swap.in_alone[:48000]).max() < 1e-4
    assert verdict.metrics["on_grid"].value < 10.0


def test_an_entry_an_eighth_of_a_beat_late_scores_worse_on_grid(tracks, swap, tmp_path) -> None:
    c = Candidate(tracks[OUT.title], tracks[IN.title], "bass_swap", bars=8, nudge=0.125)
    late = sandbox.render(c, RenderSettings(), tmp_path).judge()
    aligned = swap.judge()
    assert late.metrics["on_grid"].value == pytest.approx(62.5, abs=10.0)
    assert late.metrics["on_grid"].value > aligned.metrics["on_grid"].value + 40.0
    assert late.score < aligned.score


def test_a_blend_keeps_both_basslines_up_longer_than_a_bass_swap(tracks, swap, tmp_path) -> None:
    c = Candidate(tracks[OUT.title], tracks[IN.title], "blend", bars=8)
    blend = sandbox.render(c, RenderSettings(), tmp_path).judge()
    swapped = swap.judge()
    assert swapped.metrics["bass_clash"].value <= 1.0
    # the blend crosses both lows at half way: a few beats of both basslines strong at once
    assert blend.metrics["bass_clash"].value > swapped.metrics["bass_clash"].value + 2.0


def test_a_track_that_is_gone_is_one_clear_error(tracks, tmp_path) -> None:
    from dataclasses import replace

    gone = replace(tracks[IN.title], path=str(tmp_path / "nowhere.wav"))
    with pytest.raises(sandbox.SandboxError, match="is gone"):
        sandbox.render(Candidate(tracks[OUT.title], gone, "blend", bars=8), RenderSettings(), tmp_path)


def test_driving_both_decks_6_db_hotter_is_heard_by_the_critic(tracks, swap, tmp_path) -> None:
    c = Candidate(tracks[OUT.title], tracks[IN.title], "bass_swap", bars=8, drive_db=6.0)
    hot = sandbox.render(c, RenderSettings(), tmp_path).judge()
    cool = swap.judge()
    # the drive is heard in the loudness, and the engine's true-peak limiter still holds the ceiling
    # (the limiter takes part of the 6 dB: a track already near the ceiling can only get so much louder)
    assert hot.metrics["loudness"].detail["before_lufs"] > cool.metrics["loudness"].detail["before_lufs"] + 1.5
    assert hot.metrics["overs"].value < 1.0 and hot.metrics["overs"].detail["true_peak_dbtp"] < -0.7


def test_each_deck_alone_from_the_one_pass_is_the_deck_rendered_on_its_own(tracks, swap, tmp_path) -> None:
    """The stems the critic hears come from the mix's own pass (the engine's deck taps) instead of a pass
    per deck with the other deck's track silent. The taps are each deck before the master chain: with the
    chain off they are the separate renders, sample for sample up to the limiter's touch on the peaks;
    with it on (HPF, compressor) the critic's verdict barely moves."""
    c = Candidate(tracks[OUT.title], tracks[IN.title], "bass_swap", bars=8)
    plain = {"master": {"enabled": False}}
    one = sandbox.render(c, RenderSettings(engine=plain), tmp_path)
    three = sandbox.render(c, RenderSettings(engine=plain, one_pass=False), tmp_path)
    assert three.audio_seconds == pytest.approx(3 * one.audio_seconds)
    assert np.array_equal(one.mix, three.mix)
    for name in ("out_alone", "in_alone"):
        a, b = getattr(one, name).astype(float), getattr(three, name).astype(float)
        assert a.shape == b.shape and np.sqrt(np.mean(b**2)) > 0.05
        assert np.sqrt(np.mean((a - b) ** 2)) < 0.05 * np.sqrt(np.mean(b**2)), name
    before = sandbox.render(c, RenderSettings(one_pass=False), tmp_path).judge()
    after = swap.judge()
    assert after.score == pytest.approx(before.score, abs=0.5)
    for name in ("on_grid", "bass_clash", "loudness", "phrase", "key", "overs"):
        assert after.metrics[name].value == pytest.approx(before.metrics[name].value, abs=0.5), name
    assert after.metrics["spectral"].value == pytest.approx(before.metrics["spectral"].value, abs=0.25)


def test_the_sandboxs_own_targets_render_what_every_installed_plugin_would(tracks, swap, tmp_path,
                                                                             monkeypatch) -> None:
    """The sandbox hands its session the engine and the phrase database instead of looking through every
    installed plugin: the same plan and the same samples."""
    monkeypatch.setattr(sandbox, "_host", lambda config: None)  # the session finds its own, as on stage
    c = Candidate(tracks[OUT.title], tracks[IN.title], "bass_swap", bars=8)
    found = sandbox.render(c, RenderSettings(), tmp_path)
    assert np.array_equal(found.mix, swap.mix) and np.array_equal(found.in_alone, swap.in_alone)
    assert np.array_equal(found.out_alone, swap.out_alone)
    assert {k: v for k, v in found.plan.items() if k not in ("id", "intent_id")} == \
        {k: v for k, v in swap.plan.items() if k not in ("id", "intent_id")}
