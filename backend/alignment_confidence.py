"""How well a transcript fits the audio it was aligned to, from the aligner's own word scores: no extra
decoding. Low confidence usually means the transcript belongs to another recording."""
from __future__ import annotations

from typing import Sequence

import numpy as np

# The median over the placed words of their acoustic score per frame (the natural log of the score
# pocketsphinx reports for each word, over its frames). On real English clips (LJ Speech, LibriVox,
# Common Voice, Picovoice) the right transcript's median lies between -1.2e-3 and -4.2e-3, another clip's
# transcript between -3.6e-3 and -6.6e-3 (when it can be placed at all). The scores map linearly to
# confidence 1 .. 0, and under LOW_CONFIDENCE (a median under -4.25e-3) the user is warned: on 30 of those
# clips, none of the right transcripts and 50 of the 52 wrong ones that could be placed.
# espeak-ng's voices score lower than people (confidence 0.2 to 0.7 for their own text).
GOOD_WORD_SCORE = -2.0e-3
BAD_WORD_SCORE = -5.0e-3
# A transcript that only the aligner's wide beam could place is suspect: its words count this much less.
WIDE_BEAM_FACTOR = 0.5
LOW_CONFIDENCE = 0.25


def alignment_confidence(word_scores: Sequence[float], widened_share: float = 0.0) -> float | None:
    """0 (the words do not fit the audio) to 1; None when no word was placed. `widened_share`: the share
    of the words that only the wide beam could place."""
    if not word_scores:
        return None
    level = (float(np.median(word_scores)) - BAD_WORD_SCORE) / (GOOD_WORD_SCORE - BAD_WORD_SCORE)
    return round(min(max(level, 0.0), 1.0) * (1.0 - (1.0 - WIDE_BEAM_FACTOR) * widened_share), 3)


def confidence_warning(confidence: float | None, source: str | None = None) -> str | None:
    """One line for the user when an alignment's confidence is low, else None."""
    if confidence is None or confidence >= LOW_CONFIDENCE:
        return None
    where = f"{source}: " if source else ""
    return (f"{where}the transcript fits the audio poorly (alignment confidence {confidence:.2f}); "
            "check that it is the transcript of this recording")
