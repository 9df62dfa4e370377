"""Grammar-constrained recognition: proposals near Whisper's readings, their wording, the decision,
and the real model scoring sentences against real (espeak-ng) audio."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from copilot.intents.schema import Intent, IntentKind, Source
from copilot.tests.fixtures_voice import TITLES, say, silence, transcriber_fixture  # noqa: F401  (fixture)
from copilot.voice.asr import Transcriber
from copilot.voice.constrained import MAX_CANDIDATES, Candidate, decide, propose, rescue
from copilot.voice.understand import understand
from copilot.voice.wording import Style, say_number


def meanings(readings: list[str]) -> list[tuple]:
    return [(c.intent.kind.value, c.intent.deck.value if c.intent.deck else None, dict(c.intent.args))
            for c in propose(readings, titles=TITLES)]


@pytest.mark.parametrize(("value", "said"), [(4, "four"), (32, "thirty two"), (0.5, "half"), (16, "sixteen"),
                                             (124, "one twenty four"), (100, "one hundred"), (75, "seventy five")])
def test_numbers_are_said_the_way_djs_say_them(value: float, said: str) -> None:
    assert say_number(value) == said
    assert say_number(128, hundreds=True) == "one hundred and twenty eight"
    assert Style.of("Loop 4 on deck A.").number(32) == "32" and Style.of("Loop four.").number(32) == "thirty two"


def test_a_reading_becomes_grammar_sentences_in_its_own_style_with_each_slot_varied() -> None:
    texts = [c.text for c in propose(["Sync deck B."])]
    assert texts[:4] == ["Sync deck B.", "Sync deck A.", "Sync deck C.", "Sync deck D."]
    assert next(c.text for c in propose(["Loop 4 on neck A."])) == "Loop 4 on deck A."  # near-miss mended
    assert "Echo 50% on deck B." in [c.text for c in propose(["Echo 50% on deck B."])]
    assert "Echo fifty percent on deck B." in [c.text for c in propose(["Echo fifty percent on deck B."])]
    assert propose(["Uh, play deck A."])[0].text == "Uh play deck A."  # fillers stay, at a small prior
    assert propose(["Uh, play deck A."])[0].prior > 0.0 == propose(["Play deck A."])[0].prior
    assert propose(["Play deck A, thanks mate."])[0].text == "Play deck A."  # stray words do not
    # a key shift is said as a number too ("Key up 1.0" scored badly and lost to "Cue one on deck B")
    keys = [c.text for c in propose(["Key up one on deck B."])]
    assert keys[0] == "Key up one on deck B." and "Key up two on deck B." in keys


def test_a_value_the_intent_cannot_take_proposes_the_values_it_can() -> None:
    loops = meanings(["Loop 42."])  # thirty-two, heard as forty-two: 42 is not a loop length
    assert loops[0] == ("LOOP", None, {"beats": 32.0})
    assert all(m[2]["beats"] in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0) for m in loops)


def test_a_misheard_word_is_replaced_by_what_the_grammar_allows_there() -> None:
    off = meanings(["Billy off."])  # "delay off", the effect's name misheard
    assert ("FX_OFF", None, {"name": "delay"}) in off and ("FX_OFF", None, {"name": "echo"}) in off
    fx = meanings(["Take off fifty percent."])
    assert ("FX", None, {"name": "echo", "amount": 0.5}) in fx
    verbs = [c.text for c in propose(["Static B."])]  # "start deck B"
    assert "Start deck B." in verbs and "Play deck B." in verbs and "Sync deck B." in verbs


def test_chatter_proposes_nothing_and_a_load_never_swallows_it() -> None:
    assert propose(["What time does the club close tonight?"]) == []
    assert propose(["Mmm."]) == []  # a wildcard needs something really heard to stand on
    assert all(c.intent.kind is not IntentKind.LOAD for c in propose(["My board."]))


def test_a_heard_title_and_the_library_title_are_one_intent() -> None:
    loads = propose(["Load sun rise to deck A."], titles=TITLES)
    assert {c.intent.args["query"] for c in loads if c.intent.deck and c.intent.deck.value == "A"} == {"Sunrise"}
    assert {"Load sun rise to deck A.", "Load Sunrise to deck A."} <= {c.text for c in loads}


def test_proposals_are_capped_and_every_one_is_a_valid_intent() -> None:
    for readings in (["Hot cue three on deck A.", "Hot cue two on deck A."], ["Tempo 120 24."], ["Kill deck B."]):
        found = propose(readings, titles=TITLES)
        assert 0 < len(found) <= MAX_CANDIDATES
        assert len({c.text for c in found}) == len(found)
        assert all(isinstance(c.intent, Intent) and c.intent.source is Source.VOICE for c in found)


def _cand(deck: str, text: str) -> Candidate:
    return Candidate(Intent(IntentKind.SYNC, deck=deck, source=Source.VOICE), text, 0.0, 0)


def test_the_decision_weighs_rivals_and_none_of_these() -> None:
    b, d = _cand("B", "Sync deck B."), _cand("D", "Sync deck D.")
    clear = decide([b, d], [(-2.0, 5), (-9.0, 5)])
    assert clear.intent.deck.value == "B" and clear.confidence > 0.75
    close = decide([b, d], [(-2.0, 5), (-2.3, 5)])
    assert close.intent.deck.value == "B" and close.confidence < 0.5  # a near rival is doubt
    noise = decide([b, d], [(-12.0, 5), (-20.0, 5)])  # 2.4 nats a token: the audio hardly supports it
    assert noise.confidence < 0.3
    same = decide([b, replace_text(b, "Sync deck bee.")], [(-2.0, 5), (-2.5, 5)])  # two ways to say one intent
    assert same.confidence > clear.confidence - 0.05
    assert decide([], []).intent is None
    assert decide([b], [(float("nan"), 5)]).intent is None


def replace_text(c: Candidate, text: str) -> Candidate:
    return Candidate(c.intent, text, c.prior, c.reading)


# -- with the real model -------------------------------------------------------------------------------------
def test_whisper_scores_the_sentence_that_was_said_above_its_neighbours(transcriber: Transcriber) -> None:
    audio = np.concatenate([silence(0.3), say("loop four on deck B", "en-gb", 150), silence(0.3)])
    t = transcriber.transcribe(audio)
    assert t.scorer is not None
    sentences = ["Loop four on deck B.", "Loop four on deck C.", "Loop eight on deck B.", "Play deck B.", "Loop four."]
    scores = t.scorer(sentences)
    assert len(scores) == len(sentences) and all(n >= 3 for _, n in scores)
    best = max(range(len(sentences)), key=lambda i: scores[i][0])
    assert sentences[best] == "Loop four on deck B."
    assert scores[0][0] > scores[4][0] + 1.0  # a sentence cut short is not the same sentence


def test_the_audio_rescues_a_command_whose_words_were_misheard(transcriber: Transcriber) -> None:
    audio = np.concatenate([silence(0.3), say("delay off", "en-us", 150), silence(0.3)])
    scorer = transcriber.transcribe(audio).scorer
    assert scorer is not None
    decision = rescue(["Billy off."], scorer)  # what en-gb-scotland's "delay off" sounded like to tiny.en
    assert decision.intent is not None and decision.intent.kind is IntentKind.FX_OFF
    assert decision.intent.args["name"] == "delay" and decision.score > decision.rival + 1.0
    noise = np.random.default_rng(3).standard_normal(16000).astype(np.float32) * 0.05
    nothing = rescue(["Billy off."], transcriber.transcribe(noise).scorer)  # nothing was said
    assert nothing.confidence < 0.3 < decision.confidence


def test_understand_only_pays_for_scoring_when_the_readings_are_not_sure(transcriber: Transcriber) -> None:
    clear = transcriber.transcribe(np.concatenate([silence(0.3), say("filter down"), silence(0.3)]))
    calls: list[int] = []

    def counting(texts: list[str]) -> list[tuple[float, int]]:
        calls.append(len(texts))
        return clear.scorer(texts)  # type: ignore[misc]

    result = understand(replace(clear, scorer=counting))
    assert result.intent is not None and result.intent.kind is IntentKind.FILTER and calls == []

    def broken(texts: list[str]) -> list[tuple[float, int]]:
        raise RuntimeError("model unloaded")

    doubtful = replace(clear, text="Billy off.", alternatives=(), scorer=broken)
    assert understand(doubtful).intent is None  # a scoring failure keeps the free reading's verdict
