"""The one entry point for animating a line of dialog: used by the CLI, the add-on and the batch tools."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Callable

from .animation import Animation
from .post import FPS_RANGE, PostOptions, check_range, postprocess

# progress(fraction in [0, 1], short message); may raise to cancel.
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class AnimateOptions:
    model: str = "phonemes"
    language: str = "en"
    transcript: str | None = None  # audio input only: the words spoken, if known
    voice: str | None = None  # the espeak-ng voice that speaks text (or, for the dtw aligner, the transcript)
    aligner: str = "auto"  # audio input: "pocketsphinx" (English), "dtw" (any espeak-ng language), "auto"
    fps: float = 30.0
    post: PostOptions = field(default_factory=PostOptions)  # checks its own ranges when made

    def __post_init__(self) -> None:
        check_range("fps", self.fps, FPS_RANGE)


def _noop(fraction: float, message: str) -> None:
    pass


def animate_audio(path: str | os.PathLike, options: AnimateOptions = AnimateOptions(),
                  progress: Progress | None = None) -> Animation:
    """Animate an audio file: any soundtrack ffmpeg decodes (see backend.audio.decode_soundtrack)."""
    from .models import get_model

    model = get_model(options.model)
    anim = model.animate_audio(os.fspath(path), options, progress or _noop)
    return postprocess(anim, _with_fps(options))


def animate_text(text: str, options: AnimateOptions = AnimateOptions(),
                 speech_out: str | os.PathLike | None = None,
                 progress: Progress | None = None) -> Animation:
    """Animate typed text; the speech is synthesized and, with `speech_out`, written as a WAV."""
    from .models import get_model

    model = get_model(options.model)
    anim = model.animate_text(text, options, speech_out, progress or _noop)
    return postprocess(anim, _with_fps(options))


def _with_fps(options: AnimateOptions) -> PostOptions:
    """The post options, resampling to the animation's fps unless they name another rate."""
    return replace(options.post, fps=options.post.fps or options.fps)
