"""The Q-learning lip agent (training/families/qlearn.py) run with numpy only: audio -> lip measures.

The greedy agent starts from the neutral mouth and, frame by frame at the model's fps, takes the action
with the highest Q-value for the 300 ms of audio ending at that frame (and, with `observe_lips`, its own
lips). The convolutions are "valid", so each window's first pair of convolutions is a slice of the same
pair run once over the whole clip; only the pooling and the later, smaller layers run per frame.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checkpoints
from ..lip_actions import N_ACTIONS, LipSpace

FAMILY = "qlearn"
SAMPLE_RATE = 16000
N_LIP_VALUES = 60  # 20 lip landmarks (iBUG 48-67) x (x, y, z)
FRAME_CHUNK = 256


@dataclass(frozen=True)
class QLearnSpec:
    observe_lips: bool
    fps: float
    window: int
    channels: tuple[int, ...]
    kernels: tuple[int, ...]
    pools: tuple[int, ...]
    fc_hidden: int
    step_small: float
    step_large: float

    @classmethod
    def from_config(cls, config: dict) -> "QLearnSpec":
        model = config.get("model", config)
        return cls(observe_lips=bool(model["observe_lips"]), fps=float(model["fps"]), window=int(model["window"]),
                   channels=tuple(model["channels"]), kernels=tuple(model["kernels"]), pools=tuple(model["pools"]),
                   fc_hidden=int(model["fc_hidden"]), step_small=float(model["step_small"]),
                   step_large=float(model["step_large"]))

    @property
    def pooled_length(self) -> int:
        length = self.window
        for kernel, pool in zip(self.kernels, self.pools):
            length = 1 if pool == 0 else (length - 2 * (kernel - 1)) // pool
        return length


def tensor_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor of an exported agent (online and target networks, lip geometry) by name and shape."""
    spec = QLearnSpec.from_config(config)
    shapes = {name: (3,) for name in ("lip_neutral", "lip_low", "lip_high", "lip_mean", "lip_std")}
    shapes["lip_map"] = (N_LIP_VALUES, 3)
    features = spec.channels[-1] * spec.pooled_length + (3 if spec.observe_lips else 0)
    for network in ("online", "target"):
        in_channels = 1
        for i, (out_channels, kernel) in enumerate(zip(spec.channels, spec.kernels)):
            for j, (c_in, c_out) in enumerate(((in_channels, out_channels), (out_channels, out_channels))):
                shapes[f"{network}.convs.{i}.{2 * j}.weight"] = (c_out, c_in, kernel)
                shapes[f"{network}.convs.{i}.{2 * j}.bias"] = (c_out,)
            in_channels = out_channels
        shapes[f"{network}.fc.0.weight"] = (spec.fc_hidden, features)
        shapes[f"{network}.fc.0.bias"] = (spec.fc_hidden,)
        shapes[f"{network}.fc.2.weight"] = (N_ACTIONS, spec.fc_hidden)
        shapes[f"{network}.fc.2.bias"] = (N_ACTIONS,)
    return shapes


