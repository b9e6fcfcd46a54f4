"""The CNN+GRU audio model: speech spectrograms -> 46 weights, any language, no transcript, no torch.

Runs the exported checkpoint `model.{safetensors,json}` through the numpy runtime. The checkpoint is
looked for in the repository's assets/models/cnn_gru/, then in the package's data/models/cnn_gru/
(add-on builds); MOUTHPIECE_CNN_GRU names another checkpoint (its path without the suffix).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .. import checkpoints
from ..animation import Animation
from ..audio import SAMPLE_RATE, load_audio, require_speech
from ..errors import InputError
from ..rig import FACEWAREHOUSE_46
from . import ModelInfo
from .speech import speak

INFO = ModelInfo(
    name="cnn-gru",
    description="spectrogram windows -> CNN+GRU (Pham et al. 2018) -> 46 weights; any language, numpy runtime",
    kind="blendshape",
    inputs=("audio", "text"),
)
CHECKPOINT_ENV = "MOUTHPIECE_CNN_GRU"
STEM = "model"


def candidate_stems() -> list[Path]:
    if os.environ.get(CHECKPOINT_ENV):
        return [Path(os.environ[CHECKPOINT_ENV])]
    package = Path(__file__).resolve().parents[1]
    return [package.parent / "assets" / "models" / "cnn_gru" / STEM, package / "data" / "models" / "cnn_gru" / STEM]


def find_checkpoint() -> Path:
    for stem in candidate_stems():
        if checkpoints.paths(stem)[1].is_file():
            return stem
    searched = ", ".join(str(checkpoints.paths(s)[1]) for s in candidate_stems())
    raise InputError(None, f"no CNN+GRU checkpoint found (looked for {searched}); "
                           "train one with `mouthpiece-train cnn-gru`")


@lru_cache(maxsize=2)
def _runtime(stem: Path):
    from ..runtime.cnn_gru import CnnGruRuntime

    return CnnGruRuntime.from_checkpoint(stem)


class CnnGruModel:
    info = INFO

    def availability(self) -> tuple[bool, str]:
        try:
            stem = find_checkpoint()
            record = checkpoints.read_record(stem)
        except InputError as err:
            return False, str(err)
        variant = record["config"].get("model", {}).get("variant", "?")
        return True, f"checkpoint {checkpoints.paths(stem)[1]} ({variant}, step {record.get('step')})"

    def runtime(self):
        return _runtime(find_checkpoint())

    def animate_samples(self, audio, source: str, progress) -> Animation:
        runtime = self.runtime()
        progress(0.2, "running CNN+GRU")
        weights = runtime.predict_audio(audio, SAMPLE_RATE)
        duration = len(audio) / SAMPLE_RATE
        anim = Animation(fps=runtime.spec.fps, channels=list(FACEWAREHOUSE_46), values=weights,
                         kind="blendshape",
                         meta={"model": INFO.name, "source": source, "duration_s": round(duration, 3),
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
    return CnnGruModel()
