"""The exported CNN+GRU model (training/families/cnn_gru.py) run with numpy only: no torch in Blender.

The convolutions along frequency see one STFT frame at a time, so they run once per STFT frame of
the clip rather than 32 times (once per window that holds the frame): about 7x less work at 30 fps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checkpoints
from ..errors import InputError
from ..features import SAMPLE_RATE, frame_count, stft_steps
from . import layers

FAMILY = "cnn-gru"


@dataclass(frozen=True)
class CnnGruSpec:
    """The parts of the training config that inference needs."""

    variant: str
    fps: float
    n_bins: int
    n_steps: int
    n_outputs: int
    freq_layers: int
    time_layers: int
    delay_frames: int = 0


class CnnGruRuntime:
    def __init__(self, spec: CnnGruSpec, tensors: dict[str, np.ndarray], record: dict | None = None):
        self.spec = spec
        self.record = record or {}
        self.t = {name: value.astype(np.float32) for name, value in tensors.items()}
        self._check_tensors()

    @classmethod
    def from_checkpoint(cls, stem: str | os.PathLike) -> "CnnGruRuntime":
        saved = checkpoints.load(stem)
        if saved.family != FAMILY:
            raise InputError(checkpoints.paths(stem)[1], f"holds a {saved.family!r} model, not {FAMILY!r}")
        model = saved.config.get("model", saved.config)
        spec = CnnGruSpec(variant=model["variant"], fps=float(model["fps"]), n_bins=model["n_bins"],
                          n_steps=model["n_steps"], n_outputs=model["n_outputs"],
                          freq_layers=len(model["freq_channels"]), time_layers=len(model["time_channels"]),
                          delay_frames=int(model.get("delay_frames", 0)))
        record = {"step": saved.step, "metrics": saved.metrics, "config": saved.config}
        return cls(spec, saved.tensors, record)

    def _check_tensors(self) -> None:
        needed = ["input_mean", "input_std", "head.weight", "head.bias"]
        needed += [f"freq_convs.{2 * i}.weight" for i in range(self.spec.freq_layers)]
        needed += [f"time_convs.{2 * i}.weight" for i in range(self.spec.time_layers)]
        missing = [name for name in needed if name not in self.t]
        if missing:
            raise InputError(None, f"CNN+GRU checkpoint lacks tensors {', '.join(missing)}")

    # -- the stages ---------------------------------------------------------------------------------------
    def frequency_features(self, columns: np.ndarray) -> np.ndarray:
        """(J, bins) log-power STFT frames -> (J, bins / 2^layers, C) after the frequency convolutions."""
        x = (columns - self.t["input_mean"]) / self.t["input_std"]
        x = x[:, :, None].astype(np.float32)
        for i in range(self.spec.freq_layers):
            x = layers.relu(layers.strided_conv3(x, *self._conv("freq_convs", i, axis=2)))
        return x

    def frame_features(self, columns: np.ndarray) -> np.ndarray:
        """(T, steps, H, C) per-window frequency features -> (T, features) in torch's flattening order."""
        x = columns.transpose(0, 2, 1, 3)  # (T, H, steps, C): time is the convolved axis now
        for i in range(self.spec.time_layers):
            x = layers.relu(layers.strided_conv3(x, *self._conv("time_convs", i, axis=3)))
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(x.shape[0], -1)  # (T, C, H, S)

    def temporal(self, features: np.ndarray, state=None):
        t = self.t
        if self.spec.variant == "gru":
            return layers.gru(features, t["temporal.weight_ih_l0"], t["temporal.weight_hh_l0"],
                              t["temporal.bias_ih_l0"], t["temporal.bias_hh_l0"], state)
        if self.spec.variant == "lstm":
            return layers.lstm(features, t["temporal.weight_ih_l0"], t["temporal.weight_hh_l0"],
                               t["temporal.bias_ih_l0"], t["temporal.bias_hh_l0"], state)
        return layers.relu(features @ t["temporal.0.weight"].T + t["temporal.0.bias"]), None

    def _conv(self, stack: str, index: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """torch's (C_out, C_in, kH, kW) kernel as (C_out, C_in, 3) along the convolved axis, and the bias."""
        weight = self.t[f"{stack}.{2 * index}.weight"]
        weight = weight[:, :, :, 0] if axis == 2 else weight[:, :, 0, :]
        return np.ascontiguousarray(weight), self.t[f"{stack}.{2 * index}.bias"]

    # -- whole clips --------------------------------------------------------------------------------------
    def predict_windows(self, windows: np.ndarray) -> np.ndarray:
        """(T, bins, steps) windows from backend.features.spectrogram_windows -> (T, 46) outputs, one per
        window (before the model's delay is undone: output t belongs to frame t - delay_frames)."""
        frames, bins, steps = windows.shape
        columns = windows.transpose(0, 2, 1).reshape(frames * steps, bins)
        per_column = self.frequency_features(columns)
        return self._finish(per_column.reshape(frames, steps, *per_column.shape[1:]))

    def predict_audio(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Mono audio -> (T, 46) weights at the model's fps, each STFT frame convolved once.

        The last `delay_frames` frames hear silence after the clip's end, as a stream would at its close.
        """
        n_frames = frame_count(len(audio), sample_rate, self.spec.fps)
        delay = self.spec.delay_frames
        spec, steps = stft_steps(audio, sample_rate, self.spec.fps, n_frames + delay)
        return self._finish(self.frequency_features(spec)[steps])[delay:]

    def _finish(self, per_window: np.ndarray) -> np.ndarray:
        hidden, _ = self.temporal(self.frame_features(per_window))
        return layers.sigmoid(hidden @ self.t["head.weight"].T + self.t["head.bias"])
