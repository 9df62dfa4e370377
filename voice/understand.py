"""Whisper's readings → the one intent they most likely mean (or none).

The beam gives several readings of one utterance ("Play deck B." / "Play deck D." / …). Each is
parsed with its own ASR certainty as the prior; a lower-ranked reading pays a small toll per rank,
so it wins only when it makes clearly better sense to the grammar ("Lube four" → "Loop four").

When that leaves no confident command ("Billy off.", "Loop 42.", deck B or D?), the readings go
to grammar-constrained recognition (`constrained.rescue`): command sentences near them are scored
against the audio by the same model, and the intent the audio supports best is taken if it is
clearly better than its rivals and than "none of these". It costs about one decoder pass per
sentence, so the confident majority never pays it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from copilot.intents.parser import ACCEPT, ParseResult, parse
from copilot.intents.schema import Source

from .asr import Transcript, certainty
from .constrained import rescue

log = logging.getLogger(__name__)

RANK_TOLL = 0.9  # confidence kept per rank below the top reading
RIVAL_POWER = 4  # a rival reading at 90 % of the best's score leaves 34 % of the confidence; at 50 %, 94 %


def understand(
    transcript: Transcript,
    aliases: Mapping[str, str] | None = None,
    titles: Sequence[str] | None = None,
    threshold: float = ACCEPT,
    constrained: bool = True,
) -> ParseResult:
    """The best-scoring reading as a ParseResult; below `threshold` the intent is None (with the reason).

    `constrained`: below ACCEPT, let the audio judge command sentences near the readings (needs the
    transcript's scorer)."""
    best = _from_readings(transcript, aliases, titles)
    if constrained and best.confidence < ACCEPT and transcript.scorer is not None:
        best = _rescued(transcript, aliases, titles, best)
    if best.intent is not None and best.confidence < threshold:
        return ParseResult(None, best.confidence, f"not sure enough ({best.confidence:.0%}) that "
                           f"'{best.heard}' is {best.intent.kind.value}", best.text, best.heard, best.cost)
    return best


def _rescued(transcript: Transcript, aliases: Mapping[str, str] | None, titles: Sequence[str] | None,
             first: ParseResult) -> ParseResult:
    readings = [transcript.text, *(text for text, _ in transcript.alternatives)]
    try:
        decision = rescue(readings, transcript.scorer, aliases, titles)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - a scoring failure leaves the free reading's verdict
        log.warning("voice: constrained scoring failed (%s: %s)", type(exc).__name__, exc)
        return first
    if decision.intent is None or decision.best is None or decision.confidence <= first.confidence:
        return first
    conf = round(decision.confidence, 4)
    intent = replace(decision.intent, confidence=conf, text=transcript.text)
    return ParseResult(intent, decision.confidence, f"the audio fits '{decision.best.text}' best "
                       f"({intent.kind.value})", transcript.text, decision.best.text, 0.0)


def _from_readings(transcript: Transcript, aliases: Mapping[str, str] | None,
                   titles: Sequence[str] | None) -> ParseResult:
    """Every reading parsed; the best, with doubt from a rival reading that means something else."""
    readings = [(transcript.text, transcript.avg_logprob), *transcript.alternatives]
    results: list[ParseResult] = []
    for rank, (text, logprob) in enumerate(readings):
        prior = certainty(text, logprob, transcript.no_speech_prob) * RANK_TOLL**rank
        results.append(parse(text, Source.VOICE, aliases, titles=titles, prior=prior, threshold=0.0))
    found = [r for r in results if r.intent is not None]
    if not found:
        return results[0] if results else parse("", Source.VOICE)
    best = max(found, key=lambda r: r.confidence)
    # Another reading that means something else ("deck B" / "deck D") is doubt, not a detail.
    rival = max((r.confidence for r in found if _meaning(r) != _meaning(best)), default=0.0)
    if rival > 0 and best.confidence > 0:
        doubt = 1.0 - (rival / best.confidence) ** RIVAL_POWER
        best = replace(best, confidence=best.confidence * doubt,
                       intent=replace(best.intent, confidence=round(best.confidence * doubt, 4)))
    return best


def _meaning(result: ParseResult) -> tuple:
    intent = result.intent
    assert intent is not None
    return intent.kind, intent.deck, tuple(sorted((k, str(v)) for k, v in intent.args.items()))
