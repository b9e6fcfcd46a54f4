"""The phoneme path: espeak-ng for text; for audio, pocketsphinx alignment (English) or warping espeak-ng's
speech of the transcript onto the recording (any espeak-ng language); then articulation rules.

Works offline on any voice, with no learned weights and no torch.
"""
from __future__ import annotations

from ..animation import Animation
from ..articulation import articulate
from ..audio import SAMPLE_RATE, load_audio, require_speech
from ..errors import InputError
from ..phones import PhoneTimeline
from ..text.phonesets import phone_set_for
from . import ModelInfo
from .speech import speak

ALIGNERS = ("auto", "pocketsphinx", "dtw")

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
        aligner = choose_aligner(path, options)
        progress(0.0, "decoding audio")
        audio = load_audio(path, SAMPLE_RATE)
        require_speech(audio, SAMPLE_RATE, path)
        scaled = _subrange(progress, 0.05, 0.9)
        timeline = _timeline(aligner, audio, options, scaled)
        progress(0.9, "articulating")
        anim = articulate(timeline, fps=options.fps, duration_s=len(audio) / SAMPLE_RATE)
        anim.meta.update(model=INFO.name, source=str(path), duration_s=round(len(audio) / SAMPLE_RATE, 3),
                         transcript=options.transcript or " ".join(w.text for w in timeline.words),
                         language=options.language, aligner=aligner)
        if options.transcript and timeline.confidence is not None:
            anim.meta["alignment_confidence"] = timeline.confidence
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


def choose_aligner(path, options) -> str:
    """The aligner for `options.aligner`: 'auto' is pocketsphinx for English and dtw for other languages.

    pocketsphinx aligns English (or recognizes it when there is no transcript); dtw warps espeak-ng's speech
    of the transcript onto the recording, in any language espeak-ng speaks.
    """
    english = phone_set_for(options.language) == "arpabet"
    has_transcript = bool(options.transcript and options.transcript.strip())
    choice = options.aligner
    if choice not in ALIGNERS:
        raise InputError(None, f"unknown aligner {choice!r}; choose one of {', '.join(ALIGNERS)}")
    if choice == "auto":
        choice = "pocketsphinx" if english else "dtw"
    if choice == "pocketsphinx" and not english:
        raise InputError(path, f"the pocketsphinx aligner is English only (got language {options.language!r}); "
                               "use the dtw aligner with a transcript")
    if choice == "dtw" and not has_transcript and english:
        raise InputError(path, "the dtw aligner needs a transcript of the audio")
    if choice == "dtw" and not has_transcript:
        raise InputError(path, f"a transcript is needed to animate {options.language!r} audio: "
                               "speech recognition is English only")
    return choice


def _timeline(aligner: str, audio, options, progress) -> PhoneTimeline:
    if aligner == "dtw":
        from ..dtw_align import DtwOptions, align_by_synthesis

        progress(0.0, "aligning with espeak-ng speech")
        return align_by_synthesis(audio, SAMPLE_RATE, options.transcript, options.language,
                                  DtwOptions(voice=options.voice))
    from ..align import align, transcribe_and_align

    if options.transcript and options.transcript.strip():
        return align(audio, SAMPLE_RATE, options.transcript, progress=progress)
    return transcribe_and_align(audio, SAMPLE_RATE, progress=progress)


def _subrange(progress, low: float, high: float):
    return lambda fraction, message: progress(low + (high - low) * fraction, message)


def load() -> PhonemeModel:
    return PhonemeModel()
