"""The Tacotron lips family (training/families/tacotron.py) run with numpy only: characters -> log-mel + lips.

It reproduces `Tacotron.infer`: the character embedding, the convolutions (batch norm folded in) and
BiLSTM of the encoder, then the mel and landmark decoders stepping in lockstep, each with its own
location-sensitive attention, `frames_per_step` frames a step, until the mel gate fires or the step limit
is reached; then the optional post-nets. A pre-net's dropout stays on at inference, as in Tacotron 2,
drawn from a numpy generator seeded by `seed`, so one text always gives the same output.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checkpoints
from .griffin_lim import MelSpec
from .layers import bidirectional_lstm, conv1d_same, fold_batch_norm, lstm_cell, sigmoid

FAMILY = "tacotron"
LIP_VALUES = 60  # 20 lip landmarks (iBUG 48-67) x (x, y, z), in millimetres
POSTNET_KERNEL = 5
# Fields of configs written before the mel settings were saved with the model: the values they trained with.
MEL_DEFAULTS = {"sample_rate": 16000, "hop": 200, "n_fft": 800, "fmin": 55.0, "fmax": 7600.0, "mel_power": 2.0}
LANDMARK_INPUTS = ("lips", "mel", "none")
SYMBOL_SETS = ("mouthpiece", "nvidia")  # backend.text.characters, backend.text.nvidia_symbols


@dataclass(frozen=True)
class TacotronSpec:
    symbols: str
    n_symbols: int
    embedding: int
    encoder_convs: int
    encoder_kernel: int
    encoder_lstm: int
    attention_rnn: int
    decoder_rnn: int
    landmark_rnn: int
    attention_dim: int
    location_filters: int
    location_kernel: int
    prenet: tuple[int, ...]
    prenet_dropout: float
    postnet_channels: int
    postnet_convs: int
    n_mels: int
    frames_per_step: int
    mel_prenet: bool
    mel_postnet: bool
    landmark_prenet: bool
    landmark_postnet: bool
    landmark_input: str
    gate_threshold: float
    max_decoder_steps: int
    mel: MelSpec

    @classmethod
    def from_config(cls, config: dict) -> "TacotronSpec":
        model = config.get("model", config)
        symbols = model.get("symbols", "mouthpiece")
        if symbols not in SYMBOL_SETS:
            raise ValueError(f"its character set {symbols!r} is none of {', '.join(SYMBOL_SETS)}")
        mel = {key: model.get(key, default) for key, default in MEL_DEFAULTS.items()}
        ints = ("n_symbols", "embedding", "encoder_convs", "encoder_kernel", "encoder_lstm", "attention_rnn",
                "decoder_rnn", "landmark_rnn", "attention_dim", "location_filters", "location_kernel",
                "postnet_channels", "postnet_convs", "n_mels", "frames_per_step", "max_decoder_steps")
        flags = ("mel_prenet", "mel_postnet", "landmark_prenet", "landmark_postnet")
        spec = cls(symbols=symbols, **{k: int(model[k]) for k in ints}, **{k: bool(model[k]) for k in flags},
                   landmark_input=landmark_input(model),
                   prenet=tuple(int(p) for p in model["prenet"]), prenet_dropout=float(model["prenet_dropout"]),
                   gate_threshold=float(model["gate_threshold"]),
                   mel=MelSpec(int(mel["sample_rate"]), int(mel["n_fft"]), int(mel["hop"]), int(model["n_mels"]),
                               float(mel["fmin"]), float(mel["fmax"]), float(mel["mel_power"])))
        if spec.frames_per_step < 1:
            raise ValueError("frames_per_step must be at least 1")
        if (spec.mel_prenet or spec.landmark_prenet) and not spec.prenet:
            raise ValueError("a pre-net is switched on but has no layer sizes")
        return spec

    @property
    def fps(self) -> float:
        return self.mel.fps

    @property
    def memory_size(self) -> int:
        return 2 * self.encoder_lstm


def landmark_input(model: dict) -> str:
    """What the landmark decoder hears each step: lips, mel or none (earlier configs: a landmark_feedback switch)."""
    if "landmark_feedback" in model:
        return "lips" if model["landmark_feedback"] else "none"
    chosen = model.get("landmark_input", "lips")
    if chosen not in LANDMARK_INPUTS:
        raise ValueError(f"its landmark_input {chosen!r} is none of {', '.join(LANDMARK_INPUTS)}")
    return chosen


def _batch_norm_shapes(prefix: str, size: int) -> dict[str, tuple[int, ...]]:
    shapes = {f"{prefix}.{name}": (size,) for name in ("weight", "bias", "running_mean", "running_var")}
    shapes[f"{prefix}.num_batches_tracked"] = ()
    return shapes


def _decoder_shapes(prefix: str, spec: TacotronSpec, frame_size: int, rnn: int, prenet: bool,
                    input_size: int | None = None) -> dict:
    memory, attention = spec.memory_size, spec.attention_dim
    shapes: dict[str, tuple[int, ...]] = {}
    step_input = input_size or frame_size
    if prenet:
        for j, size in enumerate(spec.prenet):
            layer = f"{prefix}.prenet.layers.{j}"
            shapes |= {f"{layer}.weight": (size, step_input), f"{layer}.bias": (size,)}
            step_input = size
    for cell, inputs in (("attention_rnn", step_input + memory), ("decoder_rnn", rnn + memory)):
        shapes |= {f"{prefix}.{cell}.weight_ih": (4 * rnn, inputs), f"{prefix}.{cell}.weight_hh": (4 * rnn, rnn),
                   f"{prefix}.{cell}.bias_ih": (4 * rnn,), f"{prefix}.{cell}.bias_hh": (4 * rnn,)}
    shapes |= {f"{prefix}.attention.query.weight": (attention, rnn),
               f"{prefix}.attention.memory.weight": (attention, memory),
               f"{prefix}.attention.location_conv.weight": (spec.location_filters, 2, spec.location_kernel),
               f"{prefix}.attention.location.weight": (attention, spec.location_filters),
               f"{prefix}.attention.energy.weight": (1, attention),
               f"{prefix}.projection.weight": (frame_size * spec.frames_per_step, rnn + memory),
               f"{prefix}.projection.bias": (frame_size * spec.frames_per_step,)}
    return shapes


def _postnet_shapes(prefix: str, spec: TacotronSpec, size: int) -> dict:
    sizes = (size, *([spec.postnet_channels] * (spec.postnet_convs - 1)), size)
    shapes: dict[str, tuple[int, ...]] = {}
    for index, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        conv = f"{prefix}.convs.{4 * index}"
        shapes |= {f"{conv}.weight": (b, a, POSTNET_KERNEL), f"{conv}.bias": (b,)}
        shapes |= _batch_norm_shapes(f"{prefix}.convs.{4 * index + 1}", b)
    return shapes


def tensor_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor of an exported Tacotron (torch state-dict names) by name and shape."""
    spec = TacotronSpec.from_config(config)
    e, h = spec.embedding, spec.encoder_lstm
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (spec.n_symbols, e)}
    for i in range(spec.encoder_convs):
        shapes |= {f"encoder.convs.{4 * i}.weight": (e, e, spec.encoder_kernel), f"encoder.convs.{4 * i}.bias": (e,)}
        shapes |= _batch_norm_shapes(f"encoder.convs.{4 * i + 1}", e)
    for suffix in ("l0", "l0_reverse"):
        shapes |= {f"encoder.lstm.weight_ih_{suffix}": (4 * h, e), f"encoder.lstm.weight_hh_{suffix}": (4 * h, h),
                   f"encoder.lstm.bias_ih_{suffix}": (4 * h,), f"encoder.lstm.bias_hh_{suffix}": (4 * h,)}
    shapes |= {"gate.weight": (1, spec.decoder_rnn + spec.memory_size), "gate.bias": (1,)}
    shapes |= _decoder_shapes("mel_decoder", spec, spec.n_mels, spec.decoder_rnn, spec.mel_prenet)
    shapes |= _decoder_shapes("landmark_decoder", spec, LIP_VALUES, spec.landmark_rnn, spec.landmark_prenet,
                              spec.n_mels if spec.landmark_input == "mel" else LIP_VALUES)
    if spec.mel_postnet:
        shapes |= _postnet_shapes("mel_postnet", spec, spec.n_mels)
    if spec.landmark_postnet:
        shapes |= _postnet_shapes("landmark_postnet", spec, LIP_VALUES)
    return shapes


