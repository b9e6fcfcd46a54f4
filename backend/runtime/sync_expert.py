"""The lip-sync expert (training/families/sync_expert.py) run with numpy only: embeddings of 5-frame lower
faces and of 80 x 16 mel windows, whose cosine similarity says how well they are in sync.

The layer list is Wav2Lip's SyncNet_color (models-spec §2.2): every layer a convolution, a batch norm and a
ReLU, residual layers adding their input before the ReLU; the face side takes the lower halves (48 x 96) of
5 RGB frames as 15 channels (frame-major), the audio side one mel window. Channel counts are Wav2Lip's
times `width` (1: the paper's 16 M parameters; the shipped 0.5: about 4 M), and the last layer of
each side gives `embedding` values. Here the batch norms are folded into their convolutions at load time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checkpoints, wav2lip_mel
from ..errors import InputError
from ..parallel import map_threads, usable_cores
from . import layers

FAMILY = "sync-expert"
FRAMES = 5
CROP = (48, 96)  # the lower half of a 96 x 96 face crop
N_MELS, MEL_STEPS = 80, 16
FPS = 25.0
BATCH_NORM_EPS = 1e-5
NORM_EPS = 1e-12  # torch.nn.functional.normalize's
BATCH = 32  # windows per pass: bounds the memory of the first layers and keeps them in cache
# passes run side by side on this many threads (numpy's matrix products release the GIL); small batches
# keep BLAS on one core each, so threads are what use a second core
PASS_THREADS = min(4, usable_cores())

# (channels at width 1, kernel, stride, padding, residual); None channels = the embedding size
FACE_LAYERS = ((32, 7, 1, 3, False),
               (64, 5, (1, 2), 1, False), (64, 3, 1, 1, True), (64, 3, 1, 1, True),
               (128, 3, 2, 1, False), (128, 3, 1, 1, True), (128, 3, 1, 1, True), (128, 3, 1, 1, True),
               (256, 3, 2, 1, False), (256, 3, 1, 1, True), (256, 3, 1, 1, True),
               (512, 3, 2, 1, False), (512, 3, 1, 1, True), (512, 3, 1, 1, True),
               (512, 3, 2, 1, False), (512, 3, 1, 0, False), (None, 1, 1, 0, False))
AUDIO_LAYERS = ((32, 3, 1, 1, False), (32, 3, 1, 1, True), (32, 3, 1, 1, True),
                (64, 3, (3, 1), 1, False), (64, 3, 1, 1, True), (64, 3, 1, 1, True),
                (128, 3, 3, 1, False), (128, 3, 1, 1, True), (128, 3, 1, 1, True),
                (256, 3, (3, 2), 1, False), (256, 3, 1, 1, True), (256, 3, 1, 1, True),
                (512, 3, 1, 0, False), (None, 1, 1, 0, False))


@dataclass(frozen=True)
class ConvSpec:
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    residual: bool


@dataclass(frozen=True)
class SyncExpertSpec:
    """The parts of the training config that inference needs."""

    width: float = 0.5
    embedding: int = 128

    @classmethod
    def from_config(cls, config: dict) -> "SyncExpertSpec":
        model = config.get("model", config)
        spec = cls(width=float(model["width"]), embedding=int(model["embedding"]))
        if not (0 < spec.width <= 16) or spec.embedding < 1:
            raise ValueError(f"width {spec.width} or embedding {spec.embedding} out of range")
        return spec


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def conv_specs(table: tuple, in_channels: int, spec: SyncExpertSpec) -> list[ConvSpec]:
    result = []
    for channels, kernel, stride, padding, residual in table:
        out = spec.embedding if channels is None else scaled(channels, spec.width)
        result.append(ConvSpec(in_channels, out, _pair(kernel), _pair(stride), _pair(padding), residual))
        in_channels = out
    return result


def face_specs(spec: SyncExpertSpec) -> list[ConvSpec]:
    return conv_specs(FACE_LAYERS, 3 * FRAMES, spec)


def audio_specs(spec: SyncExpertSpec) -> list[ConvSpec]:
    return conv_specs(AUDIO_LAYERS, 1, spec)


def tensor_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """The checkpoint layout: every tensor torch's state_dict holds, by name and shape."""
    spec = SyncExpertSpec.from_config(config)
    shapes: dict[str, tuple[int, ...]] = {}
    for side, specs in (("face_encoder", face_specs(spec)), ("audio_encoder", audio_specs(spec))):
        for i, conv in enumerate(specs):
            shapes[f"{side}.{i}.conv.weight"] = (conv.out_channels, conv.in_channels, *conv.kernel)
            for name in ("conv.bias", "norm.weight", "norm.bias", "norm.running_mean", "norm.running_var"):
                shapes[f"{side}.{i}.{name}"] = (conv.out_channels,)
            shapes[f"{side}.{i}.norm.num_batches_tracked"] = ()
    return shapes


def normalize_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), NORM_EPS)).astype(np.float32)


