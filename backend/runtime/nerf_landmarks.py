"""The NeRF landmark side (training/families/nerf_landmarks.py) in numpy: speech -> 68 landmarks + blinks.

Per output frame: a [16 x 80] window of 50 Hz log-mels (the layout of the paper's [16 x 29] DeepSpeech
windows) -> AudioNet -> an attention smoother over 8 neighbouring frames -> the VAE's mean z. A blink
model (a GRU over the smoothed audio and the time since the last blink) gives each frame's chance that a
blink starts; blinks are drawn from it with a seed and shaped like the corpus's. A transformer encoder
over 32-frame windows of [z | smoothed audio | blink code] gives the 68 x 3 offsets from the identity's
neutral landmarks, in millimetres; overlapping windows are blended with triangular weights.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checkpoints
from ..post import blink_start, blink_track
from .griffin_lim import MelSpec, log_mel
from .layers import gru, sigmoid, strided_conv3

FAMILY = "nerf-landmarks"
SAMPLE_RATE = 16000
N_LANDMARKS = 68
INITIAL_SINCE_BLINK_S = 2.0  # time since the last blink assumed at a clip's start
SINCE_BLINK_CAP_S = 8.0
LEAK = 0.02


@dataclass(frozen=True)
class NerfLandmarksSpec:
    fps: float
    mel_fps: float
    n_fft: int
    n_mels: int
    window: int
    audio_channels: tuple[int, ...]
    audio_dim: int
    smooth_frames: int
    attention_channels: tuple[int, ...]
    latent: int
    vae_hidden: int
    blink_code: int
    d_model: int
    layers: int
    heads: int
    ffn: int
    window_frames: int
    blink_hidden: int
    blink_duration_s: tuple[float, float]
    blink_bias: float = 0.0  # added to the blink-start logit; set after training to match the labels' rate

    @classmethod
    def from_config(cls, config: dict) -> "NerfLandmarksSpec":
        model = config.get("model", config)
        fields = cls.__dataclass_fields__
        values = {name: model[name] for name in fields if name in model or name != "blink_bias"}
        for name in ("audio_channels", "attention_channels", "blink_duration_s"):
            values[name] = tuple(values[name])
        return cls(**values)

    @property
    def mel(self) -> MelSpec:
        return MelSpec(sample_rate=SAMPLE_RATE, n_fft=self.n_fft, hop=int(round(SAMPLE_RATE / self.mel_fps)),
                       n_mels=self.n_mels)


def tensor_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor of an exported model by name and shape."""
    spec = NerfLandmarksSpec.from_config(config)
    shapes: dict[str, tuple[int, ...]] = {"mel_mean": (spec.n_mels,), "mel_std": (spec.n_mels,)}
    in_channels = spec.n_mels
    for i, out_channels in enumerate(spec.audio_channels):
        shapes |= {f"audio_convs.{2 * i}.weight": (out_channels, in_channels, 3),
                   f"audio_convs.{2 * i}.bias": (out_channels,)}
        in_channels = out_channels
    shapes |= {"audio_fc.0.weight": (in_channels, in_channels), "audio_fc.0.bias": (in_channels,),
               "audio_fc.2.weight": (spec.audio_dim, in_channels), "audio_fc.2.bias": (spec.audio_dim,)}
    in_channels = spec.audio_dim
    for i, out_channels in enumerate(spec.attention_channels):
        shapes |= {f"attention_convs.{2 * i}.weight": (out_channels, in_channels, 3),
                   f"attention_convs.{2 * i}.bias": (out_channels,)}
        in_channels = out_channels
    n, a, z, h = spec.smooth_frames, spec.audio_dim, spec.latent, spec.vae_hidden
    shapes |= {"attention_fc.weight": (n, n), "attention_fc.bias": (n,),
               "vae_encoder.0.weight": (h, a), "vae_encoder.0.bias": (h,), "vae_mu.weight": (z, h), "vae_mu.bias": (z,),
               "vae_logvar.weight": (z, h), "vae_logvar.bias": (z,), "vae_decoder.0.weight": (h, z),
               "vae_decoder.0.bias": (h,), "vae_decoder.2.weight": (a, h), "vae_decoder.2.bias": (a,),
               "blink_code.weight": (spec.blink_code, 1), "blink_code.bias": (spec.blink_code,),
               "input.weight": (spec.d_model, z + a + spec.blink_code), "input.bias": (spec.d_model,),
               "head.weight": (N_LANDMARKS * 3, spec.d_model), "head.bias": (N_LANDMARKS * 3,),
               "blink_gru.weight_ih_l0": (3 * spec.blink_hidden, a + 1),
               "blink_gru.bias_ih_l0": (3 * spec.blink_hidden,),
               "blink_gru.weight_hh_l0": (3 * spec.blink_hidden, spec.blink_hidden),
               "blink_gru.bias_hh_l0": (3 * spec.blink_hidden,), "blink_head.weight": (1, spec.blink_hidden),
               "blink_head.bias": (1,)}
    d, f = spec.d_model, spec.ffn
    for i in range(spec.layers):
        p = f"encoder.layers.{i}."
        shapes |= {p + "self_attn.in_proj_weight": (3 * d, d), p + "self_attn.in_proj_bias": (3 * d,),
                   p + "self_attn.out_proj.weight": (d, d), p + "self_attn.out_proj.bias": (d,),
                   p + "linear1.weight": (f, d), p + "linear1.bias": (f,), p + "linear2.weight": (d, f),
                   p + "linear2.bias": (d,), p + "norm1.weight": (d,), p + "norm1.bias": (d,),
                   p + "norm2.weight": (d,), p + "norm2.bias": (d,)}
    return shapes


