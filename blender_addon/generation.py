"""What one press of Generate asks for, and where it runs: in Blender's Python or in an external one.

Nothing here touches bpy, so a request runs unchanged on a worker thread.
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .backend.animation import Animation
from .backend.errors import InputError

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class GenerateRequest:
    """Everything the backend needs; `audio_path` xor `text`."""

    audio_path: str = ""
    text: str = ""
    transcript: str = ""
    language: str = "en"
    model: str = "phonemes"
    fps: float = 30.0
    strength: float = 1.0
    smoothing_s: float = 0.0
    offset_s: float = 0.0
    blinks: bool = True
    speech_out: str = ""  # text input: where the synthesized speech is written

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def source_label(self) -> str:
        if self.audio_path:
            return Path(self.audio_path).name
        words = " ".join(self.text.split())
        return f"“{words[:40]}{'…' if len(words) > 40 else ''}”"


def check_request(request: GenerateRequest) -> None:
    """Fail before any work starts: a missing audio file, no text, both or neither."""
    if bool(request.audio_path) == bool(request.text.strip()):
        raise InputError(None, "give either an audio file or some text to animate")
    if request.audio_path:
        path = Path(request.audio_path)
        if not path.is_file():
            raise InputError(path, "audio file not found" if not path.exists() else "is not a file")


def animate_options(request: GenerateRequest):
    from .backend.api import AnimateOptions
    from .backend.post import PostOptions

    post = PostOptions(fps=request.fps, smoothing_s=request.smoothing_s, strength=request.strength,
                       offset_s=request.offset_s, blinks=request.blinks)
    return AnimateOptions(model=request.model, language=request.language,
                          transcript=request.transcript or None, fps=request.fps, post=post)


def run_in_process(request: GenerateRequest, progress: Progress) -> Animation:
    """Run the backend in this Python (Blender's own, or any with the backend's dependencies)."""
    from .backend import api

    check_request(request)
    options = animate_options(request)
    if request.audio_path:
        audio = decodable_audio(request.audio_path)
        return api.animate_audio(audio, options, progress)
    return api.animate_text(request.text, options, request.speech_out or None, progress)


def decodable_audio(path: str) -> str:
    """`path` if the backend decodes its format; otherwise a WAV copy decoded by Blender's `aud`."""
    from .backend.audio import SUPPORTED_SUFFIXES

    if Path(path).suffix.lower() in SUPPORTED_SUFFIXES:
        return path
    return decode_with_aud(path)


def decode_with_aud(path: str, sample_rate: int = 16000) -> str:
    """Decode any format Blender plays (aac, m4a, video sound tracks...) to a mono 16-bit WAV."""
    try:
        import aud
    except ImportError:
        raise InputError(path, "this audio format needs Blender's decoder, which is not available here") from None
    out = os.path.join(tempfile.mkdtemp(prefix="mouthpiece-"), Path(path).stem + ".wav")
    try:
        sound = aud.Sound(path).resample(sample_rate, False).rechannel(1)
        sound.write(out, sample_rate, 1, aud.FORMAT_S16, aud.CONTAINER_WAV, aud.CODEC_PCM)
    except Exception as err:  # aud raises plain errors for anything it cannot read
        raise InputError(path, f"cannot decode audio ({err})") from None
    return out


# What the backend imports on every request (post-processing, audio decoding), whatever the model.
BACKEND_MODULES = ("scipy", "soundfile", "soxr")


def model_availability(name: str) -> tuple[bool, str]:
    """Whether `name` runs in this Python, and why not."""
    missing = [m for m in BACKEND_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"missing dependency: {', '.join(missing)}"
    try:
        from .backend.models import get_model

        return get_model(name).availability()
    except ImportError as err:
        return False, f"missing dependency: {err}"
    except InputError as err:
        return False, str(err)
