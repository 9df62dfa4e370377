"""Calibration: a 'wave to the beat' take fits ranges, the groove and learned weights; profiles are
saved per performer, read back, and refused (with a reason) when broken."""

from __future__ import annotations

import json

import pytest

from copilot.motion import calibrate, synth
from copilot.motion.limbs import SLOT
from copilot.motion.offline import rig
from copilot.motion.profile import Profile
from copilot.motion.record import Take


def _take(offset: float = 0.3, strength: float = 1.2, fmt: str = "zigsim") -> Take:
    # one still bar (the count-in), then eight bars of waving
    return synth.wave_take(seconds=18.0, tempo=120.0, fmt=fmt, offset=offset,
                           strength=lambda b: 0.0 if b < 4 else strength)


def test_fit_finds_ranges_and_the_groove(tmp_path) -> None:
    profile, report = calibrate.fit(_take(offset=0.3), "alice")
    assert report.limbs == ["right_hand"] and report.still_frames > 100
    assert report.lock > 0.9
    assert abs(((profile.groove_offset - 0.3 + 0.5) % 1.0) - 0.5) < 0.05
    assert profile.energy_rest < 0.1 < profile.energy_radius
    s = SLOT["right_hand"]
    assert profile.limb_full[s] > profile.limb_rest[s]
    assert profile.limb_full[SLOT["left_hand"]] == Profile().limb_full[SLOT["left_hand"]]  # unseen: default
    assert report.step_scale in calibrate.STEP_SCALES
    assert report.residual[f"{report.step_scale:g}"] == min(report.residual.values())
    profile.weights().check()  # the learned parts stay inside the certified bound

    # the fitted ranges make this performer's full wave read as full energy; the defaults do not
    def peak(p: Profile) -> float:
        r = rig(_take(offset=0.3), profiles=lambda name: p)
        return max(st.energy for st in r.run(_take(offset=0.3).datagrams))
    assert peak(profile) > 0.95
    assert peak(Profile()) < 0.8


def test_a_stronger_performer_gets_a_wider_radius() -> None:
    soft, _ = calibrate.fit(_take(strength=0.6), "soft")
    hard, _ = calibrate.fit(_take(strength=2.0), "hard")
    assert hard.energy_radius > 1.8 * soft.energy_radius


def test_alternating_hands_learn_a_pulse_head() -> None:
    """Left and right hands bobbing in turn: the default head (the mean bounce) cancels out, the
    learned head (right minus left) locks to the beat."""
    kw = dict(seconds=18.0, tempo=120.0, fmt="copilot", device="", noise=0.25,
              strength=lambda b: 0.0 if b < 4 else 1.0)
    right = synth.wave(limb="right_hand", offset=0.0, seed=1, **kw)
    left = synth.wave(limb="left_hand", offset=0.5, seed=2, sender=("127.0.0.1", 50002), **kw)
    take = Take(tempo=120.0, datagrams=synth.merge(right, left))
    profile, report = calibrate.fit(take, "duo")
    assert report.lock < 0.5
    assert report.pulse_learned and report.lock_learned > 0.8
    assert set(report.limbs) == {"left_hand", "right_hand"}

    def lock(p: Profile) -> float:
        r = rig(take, profiles=lambda name: p)
        states = r.run(take.datagrams)
        return states[-1].lock

    assert lock(profile) > 0.8 > 0.5 > lock(Profile())


def test_bad_takes_say_what_to_do() -> None:
    still = synth.wave_take(seconds=10.0, strength=0.0)
    with pytest.raises(calibrate.CalibrationError, match="bigger"):
        calibrate.fit(still)
    short = synth.wave_take(seconds=1.0)
    with pytest.raises(calibrate.CalibrationError, match="frames"):
        calibrate.fit(short)
    bobs = synth.wave_take(seconds=10.0, fmt="copilot", device="bob")  # /copilot/motion/bob/right_hand
    with pytest.raises(calibrate.CalibrationError, match="no movement from performer 'alice'"):
        calibrate.fit(bobs, performer="alice")


def test_profiles_save_per_performer_and_refuse_broken_files(tmp_path) -> None:
    profile, _ = calibrate.fit(_take(), "alice")
    path = profile.save(tmp_path)
    assert path == tmp_path / "alice.json"
    back = Profile.load("alice", tmp_path)
    assert back.energy_radius == pytest.approx(profile.energy_radius)
    assert back.fit["frames"] == profile.fit["frames"]
    assert Profile.load("bob", tmp_path) == Profile(performer="bob")  # no profile yet: defaults
    path.write_text("{broken")
    with pytest.raises(ValueError, match="recalibrate"):
        Profile.load("alice", tmp_path)
    path.write_text(json.dumps({**profile.to_dict(), "energy_radius": -1}))
    with pytest.raises(ValueError, match="energy_rest"):
        Profile.load("alice", tmp_path)
    with pytest.raises(ValueError, match="performer name"):
        Profile(performer="../../etc")
    unsafe = Profile(performer="x", step_scale=3.0)
    w = unsafe.weights()  # pulled back inside the bound rather than refused
    assert w.lipschitz() < 0.95