def frame_total(n_samples: int, fps: float) -> int:
    """Output frames for a clip: frame i sits at i / fps, and every frame lies inside the audio."""
    return max(1, int(np.ceil(n_samples / SAMPLE_RATE * fps - 1e-9)))


def mel_windows(audio: np.ndarray, spec: NerfLandmarksSpec, n_frames: int | None = None) -> np.ndarray:
    """(T, window, n_mels) log-mel windows, window t centred on frame t's time (edge frames repeated)."""
    mels = log_mel(np.asarray(audio, np.float32), spec.mel)
    n_frames = frame_total(len(audio), spec.fps) if n_frames is None else n_frames
    centres = np.round(np.arange(n_frames) * spec.mel_fps / spec.fps).astype(np.int64)
    offsets = np.arange(spec.window) - spec.window // 2
    return mels[np.clip(centres[:, None] + offsets[None], 0, len(mels) - 1)]


def since_blink(onsets: np.ndarray, fps: float) -> np.ndarray:
    """(T,) seconds from the last blink onset before each frame (INITIAL_SINCE_BLINK_S before the clip)."""
    out = np.empty(len(onsets), np.float32)
    last = -INITIAL_SINCE_BLINK_S * fps
    for t, onset in enumerate(onsets):
        out[t] = (t - last) / fps
        if onset > 0.5:
            last = t
    return out


def since_feature(seconds: np.ndarray) -> np.ndarray:
    return (np.minimum(seconds, SINCE_BLINK_CAP_S) / SINCE_BLINK_CAP_S).astype(np.float32)


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    position = np.arange(length, dtype=np.float64)[:, None]
    rates = np.exp(-np.log(10000.0) * np.arange(0, dim, 2) / dim)
    table = np.zeros((length, dim))
    table[:, 0::2] = np.sin(position * rates)
    table[:, 1::2] = np.cos(position * rates)
    return table.astype(np.float32)