def normalise_audio(audio: np.ndarray) -> np.ndarray:
    """The paper's per-clip scaling into [-0.5, 0.5] (by the peak, so silence stays at 0)."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio / (2.0 * peak) if peak > 0 else audio).astype(np.float32)


def window_starts(n_frames: int, fps: float) -> np.ndarray:
    """Start of each frame's window in a clip with `window` zeros in front: the window ends at the frame's time."""
    return np.round(np.arange(n_frames) * SAMPLE_RATE / fps).astype(np.int64)


def conv_valid(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """torch.nn.Conv1d with no padding on channels-last (..., L, C_in) -> (..., L - K + 1, C_out)."""
    kernel = weight.shape[2]
    length = x.shape[-2] - kernel + 1
    patches = np.concatenate([x[..., k:k + length, :] for k in range(kernel)], axis=-1)
    return patches @ weight.transpose(2, 1, 0).reshape(-1, weight.shape[0]) + bias


def max_pool(x: np.ndarray, pool: int) -> np.ndarray:
    """torch.nn.MaxPool1d(pool) along axis -2 (0: a global max, keeping the axis)."""
    if pool == 0:
        return x.max(axis=-2, keepdims=True)
    length = x.shape[-2] // pool
    return x[..., :length * pool, :].reshape(*x.shape[:-2], length, pool, x.shape[-1]).max(axis=-2)


def running_max(x: np.ndarray, width: int) -> np.ndarray:
    """(C, S - width + 1): the max over each run of `width` columns, by doubling."""
    span = 1
    while span * 2 <= width:
        x = np.maximum(x[:, :-span], x[:, span:])
        span *= 2
    if span < width:
        x = np.maximum(x[:, :x.shape[1] - (width - span)], x[:, width - span:])
    return x


class QLearnRuntime:
    def __init__(self, spec: QLearnSpec, tensors: dict[str, np.ndarray], record: dict | None = None):
        self.spec = spec
        self.record = record or {}
        self.t = {name: value.astype(np.float32) for name, value in tensors.items()}
        self.space = LipSpace(self.t["lip_neutral"], self.t["lip_low"], self.t["lip_high"], spec.step_small,
                              spec.step_large)

    @classmethod
    def from_checkpoint(cls, stem: str | os.PathLike) -> "QLearnRuntime":
        """Load and check a checkpoint (InputError naming the file on any mismatch with its config)."""
        saved = checkpoints.load(stem, family=FAMILY, layout=tensor_shapes)
        record = {"step": saved.step, "metrics": saved.metrics, "config": saved.config}
        return cls(QLearnSpec.from_config(saved.config), saved.tensors, record)

    def _conv(self, x: np.ndarray, pair: int, layer: int) -> np.ndarray:
        prefix = f"online.convs.{pair}.{2 * layer}"
        out = conv_valid(x, self.t[prefix + ".weight"], self.t[prefix + ".bias"])
        return np.maximum(out, 0.0, out=out)

    def _first_pair(self, segment: np.ndarray) -> np.ndarray:
        """(C, S') the first pair of convolutions over a stretch of audio, channels first (wide matrix
        products), then a running max of the first pooling's width: pooled value j of a window that starts
        at s is column s + j * pool."""
        x = segment[None]
        for layer in range(2):
            prefix = f"online.convs.0.{2 * layer}"
            weight, bias = self.t[prefix + ".weight"], self.t[prefix + ".bias"]
            length = x.shape[1] - weight.shape[2] + 1
            out = np.repeat(bias[:, None], length, axis=1)
            for k in range(weight.shape[2]):
                out += weight[:, :, k] @ x[:, k:k + length]
            x = np.maximum(out, 0.0, out=out)
        return running_max(x, self.spec.pools[0])

    def audio_features(self, audio: np.ndarray, n_frames: int) -> np.ndarray:
        """(n_frames, features) for 16 kHz audio: each frame's window through the convolutions."""
        spec = self.spec
        padded = np.concatenate([np.zeros(spec.window, np.float32), normalise_audio(audio),
                                 np.zeros(spec.window, np.float32)])
        pooled_length = (spec.window - 2 * (spec.kernels[0] - 1)) // spec.pools[0]
        columns = np.arange(pooled_length) * spec.pools[0]
        starts = window_starts(n_frames, spec.fps)
        out = np.empty((n_frames, spec.channels[-1] * spec.pooled_length), np.float32)
        for begin in range(0, n_frames, FRAME_CHUNK):
            rows = starts[begin:begin + FRAME_CHUNK]
            first = self._first_pair(padded[rows[0]:rows[-1] + spec.window])
            x = first[:, (rows - rows[0])[:, None] + columns[None]].transpose(1, 2, 0)  # (frames, L, C)
            for pair in range(1, len(spec.channels)):
                x = max_pool(self._conv(self._conv(x, pair, 0), pair, 1), spec.pools[pair])
            out[begin:begin + len(rows)] = x.transpose(0, 2, 1).reshape(len(rows), -1)
        return out

    def q_values(self, features: np.ndarray, lips: np.ndarray | None) -> np.ndarray:
        if self.spec.observe_lips:
            normalised = (np.asarray(lips, np.float32) - self.t["lip_mean"]) / self.t["lip_std"]
            features = np.concatenate([features, normalised.reshape(features.shape[0], 3)], axis=1)
        hidden = np.maximum(features @ self.t["online.fc.0.weight"].T + self.t["online.fc.0.bias"], 0.0)
        return hidden @ self.t["online.fc.2.weight"].T + self.t["online.fc.2.bias"]

    def predict_measures(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """(T, 3) the agent's u, l, c in pixels at the model's fps."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"the Q-learning agent hears {SAMPLE_RATE} Hz audio, not {sample_rate} Hz")
        n_frames = max(1, int(round(len(audio) / SAMPLE_RATE * self.spec.fps)))
        features = self.audio_features(audio, n_frames)
        lips, out = self.space.neutral, np.empty((n_frames, 3), np.float32)
        if not self.spec.observe_lips:
            actions = self.q_values(features, None).argmax(axis=1)
        for t in range(n_frames):
            action = actions[t] if not self.spec.observe_lips else int(self.q_values(features[t:t + 1], lips).argmax())
            lips = self.space.apply(lips, action)
            out[t] = lips
        return out

    def lip_displacements(self, measures: np.ndarray) -> np.ndarray:
        """(T, 20, 3) lip-landmark offsets from the default head's neutral (metres) for (T, 3) measures."""
        offsets = (np.asarray(measures, np.float32) - self.space.neutral) @ self.t["lip_map"].T
        return offsets.reshape(len(measures), 20, 3)