class SyncExpert:
    def __init__(self, spec: SyncExpertSpec, tensors: dict[str, np.ndarray], record: dict | None = None):
        self.spec = spec
        self.record = record or {}
        self.face = self._folded("face_encoder", face_specs(spec), tensors)
        self.audio = self._folded("audio_encoder", audio_specs(spec), tensors)
        first, bias = self.face[0][1], self.face[0][2]
        out = first.shape[0]
        # the first layer's kernel cut into each frame's part: (5, C, 3, kH, kW)
        parts = first.reshape(out, FRAMES, 3, *first.shape[2:]).transpose(1, 0, 2, 3, 4)
        self.first_parts = np.ascontiguousarray(parts)
        self.first_bias = bias[:, None, None]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SyncExpert":
        """Load and check a checkpoint (InputError naming the file on any mismatch with its config)."""
        saved = checkpoints.load(path, family=FAMILY, layout=tensor_shapes)
        record = {"step": saved.step, "metrics": saved.metrics, "config": saved.config}
        return cls(SyncExpertSpec.from_config(saved.config), saved.tensors, record)

    @property
    def embedding_size(self) -> int:
        return self.spec.embedding

    @staticmethod
    def _folded(side: str, specs: list[ConvSpec], t: dict[str, np.ndarray]) -> list:
        folded = []
        for i, conv in enumerate(specs):
            weight, bias, gamma, beta, mean, var = (t[f"{side}.{i}.{name}"].astype(np.float32) for name in (
                "conv.weight", "conv.bias", "norm.weight", "norm.bias", "norm.running_mean", "norm.running_var"))
            flat, bias = layers.fold_batch_norm(weight.reshape(*weight.shape[:2], -1), bias, gamma, beta, mean, var,
                                                BATCH_NORM_EPS)
            folded.append((conv, flat.reshape(weight.shape).astype(np.float32), bias.astype(np.float32)))
        return folded

    @staticmethod
    def _run(x: np.ndarray, stack: list) -> np.ndarray:
        for conv, weight, bias in stack:
            out = layers.conv2d(x, weight, bias, conv.stride, conv.padding)
            if conv.residual:
                out += x
            x = layers.relu(out)
        return x

    def _first_face_layer(self, lower: np.ndarray, first: int, count: int, step: int) -> np.ndarray:
        """The first layer (before its ReLU), (count, C, H, W), of the windows starting at first, first + step,
        ...: a sum over the window's 5 frames of each frame convolved with its part of the kernel. Frames
        that several windows share (the parts k whose k mod step agree) are convolved once, with all
        their parts at once: one wide convolution, several times faster than narrow ones."""
        conv = self.face[0][0]
        total = None
        for group in range(min(step, FRAMES)):
            parts = list(range(group, FRAMES, step))
            frames = first + group + np.arange(count + (parts[-1] - group) // step) * step
            pixels = lower[frames].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
            kernels = self.first_parts[parts].reshape(-1, *self.first_parts.shape[2:])
            responses = layers.conv2d(pixels, kernels, None, conv.stride, conv.padding)
            responses = responses.reshape(len(frames), len(parts), -1, *responses.shape[2:])
            for j, k in enumerate(parts):
                part = responses[(k - group) // step:(k - group) // step + count, j]
                total = part + self.first_bias if total is None else total + part
        return total

    def embed_faces(self, lower: np.ndarray, step: int = 1) -> np.ndarray:
        """uint8 (T, 48, 96, 3) RGB lower faces -> float32 (ceil((T - 4) / step), D) unit embeddings; row r is
        frames r step .. r step + 4. A step of 2 halves the time, and every offset still gets pairs
        (backend/sync_measures.py `video_step`)."""
        lower = np.asarray(lower)
        if lower.ndim != 4 or lower.shape[1:] != (*CROP, 3):
            raise InputError(None, f"lower faces must be (T, {CROP[0]}, {CROP[1]}, 3), not {lower.shape}")
        if step < 1:
            raise ValueError(f"step must be 1 or more, not {step}")
        starts = np.arange(0, max(0, len(lower) - FRAMES + 1), step)
        out = np.empty((len(starts), self.spec.embedding), np.float32)

        def embed(first: int) -> None:
            chunk = starts[first:first + BATCH]
            x = layers.relu(self._first_face_layer(lower, int(chunk[0]), len(chunk), step))
            x = self._run(x, self.face[1:])
            out[first:first + len(chunk)] = normalize_rows(x.reshape(len(chunk), -1))

        map_threads(embed, range(0, len(starts), BATCH), PASS_THREADS)
        return out

    def embed_audio(self, windows: np.ndarray) -> np.ndarray:
        """float32 (N, 80, 16) mel windows (backend.wav2lip_mel) -> float32 (N, D) unit embeddings."""
        windows = np.asarray(windows, np.float32)
        if windows.ndim != 3 or windows.shape[1:] != (N_MELS, MEL_STEPS):
            raise InputError(None, f"mel windows must be (N, {N_MELS}, {MEL_STEPS}), not {windows.shape}")
        out = np.empty((len(windows), self.spec.embedding), np.float32)

        def embed(start: int) -> None:
            x = windows[start:start + BATCH * 4, None]
            out[start:start + len(x)] = normalize_rows(self._run(x, self.audio).reshape(len(x), -1))

        map_threads(embed, range(0, len(windows), BATCH * 4), PASS_THREADS)
        return out

    def embed_take(self, lower: np.ndarray, audio: np.ndarray, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(V, A) for backend/sync_measures.py: the face windows every `step` frames (video_step = step) and
        the mel window of every frame that starts a face window, from 16 kHz mono audio starting with frame 0."""
        video = self.embed_faces(lower, step)
        windows = wav2lip_mel.mel_windows(wav2lip_mel.log_mel(audio), max(0, len(lower) - FRAMES + 1), FPS)
        return video, self.embed_audio(windows)

    def similarity(self, faces: np.ndarray, audio: np.ndarray) -> np.ndarray:
        """The expert's in-sync chance d = cosine similarity of aligned rows, in [0, 1]."""
        return np.clip(np.sum(faces * audio, axis=1), 0.0, 1.0)
