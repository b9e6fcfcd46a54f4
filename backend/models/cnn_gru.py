"""The CNN+GRU audio models: speech spectrograms -> 46 weights, any language, no transcript, no torch.

Two shipped checkpoints of the family run through the numpy runtime: `cnn-gru` (the default: its best
variant, 100 ms of lookahead, for offline work) and `cnn-gru-causal` (a GRU with no lookahead, for
streaming). Where the checkpoints are looked for: backend/models/shipped.py.
"""
from __future__ import annotations

from pathlib import Path

from ..animation import Animation
from ..audio import SAMPLE_RATE
from ..rig import FACEWAREHOUSE_46
from . import ModelInfo
from .shipped import ShippedCheckpoint, ShippedModel

TRAIN = "mouthpiece-train cnn-gru"
DEFAULT = ShippedCheckpoint(
    ModelInfo(name="cnn-gru", kind="blendshape", inputs=("audio", "text"),
              description="spectrogram windows -> CNN + recurrent layer (Pham et al. 2018; the LSTM variant, "
                          "which scored best) -> 46 weights; any language, no transcript, 100 ms lookahead, "
                          "trained on real and synthetic speech, numpy runtime"),
    folder="cnn_gru", env="MOUTHPIECE_CNN_GRU", train_command=TRAIN)
CAUSAL = ShippedCheckpoint(
    ModelInfo(name="cnn-gru-causal", kind="blendshape", inputs=("audio", "text"),
              description="CNN+GRU without lookahead, for streaming; weaker on lip closures than cnn-gru"),
    folder="cnn_gru_causal", env="MOUTHPIECE_CNN_GRU_CAUSAL", train_command=TRAIN)


def candidate_stems() -> list[Path]:
    return DEFAULT.candidate_stems()


def _load_runtime(stem: Path):
    from ..runtime.cnn_gru import CnnGruRuntime

    return CnnGruRuntime.from_checkpoint(stem)


class CnnGruModel(ShippedModel):
    load_runtime = staticmethod(_load_runtime)

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


def load() -> CnnGruModel:
    return CnnGruModel(DEFAULT)


def load_causal() -> CnnGruModel:
    return CnnGruModel(CAUSAL)
