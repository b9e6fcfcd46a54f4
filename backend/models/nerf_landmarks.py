"""The NeRF talking head's landmark side: speech -> 68 landmarks and blinks (training/families/nerf_landmarks.py).

The output is a landmark animation at the model's fps: `lm00_x` ... `lm67_z` (offsets in metres from the
default head's neutral landmarks, all 68 in iBUG order) plus `EyeBlink_L` and `EyeBlink_R`, the blink
model's eyelid closure in [0, 1]. The add-on and `mouthpiece render` solve the landmarks onto any head's
shape keys that carries the `mouthpiece_landmarks` property and key the blink channels onto its
EyeBlink_L/R as they are; they replace the procedural blink layer, which only adds to blendshape
animations. The blinks are drawn with `--seed`. Inference is the numpy runtime
(backend/runtime/nerf_landmarks.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..animation import BLINK_CHANNELS, Animation
from ..audio import SAMPLE_RATE
from . import ModelInfo
from .shipped import ShippedCheckpoint, ShippedModel

SHIPPED = ShippedCheckpoint(
    ModelInfo(name="nerf-landmarks", kind="landmarks", inputs=("audio", "text"),
              description="NeRF talking head's landmark side (blink embedding, landmark transformer): log-mel "
                          "windows -> 68 landmarks and EyeBlink_L/R at 25 fps, numpy runtime"),
    folder="nerf_landmarks", env="MOUTHPIECE_NERF_LANDMARKS", train_command="mouthpiece-train nerf-landmarks")
LANDMARK_CHANNELS = [f"lm{i:02d}_{axis}" for i in range(68) for axis in "xyz"]
CHANNELS = LANDMARK_CHANNELS + list(BLINK_CHANNELS)


def _load_runtime(stem: Path):
    from ..runtime.nerf_landmarks import NerfLandmarksRuntime

    return NerfLandmarksRuntime.from_checkpoint(stem)


class NerfLandmarksModel(ShippedModel):
    load_runtime = staticmethod(_load_runtime)
    seed = 0

    def describe(self, record: dict) -> str:
        model = record["config"].get("model", {})
        return f"{model.get('layers', '?')} layers, d_model {model.get('d_model', '?')}"

    def animate_audio(self, path, options, progress) -> Animation:
        self.seed = options.post.seed
        return super().animate_audio(path, options, progress)

    def animate_text(self, text, options, speech_out, progress) -> Animation:
        self.seed = options.post.seed
        return super().animate_text(text, options, speech_out, progress)

    def animate_samples(self, audio, source: str, progress) -> Animation:
        runtime = self.runtime()
        progress(0.2, f"running {self.info.name}")
        offsets, blink = runtime.predict(audio, self.seed)
        values = np.concatenate([offsets.reshape(len(offsets), -1), np.repeat(blink[:, None], 2, axis=1)], axis=1)
        anim = Animation(fps=runtime.spec.fps, channels=CHANNELS, values=values, kind="landmarks",
                         meta={"model": self.info.name, "source": source,
                               "duration_s": round(len(audio) / SAMPLE_RATE, 3), "landmark_space": "offsets",
                               "blinks": "model", "blink_seed": self.seed,
                               "checkpoint_step": runtime.record.get("step")})
        progress(1.0, "done")
        return anim


def load() -> NerfLandmarksModel:
    return NerfLandmarksModel(SHIPPED)
