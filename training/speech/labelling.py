"""A phone timeline for one real recording, from the aligner its language and transcript call for.

- English with a transcript: pocketsphinx forced alignment.
- English without one: pocketsphinx recognition, a confidence for the words it heard, then alignment.
- Any other espeak-ng language with a transcript: DTW against espeak-ng's synthesis of the transcript
  (backend.dtw_align), which knows where every synthetic phone lies.
- Any other language without a transcript: nothing to align against, so the recording is skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from backend.errors import InputError
from backend.phones import PhoneTimeline

# Spontaneous-speech markup in transcripts (MFA and Common Voice style): hesitations keep their word,
# cut-off words and noise tags are not spoken as words.
_HESITATION = re.compile(r"<hes-([^>]*)>")
_NOT_WORDS = re.compile(r"<[^>]*>|\[[^\]]*\]|\{[^}]*\}")


@dataclass(frozen=True)
class Labelled:
    timeline: PhoneTimeline
    transcript: str
    transcript_source: str  # "given" or "recognized"
    aligner: str  # "pocketsphinx" or "dtw"
    confidence: float  # 1.0 for a given transcript; the recogniser's word confidence otherwise


def clean_transcript(text: str) -> str:
    """Spoken words only: '<hes-um> so <cutoff-wh> [laughter] what' -> 'um so what'."""
    text = _HESITATION.sub(r" \1 ", text)
    return " ".join(_NOT_WORDS.sub(" ", text).split())


def is_english(language: str) -> bool:
    return language.lower().split("-")[0] == "en"


def label_recording(audio: np.ndarray, sample_rate: int, transcript: str, language: str) -> Labelled:
    """The timeline of `audio` (mono float32); raises InputError when it cannot be labelled."""
    from backend.align import AlignOptions

    words = clean_transcript(transcript)
    single = AlignOptions(workers=1)  # recordings are labelled in parallel already
    if is_english(language):
        from backend.align import align, recognize_scored

        if words:
            return Labelled(align(audio, sample_rate, words, options=single), words, "given", "pocketsphinx", 1.0)
        heard, confidence = recognize_scored(audio, sample_rate, single)
        if not heard:
            raise InputError(None, "the recogniser heard no words")
        return Labelled(align(audio, sample_rate, heard, options=single), heard, "recognized", "pocketsphinx",
                        confidence)
    if not words:
        raise InputError(None, f"no transcript, and words are recognised in English only (language {language!r})")
    from backend.dtw_align import align_by_synthesis

    return Labelled(align_by_synthesis(audio, sample_rate, words, language), words, "given", "dtw", 1.0)
