"""The exported CNN+GRU model (training/families/cnn_gru.py) run with numpy only: no torch in Blender.

The convolutions along frequency see one STFT frame at a time, so they run once per STFT frame of
the clip rather than 32 times (once per window that holds the frame): about 7x less work at 30 fps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checkpoints
from ..features import SAMPLE_RATE, frame_count, stft_steps
from . import layers

FAMILY = "cnn-gru"


VARIANTS = ("gru", "lstm", "static")
GATES = {"gru": 3, "lstm": 4}


@dataclass(frozen=True)
class CnnGruSpec:
    """The parts of the training config that inference needs."""

    variant: str
    fps: float
    n_bins: int
    n_steps: int
    n_outputs: int
    freq_channels: tuple[int, ...]
    time_channels: tuple[int, ...]
    hidden: int = 256
    static_hidden: int = 1024
    delay_frames: int = 0

    @classmethod
    def from_config(cls, config: dict) -> "CnnGruSpec":
        """From a checkpoint's config; KeyError names a missing field, ValueError a value it cannot run."""
        model = config.get("model", config)
        spec = cls(variant=model["variant"], fps=float(model["fps"]), n_bins=int(model["n_bins"]),
                   n_steps=int(model["n_steps"]), n_outputs=int(model["n_outputs"]),
                   freq_channels=tuple(int(c) for c in model["freq_channels"]),
                   time_channels=tuple(int(c) for c in model["time_channels"]),
                   hidden=int(model["hidden"]), static_hidden=int(model.get("static_hidden", 1024)),
                   delay_frames=int(model.get("delay_frames", 0)))
        spec.validate()
        return spec

    def validate(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r} (known: {', '.join(VARIANTS)})")
        if not (0 < self.fps <= 1000) or self.delay_frames < 0 or not (self.freq_channels and self.time_channels):
            raise ValueError("fps, delay_frames or the layer lists are out of range")
        if self.n_bins % 2 ** self.freq_layers or self.n_steps % 2 ** self.time_layers:
            raise ValueError("each strided convolution halves its axis: n_bins and n_steps must divide evenly")

    @property
    def freq_layers(self) -> int:
        return len(self.freq_channels)

    @property
    def time_layers(self) -> int:
        return len(self.time_channels)

    @property
    def feature_size(self) -> int:
        return self.time_channels[-1] * (self.n_bins >> self.freq_layers) * (self.n_steps >> self.time_layers)


def tensor_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """The checkpoint layout of a CNN+GRU model: every tensor torch's state_dict holds, by name and shape."""
    spec = CnnGruSpec.from_config(config)
    shapes = {"input_mean": (spec.n_bins,), "input_std": (spec.n_bins,), "target_std": (spec.n_outputs,)}
    for stack, channels, kernel, in_channels in (("freq_convs", spec.freq_channels, (3, 1), 1),
                                                 ("time_convs", spec.time_channels, (1, 3), spec.freq_channels[-1])):
        for i, out_channels in enumerate(channels):
            shapes[f"{stack}.{2 * i}.weight"] = (out_channels, in_channels, *kernel)
            shapes[f"{stack}.{2 * i}.bias"] = (out_channels,)
            in_channels = out_channels
    if spec.variant == "static":
        shapes["temporal.0.weight"] = (spec.static_hidden, spec.feature_size)
        shapes["temporal.0.bias"] = (spec.static_hidden,)
        head_in = spec.static_hidden
    else:
        gates = GATES[spec.variant] * spec.hidden
        shapes.update({"temporal.weight_ih_l0": (gates, spec.feature_size),
                       "temporal.weight_hh_l0": (gates, spec.hidden),
                       "temporal.bias_ih_l0": (gates,), "temporal.bias_hh_l0": (gates,)})
        head_in = spec.hidden
    shapes["head.weight"] = (spec.n_outputs, head_in)
    shapes["head.bias"] = (spec.n_outputs,)
    return shapes


class CnnGruRuntime:
    def __init__(self, spec: CnnGruSpec, tensors: dict[str, np.ndarray], record: dict | None = None):
        self.spec = spec
        self.record = record or {}
        self.t = {name: value.astype(np.float32) for name, value in tensors.items()}

    @classmethod
    def from_checkpoint(cls, stem: str | os.PathLike) -> "CnnGruRuntime":
        """Load and check a checkpoint (InputError naming the file on any mismatch with its config)."""
        saved = checkpoints.load(stem, family=FAMILY, layout=tensor_shapes)
        record = {"step": saved.step, "metrics": saved.metrics, "config": saved.config}
        return cls(CnnGruSpec.from_config(saved.config), saved.tensors, record)

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
