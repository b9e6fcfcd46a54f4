"""Speaking a typed line for the models that animate text: one place for the checks and the WAV output."""
from __future__ import annotations

from ..audio import save_wav
from ..errors import InputError


def speak(text: str, options, speech_out, progress):
    """espeak-ng speech for `text` (a backend.text.Synthesis), written to `speech_out` when given."""
    from ..text import synthesize

    if not text or not text.strip():
        raise InputError(None, "no text given to animate")
    progress(0.0, "synthesizing speech")
    speech = synthesize(text, language=options.language, voice=options.voice)
    if speech_out:
        save_wav(speech_out, speech.audio, speech.sample_rate)
    return speech