def _folded_convs(t: dict, prefix: str, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    layers = []
    for i in range(count):
        conv, norm = f"{prefix}.{4 * i}", f"{prefix}.{4 * i + 1}"
        layers.append(fold_batch_norm(t[conv + ".weight"], t[conv + ".bias"], t[norm + ".weight"], t[norm + ".bias"],
                                      t[norm + ".running_mean"], t[norm + ".running_var"]))
    return layers


def postnet(frames: np.ndarray, layers: list) -> np.ndarray:
    """The residual convolution stack: tanh after every convolution but the last."""
    x = frames
    for index, (weight, bias) in enumerate(layers):
        x = conv1d_same(x, weight, bias)
        if index < len(layers) - 1:
            x = np.tanh(x)
    return frames + x


@dataclass
class DecoderState:
    attention_h: np.ndarray
    attention_c: np.ndarray
    decoder_h: np.ndarray
    decoder_c: np.ndarray
    alignments: np.ndarray  # (2, N): previous, cumulative
    context: np.ndarray


class Decoder:
    """One Tacotron 2 decoder's weights and step, for one utterance."""

    def __init__(self, t: dict, prefix: str, spec: TacotronSpec, frame_size: int, rnn: int, prenet: bool):
        self.frame_size, self.rnn, self.r = frame_size, rnn, spec.frames_per_step
        self.dropout = spec.prenet_dropout
        self.prenet = [(t[f"{prefix}.prenet.layers.{j}.weight"].T.copy(), t[f"{prefix}.prenet.layers.{j}.bias"])
                       for j in range(len(spec.prenet))] if prenet else []
        self.cells = {cell: (t[f"{prefix}.{cell}.weight_ih"].T.copy(), t[f"{prefix}.{cell}.weight_hh"].T.copy(),
                             t[f"{prefix}.{cell}.bias_ih"] + t[f"{prefix}.{cell}.bias_hh"])
                      for cell in ("attention_rnn", "decoder_rnn")}
        a = f"{prefix}.attention"
        self.query = t[a + ".query.weight"].T.copy()
        self.memory_weight = t[a + ".memory.weight"].T.copy()
        conv = t[a + ".location_conv.weight"]  # (F, 2, K): convolution then linear, as one (2K, A) matrix
        self.location = conv.reshape(conv.shape[0], -1).T @ t[a + ".location.weight"].T
        self.kernel = conv.shape[2]
        self.energy = t[a + ".energy.weight"][0]
        self.projection = (t[f"{prefix}.projection.weight"].T.copy(), t[f"{prefix}.projection.bias"])

    def initial_state(self, memory: np.ndarray) -> DecoderState:
        zeros = np.zeros(self.rnn, np.float32)
        return DecoderState(zeros, zeros, zeros, zeros, np.zeros((2, len(memory)), np.float32),
                            np.zeros(memory.shape[1], np.float32))

    def attend(self, query: np.ndarray, processed: np.ndarray, memory: np.ndarray, alignments: np.ndarray,
               allowed: slice = slice(None)):
        half = self.kernel // 2
        padded = np.pad(alignments, ((0, 0), (half, half)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.kernel, axis=1)  # (2, N, K)
        location = windows.transpose(1, 0, 2).reshape(len(memory), -1) @ self.location
        energies = np.tanh(query @ self.query + location + processed) @ self.energy
        weights = np.zeros_like(energies)
        weights[allowed] = np.exp(energies[allowed] - energies[allowed].max())
        weights /= weights.sum()
        return weights @ memory, weights

    def step(self, previous: np.ndarray, state: DecoderState, memory: np.ndarray, processed: np.ndarray,
             rng: np.random.Generator, allowed: slice = slice(None)):
        """(features for the projection and gate, attention weights, state), as `Decoder.step` in eval mode."""
        x = previous
        for weight, bias in self.prenet:
            x = np.maximum(x @ weight + bias, 0.0)
            if self.dropout > 0:
                x = x * (rng.random(x.shape) >= self.dropout) / (1.0 - self.dropout)
        attention_h, attention_c = lstm_cell(np.concatenate([x, state.context]), state.attention_h,
                                             state.attention_c, *self.cells["attention_rnn"])
        context, weights = self.attend(attention_h, processed, memory, state.alignments, allowed)
        alignments = np.stack([weights, state.alignments[1] + weights])
        decoder_h, decoder_c = lstm_cell(np.concatenate([attention_h, context]), state.decoder_h, state.decoder_c,
                                         *self.cells["decoder_rnn"])
        features = np.concatenate([decoder_h, context])
        return features, weights, DecoderState(attention_h, attention_c, decoder_h, decoder_c, alignments, context)

    def frames(self, features: np.ndarray) -> np.ndarray:
        weight, bias = self.projection
        return (features @ weight + bias).reshape(self.r, self.frame_size)


class TacotronRuntime:
    def __init__(self, spec: TacotronSpec, tensors: dict[str, np.ndarray], record: dict | None = None):
        self.spec = spec
        self.record = record or {}
        t = {name: value.astype(np.float32) for name, value in tensors.items()
             if not name.endswith("num_batches_tracked")}
        self.embedding = t["embedding.weight"]
        self.encoder_convs = _folded_convs(t, "encoder.convs", spec.encoder_convs)
        self.encoder_lstm = tuple(tuple(t[f"encoder.lstm.{w}_{direction}"]
                                        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                                  for direction in ("l0", "l0_reverse"))
        self.mel_decoder = Decoder(t, "mel_decoder", spec, spec.n_mels, spec.decoder_rnn, spec.mel_prenet)
        self.landmark_decoder = Decoder(t, "landmark_decoder", spec, LIP_VALUES, spec.landmark_rnn,
                                        spec.landmark_prenet)
        self.gate = (t["gate.weight"][0], t["gate.bias"][0])
        self.mel_postnet = _folded_convs(t, "mel_postnet.convs", spec.postnet_convs) if spec.mel_postnet else None
        self.landmark_postnet = (_folded_convs(t, "landmark_postnet.convs", spec.postnet_convs)
                                 if spec.landmark_postnet else None)

    @classmethod
    def from_checkpoint(cls, stem: str | os.PathLike) -> "TacotronRuntime":
        """Load and check a checkpoint (InputError naming the file on any mismatch with its config)."""
        saved = checkpoints.load(stem, family=FAMILY, layout=tensor_shapes)
        record = {"step": saved.step, "metrics": saved.metrics, "config": saved.config}
        return cls(TacotronSpec.from_config(saved.config), saved.tensors, record)

    def text_ids(self, text: str) -> np.ndarray:
        """(N,) ids of (already normalised) text in the checkpoint's character set."""
        from ..text.characters import encode_symbols

        return encode_symbols(text, self.spec.symbols)

    def encode(self, ids: np.ndarray) -> np.ndarray:
        """(N,) character ids -> (N, 2 x encoder_lstm) memory."""
        x = self.embedding[np.asarray(ids, np.int64)]
        for weight, bias in self.encoder_convs:
            x = np.maximum(conv1d_same(x, weight, bias), 0.0)
        return bidirectional_lstm(x.astype(np.float32), *self.encoder_lstm)

    def infer(self, ids: np.ndarray, max_steps: int | None = None, seed: int = 0, attention_window: int = 0) -> dict:
        """Free-running, one utterance: mel (T, n_mels) log power, lips (T, 60) mm, alignments (S, N) of
        both decoders, and whether the gate stopped it (T = S x frames_per_step). attention_window > 0 lets
        each decoder attend only from its last peak to that many characters on (as `Tacotron.infer`)."""
        if len(ids) == 0:
            raise ValueError("no characters to speak")
        rng = np.random.default_rng(seed)
        memory = self.encode(ids)
        decoders = (self.mel_decoder, self.landmark_decoder)
        processed = [memory @ d.memory_weight for d in decoders]
        states = [d.initial_state(memory) for d in decoders]
        heard = self.spec.n_mels if self.spec.landmark_input == "mel" else LIP_VALUES
        previous = [np.zeros(self.spec.n_mels, np.float32), np.zeros(heard, np.float32)]
        out: tuple[list, list] = ([], [])
        alignments: tuple[list, list] = ([], [])
        stopped, peaks = False, [0, 0]
        for _ in range(max_steps or self.spec.max_decoder_steps):
            mel_features = None
            for k, decoder in enumerate(decoders):
                allowed = slice(peaks[k], peaks[k] + attention_window + 1) if attention_window > 0 else slice(None)
                features, weights, states[k] = decoder.step(previous[k], states[k], memory, processed[k], rng,
                                                            allowed)
                peaks[k] = int(weights.argmax())
                frames = decoder.frames(features)
                previous[k] = {"lips": frames[-1], "mel": previous[0], "none": previous[k]}[
                    "lips" if k == 0 else self.spec.landmark_input]
                out[k].append(frames)
                alignments[k].append(weights)
                mel_features = features if k == 0 else mel_features
            if float(sigmoid(np.float32(mel_features @ self.gate[0] + self.gate[1]))) > self.spec.gate_threshold:
                stopped = True
                break
        mel, lips = np.concatenate(out[0]), np.concatenate(out[1])
        if self.mel_postnet is not None:
            mel = postnet(mel, self.mel_postnet)
        if self.landmark_postnet is not None:
            lips = postnet(lips, self.landmark_postnet)
        return {"mel": mel.astype(np.float32), "lips": lips.astype(np.float32),
                "mel_alignments": np.stack(alignments[0]), "lip_alignments": np.stack(alignments[1]),
                "stopped": stopped}
