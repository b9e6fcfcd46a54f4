"""The Q-learning lip agent: raw speech -> the agent's lip measures -> 20 lip-landmark offsets.

The output is a landmark animation (`lip00_x` ... `lip19_z`, offsets in metres from the default head's
neutral lips); the add-on and `mouthpiece render` solve it onto any head's shape keys that carries the
`mouthpiece_landmarks` property. Inference is the numpy runtime (backend/runtime/qlearn.py).
"""
from __future__ import annotations

from pathlib import Path

from ..animation import Animation
from ..audio import SAMPLE_RATE
from . import ModelInfo
from .shipped import ShippedCheckpoint, ShippedModel

SHIPPED = ShippedCheckpoint(
    ModelInfo(name="qlearn", kind="landmarks", inputs=("audio", "text"),
              description="Q-learning lips (Nevarez Porras et al.): a DQN agent moves four lip points from 300 ms "
                          "of raw audio, trained on Spanish speech; coarse (jaw and lip opening only), numpy runtime"),
    folder="qlearn", env="MOUTHPIECE_QLEARN", train_command="mouthpiece-train qlearn")
CHANNELS = [f"lip{i:02d}_{axis}" for i in range(20) for axis in "xyz"]


def _load_runtime(stem: Path):
    from ..runtime.qlearn import QLearnRuntime

    return QLearnRuntime.from_checkpoint(stem)


class QLearnModel(ShippedModel):
    load_runtime = staticmethod(_load_runtime)

    def describe(self, record: dict) -> str:
        observes = record["config"].get("model", {}).get("observe_lips")
        return "with its own lip state" if observes else "audio only"

    def animate_samples(self, audio, source: str, progress) -> Animation:
        runtime = self.runtime()
        progress(0.2, f"running {self.info.name}")
        measures = runtime.predict_measures(audio, SAMPLE_RATE)
        offsets = runtime.lip_displacements(measures).reshape(len(measures), -1)
        anim = Animation(fps=runtime.spec.fps, channels=CHANNELS, values=offsets, kind="landmarks",
                         meta={"model": self.info.name, "source": source,
                               "duration_s": round(len(audio) / SAMPLE_RATE, 3), "landmark_space": "offsets",
                               "lip_measures_px": [[round(float(v), 2) for v in row] for row in measures],
                               "checkpoint_step": runtime.record.get("step")})
        progress(1.0, "done")
        return anim


def load() -> QLearnModel:
    return QLearnModel(SHIPPED)
