"""The phoneme path: espeak-ng for text, pocketsphinx alignment for audio, then articulation rules.

Works offline on any voice, with no learned weights and no torch.
"""
from __future__ import annotations

from ..animation import Animation
from ..articulation import articulate
from ..audio import SAMPLE_RATE, load_audio, require_speech
from ..errors import InputError
from . import ModelInfo
from .speech import speak

INFO = ModelInfo(
    name="phonemes",
    description="phone timeline (espeak-ng / pocketsphinx) -> coarticulated visemes -> 46 weights",
    kind="blendshape",
    inputs=("audio", "text"),
)


class PhonemeModel:
    info = INFO

    def availability(self) -> tuple[bool, str]:
        try:
            from .. import align, text  # noqa: F401
        except ImportError as err:
            return False, f"speech tools missing: {err}"
        return True, "rules (no checkpoint needed)"

    def animate_audio(self, path, options, progress) -> Animation:
        if not options.language.lower().startswith("en"):
            raise InputError(path, f"audio alignment supports English only (got language {options.language!r}); "
                                   "use --text for other languages")
        progress(0.0, "decoding audio")
        audio = load_audio(path, SAMPLE_RATE)
        require_speech(audio, SAMPLE_RATE, path)
        from ..align import align, transcribe_and_align

        scaled = _subrange(progress, 0.05, 0.9)
        if options.transcript and options.transcript.strip():
            timeline = align(audio, SAMPLE_RATE, options.transcript, progress=scaled)
        else:
            timeline = transcribe_and_align(audio, SAMPLE_RATE, progress=scaled)
        progress(0.9, "articulating")
        anim = articulate(timeline, fps=options.fps, duration_s=len(audio) / SAMPLE_RATE)
        anim.meta.update(model=INFO.name, source=str(path), duration_s=round(len(audio) / SAMPLE_RATE, 3),
                         transcript=options.transcript or " ".join(w.text for w in timeline.words))
        progress(1.0, "done")
        return anim

    def animate_text(self, text, options, speech_out, progress) -> Animation:
        speech = speak(text, options, speech_out, progress)
        progress(0.8, "articulating")
        duration = len(speech.audio) / speech.sample_rate
        anim = articulate(speech.timeline, fps=options.fps, duration_s=duration)
        anim.meta.update(model=INFO.name, source="text", text=text, language=options.language,
                         duration_s=round(duration, 3))
        if speech_out:
            anim.meta["speech"] = str(speech_out)
        progress(1.0, "done")
        return anim


def _subrange(progress, low: float, high: float):
    return lambda fraction, message: progress(low + (high - low) * fraction, message)


def load() -> PhonemeModel:
    return PhonemeModel()
