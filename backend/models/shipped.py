"""Models that run a shipped checkpoint through a numpy runtime: where the checkpoint is looked for,
availability, and the audio and text entry points. A model gives its checkpoint, a runtime loader and
`animate_samples` (16 kHz audio -> Animation).

A checkpoint is looked for in the repository's assets/models/<folder>/, then in the package's
data/models/<folder>/ (add-on builds); an environment variable names another one (its path without
the suffix).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .. import checkpoints
from ..animation import Animation
from ..audio import SAMPLE_RATE, load_audio, require_speech
from ..errors import InputError
from . import ModelInfo
from .speech import speak

STEM = "model"


@dataclass(frozen=True)
class ShippedCheckpoint:
    info: ModelInfo
    folder: str  # under assets/models/ (data/models/ in add-on builds)
    env: str  # names another checkpoint instead
    train_command: str  # how to make one, for the "not found" message

    def candidate_stems(self) -> list[Path]:
        if os.environ.get(self.env):
            return [checkpoints.stem_of(os.environ[self.env])]
        package = Path(__file__).resolve().parents[1]
        return [package.parent / "assets" / "models" / self.folder / STEM,
                package / "data" / "models" / self.folder / STEM]

    def find(self) -> Path:
        for stem in self.candidate_stems():
            if checkpoints.paths(stem)[1].is_file():
                return stem
        searched = ", ".join(str(checkpoints.paths(s)[1]) for s in self.candidate_stems())
        raise InputError(None, f"no {self.info.name} checkpoint found (looked for {searched}); "
                               f"train one with `{self.train_command}`")


@lru_cache(maxsize=4)
def cached_runtime(loader: Callable, stem: Path):
    return loader(stem)


class ShippedModel:
    """Base of the checkpoint models; subclasses set `load_runtime` and `animate_samples`."""

    load_runtime: Callable  # stem -> runtime

    def __init__(self, shipped: ShippedCheckpoint):
        self.shipped = shipped
        self.info = shipped.info

    def availability(self) -> tuple[bool, str]:
        """Usable when the checkpoint loads and passes its checks (loaded once, then cached)."""
        try:
            stem = self.shipped.find()
            record = self.runtime().record
        except InputError as err:
            return False, str(err)
        return True, f"checkpoint {checkpoints.paths(stem)[1]} ({self.describe(record)}, step {record.get('step')})"

    def describe(self, record: dict) -> str:
        return record["config"].get("model", {}).get("variant", "?")

    def runtime(self):
        return cached_runtime(type(self).load_runtime, self.shipped.find())

    def animate_samples(self, audio, source: str, progress) -> Animation:
        raise NotImplementedError

    def animate_audio(self, path, options, progress) -> Animation:
        progress(0.0, "decoding audio")
        audio = load_audio(path, SAMPLE_RATE)
        require_speech(audio, SAMPLE_RATE, path)
        return self.animate_samples(audio, str(path), progress)

    def animate_text(self, text, options, speech_out, progress) -> Animation:
        speech = speak(text, options, speech_out, progress)
        audio = speech.audio
        if speech.sample_rate != SAMPLE_RATE:
            from ..audio import resample

            audio = resample(audio, speech.sample_rate, SAMPLE_RATE)
        anim = self.animate_samples(audio, "text", progress)
        anim.meta.update(text=text, language=options.language)
        if speech_out:
            anim.meta["speech"] = str(speech_out)
        return anim
