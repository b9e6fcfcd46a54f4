"""What one press of Generate asks for, and where it runs: in Blender's Python or in an external one.

Nothing here touches bpy, so a request runs unchanged on a worker thread.
"""
from __future__ import annotations

import importlib.util
import sys
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
    voice: str = ""  # an espeak-ng voice for the language ("" for its default)
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
    return AnimateOptions(model=request.model, language=request.language, voice=request.voice or None,
                          transcript=request.transcript or None, fps=request.fps, post=post)


def run_in_process(request: GenerateRequest, progress: Progress) -> Animation:
    """Run the backend in this Python (Blender's own, or any with the backend's dependencies)."""
    from . import site_wheels

    site_wheels.ensure()
    from .backend import api

    check_request(request)
    options = animate_options(request)
    try:
        if request.audio_path:  # any soundtrack (wav, m4a, mp4, opus...): the backend decodes it with ffmpeg
            return api.animate_audio(request.audio_path, options, progress)
        return api.animate_text(request.text, options, request.speech_out or None, progress)
    finally:
        forget_multiprocessing_main()


def forget_multiprocessing_main() -> None:
    """Importing multiprocessing aliases `__mp_main__` to the `__main__` of the moment; inside Blender that
    can be a `--python` script's temporary module, which Blender frees and then trips over when it exits."""
    main = sys.modules.get("__main__")
    if "bpy" in sys.modules and main is not None and sys.modules.get("__mp_main__") is main:
        del sys.modules["__mp_main__"]


# What the backend imports on every request (post-processing, audio decoding), whatever the model.
BACKEND_MODULES = ("soundfile", "soxr")


def model_availability(name: str) -> tuple[bool, str]:
    """Whether `name` runs in this Python, and why not (after unpacking a legacy install's wheels)."""
    from . import site_wheels

    site_wheels.ensure()
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
    finally:
        forget_multiprocessing_main()
