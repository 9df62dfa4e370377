"""Intent accuracy on the espeak-ng corpus, clean and over music at 10 dB SNR (each clip transcribed
once per test session). The floors are what this machine measures today, less a small margin, so a
change that makes the voice worse fails here; the issue's goals (97 % / 92 %) are not reached with
espeak voices and tiny.en — see docs/voice.md and bench/voice_accuracy.py. Measured 2026-11-21:
86.0 % clean, 76.0 % at 10 dB with the constrained rescue; 83.3 % / 72.7 % from the readings alone."""

from __future__ import annotations

from collections import Counter

from copilot.intents.schema import IntentKind
from copilot.tests import voice_corpus as corpus
from copilot.tests.fixtures_voice import (  # noqa: F401
    CorpusRun,
    corpus_run_fixture,
    same_intent,
    transcriber_fixture,
)

CLEAN_FLOOR = 0.82  # measured 0.860
NOISY_FLOOR = 0.71  # measured 0.760 at 10 dB SNR (music from engine/example_synth)
WRONG_CEILING = 0.05  # accepted but wrong, the dangerous error: measured 0.027 clean, 0.033 at 10 dB
RESCUED_MIN = 4  # commands the constrained rescue turns right that the readings alone missed: measured 9
FALSE_ACCEPTS_MAX = 1  # of the 100 non-command clips (clean + noisy): goal ≤ 1 %


def test_the_corpus_covers_every_intent_kind_voices_speeds_and_non_commands() -> None:
    clips = corpus.clips()
    commands = [c for c in clips if c.expected is not None]
    others = Counter(c.group for c in clips if c.expected is None)
    assert len(commands) >= 150 and sum(others.values()) >= 50
    assert {c.expected["kind"] for c in commands} == {k.value for k in IntentKind}
    assert set(others) == {"chatter", "lyrics", "crowd"}
    assert len({c.voice for c in clips}) >= 5 and len({c.speed for c in clips}) >= 3


def test_clean_commands_are_understood(corpus_run: CorpusRun) -> None:
    accuracy = CorpusRun.accuracy(corpus_run.clean)
    assert accuracy >= CLEAN_FLOOR, _misses(corpus_run.clean)


def test_commands_over_music_at_10_db_are_understood(corpus_run: CorpusRun) -> None:
    accuracy = CorpusRun.accuracy(corpus_run.noisy)
    assert accuracy >= NOISY_FLOOR, _misses(corpus_run.noisy)


def test_chatter_lyrics_and_crowd_noise_send_nothing(corpus_run: CorpusRun) -> None:
    accepted = CorpusRun.false_accepts(corpus_run.clean) + CorpusRun.false_accepts(corpus_run.noisy)
    assert len(accepted) <= FALSE_ACCEPTS_MAX, [(o.clip.text, o.text, o.got) for o in accepted]


def test_a_misheard_command_is_rejected_rather_than_acted_on_wrongly(corpus_run: CorpusRun) -> None:
    for outcomes in (corpus_run.clean, corpus_run.noisy):
        commands = [o for o in outcomes if o.clip.expected is not None]
        wrong = [o for o in commands if o.got is not None and not o.right]
        assert len(wrong) / len(commands) <= WRONG_CEILING, [(o.clip.text, o.text, o.got) for o in wrong]


def test_the_constrained_rescue_understands_more_and_sends_no_chatter(corpus_run: CorpusRun) -> None:
    outcomes = corpus_run.clean + corpus_run.noisy
    commands = [o for o in outcomes if o.clip.expected is not None]
    gained = [o for o in commands if o.right and not same_intent(o.clip.expected, o.free_got)]
    lost = [o for o in commands if not o.right and same_intent(o.clip.expected, o.free_got)]
    assert len(gained) - len(lost) >= RESCUED_MIN, ([o.clip.text for o in gained], [o.clip.text for o in lost])
    rescued_noise = [o for o in outcomes if o.clip.expected is None and o.got is not None and o.free_got is None]
    assert rescued_noise == []


def test_accepted_intents_are_confident_and_rejections_are_not(corpus_run: CorpusRun) -> None:
    outcomes = corpus_run.clean + corpus_run.noisy
    accepted = [o.confidence for o in outcomes if o.got is not None]
    assert min(accepted) >= 0.5
    right = [o.confidence for o in outcomes if o.got is not None and o.right]
    wrong = [o.confidence for o in outcomes if o.got is not None and not o.right]
    if wrong:  # calibration: the right ones are surer, on average, than the wrong ones
        assert sum(right) / len(right) > sum(wrong) / len(wrong)


def _misses(outcomes: list) -> list[tuple[str, str, object]]:
    return [(o.clip.text, o.text, o.got) for o in outcomes if o.clip.expected is not None and not o.right][:40]