def window_plan(n_frames: int, size: int) -> list[int]:
    """Starts of the overlapping windows (stride size // 2) that cover n_frames; the last ends at the end."""
    if n_frames <= size:
        return [0]
    starts = list(range(0, n_frames - size, size // 2))
    return starts + [n_frames - size]


def blend_windows(outputs: list[np.ndarray], starts: list[int], n_frames: int) -> np.ndarray:
    """Overlap-add of per-window outputs with triangular weights (each window trusts its middle most)."""
    total = np.zeros((n_frames, *outputs[0].shape[1:]), np.float64)
    weight = np.zeros(n_frames, np.float64)
    for out, start in zip(outputs, starts):
        length = len(out)
        ramp = np.minimum(np.arange(1, length + 1), np.arange(length, 0, -1)).astype(np.float64)
        total[start:start + length] += ramp.reshape(-1, *([1] * (out.ndim - 1))) * out
        weight[start:start + length] += ramp
    return (total / weight.reshape(-1, *([1] * (total.ndim - 1)))).astype(np.float32)


def leaky(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, LEAK * x).astype(np.float32)


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class NerfLandmarksRuntime:
    def __init__(self, spec: NerfLandmarksSpec, tensors: dict[str, np.ndarray], record: dict):
        self.spec, self.t, self.record = spec, {k: v.astype(np.float32) for k, v in tensors.items()}, record

    @classmethod
    def from_checkpoint(cls, stem: str | os.PathLike) -> "NerfLandmarksRuntime":
        saved = checkpoints.load(stem, family=FAMILY, layout=tensor_shapes)
        record = {"step": saved.step, "metrics": saved.metrics, "config": saved.config}
        return cls(NerfLandmarksSpec.from_config(saved.config), saved.tensors, record)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.t[name + ".weight"].T + self.t[name + ".bias"]

    def audio_features(self, windows: np.ndarray) -> np.ndarray:
        """(T, window, n_mels) -> (T, audio_dim): AudioNet, strided convolutions along the window."""
        x = (windows - self.t["mel_mean"]) / self.t["mel_std"]
        for i in range(len(self.spec.audio_channels)):
            x = leaky(strided_conv3(x, self.t[f"audio_convs.{2 * i}.weight"], self.t[f"audio_convs.{2 * i}.bias"]))
        x = x.reshape(len(x), -1)
        return self._linear(leaky(self._linear(x, "audio_fc.0")), "audio_fc.2")

    def smooth(self, features: np.ndarray) -> np.ndarray:
        """The attention smoother: each frame a softmax-weighted sum of its 8 neighbours (t-4 .. t+3)."""
        n = self.spec.smooth_frames
        index = np.clip(np.arange(len(features))[:, None] + np.arange(n)[None] - n // 2, 0, len(features) - 1)
        neighbours = features[index]  # (T, n, C)
        x = neighbours
        for i in range(len(self.spec.attention_channels)):
            weight, bias = self.t[f"attention_convs.{2 * i}.weight"], self.t[f"attention_convs.{2 * i}.bias"]
            padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
            x = leaky(sum(padded[:, k:k + n] @ weight[:, :, k].T for k in range(3)) + bias)
        scores = softmax(self._linear(x[..., 0], "attention_fc"))  # (T, n)
        return np.einsum("tn,tnc->tc", scores, neighbours).astype(np.float32)

    def latent_mean(self, smoothed: np.ndarray) -> np.ndarray:
        return self._linear(np.maximum(self._linear(smoothed, "vae_encoder.0"), 0.0), "vae_mu")

    def _gru_weights(self):
        return tuple(self.t[f"blink_gru.{name}_l0"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def blink_hazards(self, smoothed: np.ndarray, onsets: np.ndarray) -> np.ndarray:
        """(T,) chance that a blink starts at each frame, given the blinks that did start (teacher forcing)."""
        inputs = np.concatenate([smoothed, since_feature(since_blink(onsets, self.spec.fps))[:, None]], axis=1)
        hidden, _ = gru(inputs.astype(np.float32), *self._gru_weights())
        return sigmoid(self._linear(hidden, "blink_head")[:, 0])

    def sample_blinks(self, smoothed: np.ndarray, seed: int,
                      bias: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(closure (T,) in [0, 1], onsets (T,)): blinks drawn frame by frame from the blink model, its
        start logit shifted by `bias` (default: the spec's calibrated one)."""
        fps, rng = self.spec.fps, np.random.default_rng(seed)
        bias = self.spec.blink_bias if bias is None else bias
        weights = self._gru_weights()
        onsets, starts = np.zeros(len(smoothed), np.float32), []
        state, last = None, -INITIAL_SINCE_BLINK_S * fps
        busy_until = -1.0
        for t in range(len(smoothed)):
            step = np.concatenate([smoothed[t], since_feature(np.array([(t - last) / fps]))])[None].astype(np.float32)
            hidden, state = gru(step, *weights, state=state)
            hazard = float(sigmoid(self._linear(hidden, "blink_head") + bias)[0, 0])
            draw, length = rng.random(), rng.uniform(*self.spec.blink_duration_s)
            if draw < hazard and t / fps >= busy_until:
                onsets[t], last = 1.0, t
                starts.append((blink_start(t / fps, length), length))
                busy_until = t / fps + length
        return blink_track(starts, len(smoothed), fps), onsets

    def transformer(self, inputs: np.ndarray) -> np.ndarray:
        """(W, z + audio + code) -> (W, 204) offsets in mm for one window."""
        spec = self.spec
        x = self._linear(inputs, "input") + sinusoidal_positions(len(inputs), spec.d_model)
        heads, width = spec.heads, spec.d_model // spec.heads
        for i in range(spec.layers):
            p = f"encoder.layers.{i}."
            qkv = x @ self.t[p + "self_attn.in_proj_weight"].T + self.t[p + "self_attn.in_proj_bias"]
            q, k, v = (part.reshape(len(x), heads, width).transpose(1, 0, 2) for part in np.split(qkv, 3, axis=1))
            attention = softmax(q @ k.transpose(0, 2, 1) / np.sqrt(width)) @ v
            attended = self._linear(attention.transpose(1, 0, 2).reshape(len(x), -1), p + "self_attn.out_proj")
            x = layer_norm(x + attended, self.t[p + "norm1.weight"], self.t[p + "norm1.bias"])
            hidden = self._linear(np.maximum(self._linear(x, p + "linear1"), 0.0), p + "linear2")
            x = layer_norm(x + hidden, self.t[p + "norm2.weight"], self.t[p + "norm2.bias"])
        return self._linear(x, "head")

    def offsets_mm(self, smoothed: np.ndarray, latent: np.ndarray, blink: np.ndarray) -> np.ndarray:
        """(T, 68, 3) landmark offsets from the neutral, in mm, for a blink closure (T,)."""
        code = self._linear(np.asarray(blink, np.float32)[:, None], "blink_code")
        inputs = np.concatenate([latent, smoothed, code], axis=1).astype(np.float32)
        starts = window_plan(len(inputs), self.spec.window_frames)
        outputs = [self.transformer(inputs[s:s + self.spec.window_frames]) for s in starts]
        return blend_windows(outputs, starts, len(inputs)).reshape(-1, N_LANDMARKS, 3)

    def smoothed_audio(self, audio: np.ndarray) -> np.ndarray:
        """(T, audio_dim) smoothed audio features at spec.fps of 16 kHz audio."""
        return self.smooth(self.audio_features(mel_windows(audio, self.spec)))

    def predict(self, audio: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(offsets (T, 68, 3) in metres, blink closure (T,)) at spec.fps for 16 kHz audio."""
        return self.predict_smoothed(self.smoothed_audio(audio), seed)

    def predict_smoothed(self, smoothed: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`predict` from the audio's smoothed features."""
        blink, _ = self.sample_blinks(smoothed, seed)
        return self.offsets_mm(smoothed, self.latent_mean(smoothed), blink) / 1000.0, blink
