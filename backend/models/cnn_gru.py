"""The CNN+GRU audio models: speech spectrograms -> 46 weights, any language, no transcript, no torch.

Two shipped checkpoints of the family run through the numpy runtime: `cnn-gru` (the default: its best
variant, 100 ms of lookahead, for offline work) and `cnn-gru-causal` (a GRU with no lookahead, for
streaming). Each is looked for in the
repository's assets/models/<folder>/, then in the package's data/models/<folder>/ (add-on builds); an
environment variable names another checkpoint (its path without the suffix).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import checkpoints
from ..animation import Animation
from ..audio import SAMPLE_RATE, load_audio, require_speech
from ..errors import InputError
from ..rig import FACEWAREHOUSE_46
from . import ModelInfo
from .speech import speak

STEM = "model"


@dataclass(frozen=True)
class ShippedCheckpoint:
    info: ModelInfo
    folder: str  # under assets/models/ (data/models/ in add-on builds)
    env: str  # names another checkpoint instead

    def candidate_stems(self) -> list[Path]:
        if os.environ.get(self.env):
            return [Path(os.environ[self.env])]
        package = Path(__file__).resolve().parents[1]
        return [package.parent / "assets" / "models" / self.folder / STEM,
                package / "data" / "models" / self.folder / STEM]

    def find(self) -> Path:
        for stem in self.candidate_stems():
            if checkpoints.paths(stem)[1].is_file():
                return stem
        searched = ", ".join(str(checkpoints.paths(s)[1]) for s in self.candidate_stems())
        raise InputError(None, f"no {self.info.name} checkpoint found (looked for {searched}); "
                               "train one with `mouthpiece-train cnn-gru`")


DEFAULT = ShippedCheckpoint(
    ModelInfo(name="cnn-gru", kind="blendshape", inputs=("audio", "text"),
              description="spectrogram windows -> CNN + recurrent layer (Pham et al. 2018; the LSTM variant, "
                          "which scored best) -> 46 weights; any language, no transcript, 100 ms lookahead, "
                          "trained on real and synthetic speech, numpy runtime"),
    folder="cnn_gru", env="MOUTHPIECE_CNN_GRU")
CAUSAL = ShippedCheckpoint(
    ModelInfo(name="cnn-gru-causal", kind="blendshape", inputs=("audio", "text"),
              description="CNN+GRU without lookahead, for streaming; weaker on lip closures than cnn-gru"),
    folder="cnn_gru_causal", env="MOUTHPIECE_CNN_GRU_CAUSAL")


def candidate_stems() -> list[Path]:
    return DEFAULT.candidate_stems()


@lru_cache(maxsize=2)
def _runtime(stem: Path):
    from ..runtime.cnn_gru import CnnGruRuntime

    return CnnGruRuntime.from_checkpoint(stem)


class CnnGruModel:
    def __init__(self, shipped: ShippedCheckpoint = DEFAULT):
        self.shipped = shipped
        self.info = shipped.info

    def availability(self) -> tuple[bool, str]:
        try:
            stem = self.shipped.find()
            record = checkpoints.read_record(stem)
        except InputError as err:
            return False, str(err)
        variant = record["config"].get("model", {}).get("variant", "?")
        return True, f"checkpoint {checkpoints.paths(stem)[1]} ({variant}, step {record.get('step')})"

    def runtime(self):
        return _runtime(self.shipped.find())

    def animate_samples(self, audio, source: str, progress) -> Animation:
        runtime = self.runtime()
        progress(0.2, f"running {self.info.name}")
        weights = runtime.predict_audio(audio, SAMPLE_RATE)
        duration = len(audio) / SAMPLE_RATE
        anim = Animation(fps=runtime.spec.fps, channels=list(FACEWAREHOUSE_46), values=weights,
                         kind="blendshape",
                         meta={"model": self.info.name, "source": source, "duration_s": round(duration, 3),
                               "variant": runtime.spec.variant, "checkpoint_step": runtime.record.get("step")})
        progress(1.0, "done")
        return anim

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


def load() -> CnnGruModel:
    return CnnGruModel(DEFAULT)


def load_causal() -> CnnGruModel:
    return CnnGruModel(CAUSAL)
