"""Whisper's readings → the one intent they most likely mean (or none).

The beam gives several readings of one utterance ("Play deck B." / "Play deck D." / …). Each is
parsed with its own ASR certainty as the prior; a lower-ranked reading pays a small toll per rank,
so it wins only when it makes clearly better sense to the grammar ("Lube four" → "Loop four").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .asr import Transcript, certainty
from .parser import ACCEPT, ParseResult, parse
from .schema import Source

RANK_TOLL = 0.9  # confidence kept per rank below the top reading


def understand(
    transcript: Transcript,
    aliases: Mapping[str, str] | None = None,
    titles: Sequence[str] | None = None,
    threshold: float = ACCEPT,
) -> ParseResult:
    """The best-scoring reading as a ParseResult; below `threshold` the intent is None (with the reason)."""
    readings = [(transcript.text, transcript.avg_logprob), *transcript.alternatives]
    best: ParseResult | None = None
    first: ParseResult | None = None
    for rank, (text, logprob) in enumerate(readings):
        prior = certainty(text, logprob, transcript.no_speech_prob) * RANK_TOLL**rank
        result = parse(text, Source.VOICE, aliases, titles=titles, prior=prior, threshold=0.0)
        first = first or result
        if result.intent is not None and (best is None or result.confidence > best.confidence):
            best = result
    if best is None:
        return first or parse(transcript.text, Source.VOICE, aliases, titles=titles, threshold=threshold)
    if best.confidence < threshold:
        return ParseResult(None, best.confidence, f"not sure enough ({best.confidence:.0%}) that "
                           f"'{best.heard}' is {best.intent.kind.value}", best.text, best.heard, best.cost)
    return best
