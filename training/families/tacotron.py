"""The Tacotron lips family (Han, Zhao & Lam, WF-IoT 2022): typed text -> log-mel speech + 20 lip landmarks.

A Tacotron 2: character embedding, three convolutions and a BiLSTM (the encoder); an autoregressive
decoder with location-sensitive attention, an attention LSTM, a decoder LSTM, a mel projection and a
stop gate; a residual convolutional post-net. Beside it a landmark decoder of the same design with its
own attention steps in lockstep and gives the (x, y, z) displacements of iBUG 48-67 (60 values) per
80 fps step; the mel gate ends both. The paper drops the landmark decoder's pre-net and post-net; both
are switches here, for its Table I.

Training has two stages, chosen by `stage`:
  "tts"        the mel decoder, post-net and gate on one voice (teacher forcing; MSE + gate BCE, plus a
               guided-attention term when `guided_attention` > 0, for aligning on a small CPU budget);
  "landmarks"  the landmark decoder, with the encoder, embedding and gate frozen at the tts stage
               (`freeze`, `init_from`), SmoothL1 (beta 1) on displacements in mm, padded frames zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..dataset import MEL_BANDS, MEL_FFT, MEL_FMAX, MEL_FMIN, MEL_HOP, SAMPLE_RATE, TEXT_VOCABULARY
from ..registry import Family

STAGES = ("tts", "landmarks")
FREEZABLE = ("embedding", "encoder", "mel_decoder", "mel_postnet", "gate")
LIP_VALUES = 60  # 20 landmarks x (x, y, z)
LANDMARK_INPUTS = ("lips", "mel", "none")


@dataclass(frozen=True)
class TacotronConfig:
    stage: str = "tts"
    """tts | landmarks: which decoder the loss trains"""
    symbols: str = "mouthpiece"
    """character set: mouthpiece (training.dataset.TEXT_VOCABULARY) | nvidia (NVIDIA Tacotron 2's, for its weights)"""
    n_symbols: int = len(TEXT_VOCABULARY)
    embedding: int = 256
    encoder_convs: int = 3
    encoder_kernel: int = 5
    encoder_lstm: int = 128
    """units per direction of the encoder's BiLSTM (its output is twice this)"""
    attention_rnn: int = 512
    decoder_rnn: int = 512
    attention_dim: int = 64
    location_filters: int = 16
    location_kernel: int = 31
    prenet: tuple[int, ...] = (128, 128)
    postnet_channels: int = 256
    postnet_convs: int = 5
    n_mels: int = MEL_BANDS
    frames_per_step: int = 1
    """r: frames each decoder step emits (Tacotron 2 uses 1; 2-4 trains that many times faster on a CPU)"""
    sample_rate: int = SAMPLE_RATE
    hop: int = MEL_HOP
    """16 kHz with hop 200 puts frames at exactly 80 fps (NVIDIA's 22,050 Hz with hop 256: 86.13 fps)"""
    n_fft: int = MEL_FFT
    fmin: float = MEL_FMIN
    fmax: float = MEL_FMAX
    mel_power: float = 2.0
    """the mel's spectrogram power: 2 (librosa's default, this project) or 1 (NVIDIA's magnitudes)"""
    mel_prenet: bool = True
    mel_postnet: bool = True
    landmark_prenet: bool = False
    landmark_postnet: bool = False
    landmark_rnn: int = 512
    """units of the landmark decoder's attention and decoder LSTMs"""
    landmark_input: str = "lips"
    """what each landmark decoder step hears besides the text: lips, its own last frame (the paper); mel, the mel
    decoder's last frame (the speech it is in step with); none (free-running is then exactly as in training)"""
    encoder_dropout: float = 0.5
    prenet_dropout: float = 0.5
    decoder_dropout: float = 0.1
    guided_attention: float = 0.0
    """weight of the guided-attention loss (Tachibana et al. 2018) on both decoders in training (validation
    leaves it out: the paper's loss); 0 is the paper"""
    guided_sigma: float = 0.2
    gate_threshold: float = 0.5
    max_decoder_steps: int = 1600
    freeze: tuple[str, ...] = ()
    """parts kept at their initial weights: embedding, encoder, mel_decoder, mel_postnet, gate"""

    def __post_init__(self) -> None:
        if self.frames_per_step < 1:
            raise ValueError("frames_per_step must be at least 1")
        if self.landmark_input not in LANDMARK_INPUTS:
            raise ValueError(f"landmark_input must be one of {LANDMARK_INPUTS}, not {self.landmark_input!r}")
        if self.symbols not in ("mouthpiece", "nvidia"):
            raise ValueError(f"symbols must be mouthpiece or nvidia, not {self.symbols!r}")
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {self.stage!r}")
        unknown = set(self.freeze) - set(FREEZABLE)
        if unknown:
            raise ValueError(f"cannot freeze {sorted(unknown)}; freezable parts: {', '.join(FREEZABLE)}")

    @classmethod
    def from_dict(cls, data: dict) -> "TacotronConfig":
        data = dict(data)
        for key in ("prenet", "freeze"):
            if key in data:
                data[key] = tuple(data[key])
        if "landmark_feedback" in data:  # the switch's earlier form
            data["landmark_input"] = "lips" if data.pop("landmark_feedback") else "none"
        return cls(**data)

    @property
    def fps(self) -> float:
        return self.sample_rate / self.hop

    @property
    def memory_size(self) -> int:
        return 2 * self.encoder_lstm


class Encoder(nn.Module):
    """(B, N) character ids -> (B, N, 2 x encoder_lstm) memory."""

    def __init__(self, config: TacotronConfig):
        super().__init__()
        layers: list[nn.Module] = []
        channels = config.embedding
        for _ in range(config.encoder_convs):
            layers += [nn.Conv1d(channels, config.embedding, config.encoder_kernel, padding=config.encoder_kernel // 2),
                       nn.BatchNorm1d(config.embedding), nn.ReLU(), nn.Dropout(config.encoder_dropout)]
        self.convs = nn.Sequential(*layers)
        self.lstm = nn.LSTM(config.embedding, config.encoder_lstm, batch_first=True, bidirectional=True)

    def forward(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.convs(embedded.transpose(1, 2)).transpose(1, 2)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        return nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])[0]


class LocationAttention(nn.Module):
    """Bahdanau attention that also sees the previous and cumulative alignments through a convolution."""

    def __init__(self, query_size: int, memory_size: int, config: TacotronConfig):
        super().__init__()
        self.query = nn.Linear(query_size, config.attention_dim, bias=False)
        self.memory = nn.Linear(memory_size, config.attention_dim, bias=False)
        self.location_conv = nn.Conv1d(2, config.location_filters, config.location_kernel,
                                       padding=config.location_kernel // 2, bias=False)
        self.location = nn.Linear(config.location_filters, config.attention_dim, bias=False)
        self.energy = nn.Linear(config.attention_dim, 1, bias=False)

    def forward(self, query: torch.Tensor, processed_memory: torch.Tensor, memory: torch.Tensor,
                alignments: torch.Tensor, pad_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alignments (B, 2, N): previous and cumulative; pad_mask (B, N) True where attention may not go.
        Returns (context (B, M), weights (B, N))."""
        location = self.location(self.location_conv(alignments).transpose(1, 2))
        energies = self.energy(torch.tanh(self.query(query)[:, None] + location + processed_memory)).squeeze(2)
        weights = torch.softmax(energies.masked_fill(pad_mask, -1e9), dim=1)
        return torch.bmm(weights[:, None], memory).squeeze(1), weights


class Prenet(nn.Module):
    """Linear + ReLU layers whose dropout stays on at inference, as in Tacotron 2."""

    def __init__(self, in_size: int, sizes: tuple[int, ...], dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip((in_size, *sizes[:-1]), sizes))
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = F.dropout(F.relu(layer(x)), p=self.dropout, training=True)
        return x


class Postnet(nn.Module):
    """A residual stack of 1-D convolutions (tanh between, linear at the end) over (B, T, D) frames."""

    def __init__(self, size: int, channels: int, n_convs: int, dropout: float = 0.5):
        super().__init__()
        sizes = (size, *([channels] * (n_convs - 1)), size)
        layers: list[nn.Module] = []
        for index, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.Conv1d(a, b, 5, padding=2), nn.BatchNorm1d(b)]
            if index < n_convs - 1:
                layers.append(nn.Tanh())
            layers.append(nn.Dropout(dropout))
        self.convs = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return frames + self.convs(frames.transpose(1, 2)).transpose(1, 2)


@dataclass
class DecoderState:
    attention_h: torch.Tensor
    attention_c: torch.Tensor
    decoder_h: torch.Tensor
    decoder_c: torch.Tensor
    alignments: torch.Tensor  # (B, 2, N): previous, cumulative
    context: torch.Tensor


class Decoder(nn.Module):
    """One autoregressive Tacotron 2 decoder: `frame_size` values per frame, `frames_per_step` frames per step,
    each step fed the last frame of the step before."""

    def __init__(self, frame_size: int, rnn_size: int, use_prenet: bool, config: TacotronConfig,
                 input_size: int | None = None):
        super().__init__()
        self.frame_size, self.rnn_size, self.r = frame_size, rnn_size, config.frames_per_step
        self.input_size = input_size or frame_size
        self.prenet = Prenet(self.input_size, config.prenet, config.prenet_dropout) if use_prenet else None
        step_input = config.prenet[-1] if use_prenet else self.input_size
        self.attention_rnn = nn.LSTMCell(step_input + config.memory_size, rnn_size)
        self.attention = LocationAttention(rnn_size, config.memory_size, config)
        self.decoder_rnn = nn.LSTMCell(rnn_size + config.memory_size, rnn_size)
        self.projection = nn.Linear(rnn_size + config.memory_size, frame_size * self.r)
        self.dropout = config.decoder_dropout

    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        batch, n = memory.shape[:2]
        zeros = memory.new_zeros((batch, self.rnn_size))
        return DecoderState(zeros, zeros, zeros, zeros, memory.new_zeros((batch, 2, n)),
                            memory.new_zeros((batch, memory.shape[2])))

    def step(self, previous_frame: torch.Tensor, state: DecoderState, memory: torch.Tensor,
             processed_memory: torch.Tensor, pad_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """One step: (output features for the projection and gate (B, rnn + memory), attention weights, state)."""
        x = self.prenet(previous_frame) if self.prenet is not None else previous_frame
        attention_h, attention_c = self.attention_rnn(torch.cat([x, state.context], 1),
                                                      (state.attention_h, state.attention_c))
        attention_h = F.dropout(attention_h, self.dropout, self.training)
        context, weights = self.attention(attention_h, processed_memory, memory, state.alignments, pad_mask)
        alignments = torch.stack([weights, state.alignments[:, 1] + weights], 1)
        decoder_h, decoder_c = self.decoder_rnn(torch.cat([attention_h, context], 1), (state.decoder_h, state.decoder_c))
        decoder_h = F.dropout(decoder_h, self.dropout, self.training)
        features = torch.cat([decoder_h, context], 1)
        return features, weights, DecoderState(attention_h, attention_c, decoder_h, decoder_c, alignments, context)

    def frames(self, features: torch.Tensor, n_frames: int) -> torch.Tensor:
        """(B, S, rnn + memory) step features -> (B, n_frames, frame_size) projected frames."""
        out = self.projection(features)
        return out.reshape(out.shape[0], -1, self.frame_size)[:, :n_frames]

    def teacher_forced(self, heard: torch.Tensor, memory: torch.Tensor, pad_mask: torch.Tensor):
        """heard (B, T, input_size): the frames whose last of each step feeds the next (the targets themselves,
        or what the decoder listens to) -> (features (B, S, rnn + memory), alignments (B, S, N)), S = ceil(T / r)."""
        processed = self.attention.memory(memory)
        steps = -(-heard.shape[1] // self.r)
        last_of_step = heard[:, self.r - 1::self.r][:, :steps - 1]
        previous = torch.cat([heard.new_zeros((heard.shape[0], 1, self.input_size)), last_of_step], 1)
        state = self.initial_state(memory)
        features, alignments = [], []
        for t in range(steps):
            out, weights, state = self.step(previous[:, t], state, memory, processed, pad_mask)
            features.append(out)
            alignments.append(weights)
        return torch.stack(features, 1), torch.stack(alignments, 1)


class Tacotron(nn.Module):
    def __init__(self, config: TacotronConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.n_symbols, config.embedding, padding_idx=0)
        self.encoder = Encoder(config)
        self.mel_decoder = Decoder(config.n_mels, config.decoder_rnn, config.mel_prenet, config)
        self.gate = nn.Linear(config.decoder_rnn + config.memory_size, 1)
        self.mel_postnet = (Postnet(config.n_mels, config.postnet_channels, config.postnet_convs)
                            if config.mel_postnet else None)
        self.landmark_decoder = Decoder(LIP_VALUES, config.landmark_rnn, config.landmark_prenet, config,
                                        input_size=config.n_mels if config.landmark_input == "mel" else LIP_VALUES)
        self.landmark_postnet = (Postnet(LIP_VALUES, config.postnet_channels, config.postnet_convs)
                                 if config.landmark_postnet else None)
        for name in config.freeze:
            for parameter in getattr(self, name).parameters():
                parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> "Tacotron":
        """Frozen parts stay in eval mode (no dropout, fixed batch-norm statistics) while the rest trains."""
        super().train(mode)
        for name in self.config.freeze:
            getattr(self, name).eval()
        return self

    def encode(self, text: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        memory = self.encoder(self.embedding(text), lengths)
        pad_mask = torch.arange(text.shape[1], device=text.device)[None] >= lengths[:, None]
        return memory, pad_mask

    def forward_mel(self, memory, pad_mask, mel):
        """Teacher-forced mel: (mel before post-net, after, gate logits (B, T), alignments)."""
        features, alignments = self.mel_decoder.teacher_forced(mel, memory, pad_mask)
        before = self.mel_decoder.frames(features, mel.shape[1])
        after = self.mel_postnet(before) if self.mel_postnet is not None else before
        return before, after, self.gate(features).squeeze(2), alignments

    def forward_landmarks(self, memory, pad_mask, lips, mel=None):
        """Teacher-forced landmarks: (displacements (B, T, 60), alignments); `mel` (B, T, 80) when they hear it."""
        heard = {"lips": lips, "mel": mel, "none": torch.zeros_like(lips)}[self.config.landmark_input]
        features, alignments = self.landmark_decoder.teacher_forced(heard, memory, pad_mask)
        out = self.landmark_decoder.frames(features, lips.shape[1])
        if self.landmark_postnet is not None:
            out = self.landmark_postnet(out)
        return out, alignments

    @torch.no_grad()
    def infer(self, text: torch.Tensor, max_steps: int | None = None, attention_window: int = 0) -> dict:
        """Free-running, one utterance (N,) ids: mel (T, 80), lips (T, 60), alignments, and whether the gate stopped.

        attention_window > 0 lets each decoder attend only from its last attention peak to that many characters
        past it (an inference-time constraint, as in Deep Voice 3 and ESPnet): attention cannot jump back or
        skip ahead. 0 leaves attention free."""
        memory, pad_mask = self.encode(text[None], torch.tensor([text.shape[0]]))
        mel_memory = self.mel_decoder.attention.memory(memory)
        lip_memory = self.landmark_decoder.attention.memory(memory)
        mel_state = self.mel_decoder.initial_state(memory)
        lip_state = self.landmark_decoder.initial_state(memory)
        mel_frame = memory.new_zeros((1, self.config.n_mels))
        lip_frame = memory.new_zeros((1, self.landmark_decoder.input_size))
        mels, lips, mel_align, lip_align, stopped = [], [], [], [], False
        mel_peak = lip_peak = 0
        for _ in range(max_steps or self.config.max_decoder_steps):
            mel_mask = window_mask(pad_mask, mel_peak, attention_window)
            lip_mask = window_mask(pad_mask, lip_peak, attention_window)
            features, weights, mel_state = self.mel_decoder.step(mel_frame, mel_state, memory, mel_memory, mel_mask)
            mel_frames = self.mel_decoder.frames(features, self.config.frames_per_step)[0]
            lip_features, lip_weights, lip_state = self.landmark_decoder.step(lip_frame, lip_state, memory,
                                                                             lip_memory, lip_mask)
            mel_peak, lip_peak = int(weights.argmax()), int(lip_weights.argmax())
            lip_frames = self.landmark_decoder.frames(lip_features, self.config.frames_per_step)[0]
            mel_frame = mel_frames[-1:]
            lip_frame = {"lips": lip_frames[-1:], "mel": mel_frame, "none": torch.zeros_like(lip_frames[-1:])}[
                self.config.landmark_input]
            mels.append(mel_frames)
            lips.append(lip_frames)
            mel_align.append(weights)
            lip_align.append(lip_weights)
            if torch.sigmoid(self.gate(features)).item() > self.config.gate_threshold:
                stopped = True
                break
        mel = torch.cat(mels)[None]
        if self.mel_postnet is not None:
            mel = self.mel_postnet(mel)
        lip = torch.cat(lips)[None]
        if self.landmark_postnet is not None:
            lip = self.landmark_postnet(lip)
        return {"mel": mel[0], "lips": lip[0], "mel_alignments": torch.cat(mel_align),
                "lip_alignments": torch.cat(lip_align), "stopped": stopped}


def window_mask(pad_mask: torch.Tensor, peak: int, window: int) -> torch.Tensor:
    """pad_mask, also closed outside [peak, peak + window] when window > 0."""
    if window <= 0:
        return pad_mask
    position = torch.arange(pad_mask.shape[1], device=pad_mask.device)[None]
    return pad_mask | (position < peak) | (position > peak + window)


def frame_mask(lengths: torch.Tensor, total: int) -> torch.Tensor:
    return torch.arange(total, device=lengths.device)[None] < lengths[:, None]


def guided_attention_loss(alignments: torch.Tensor, text_lengths: torch.Tensor, frame_lengths: torch.Tensor,
                          sigma: float) -> torch.Tensor:
    """Mean of A * (1 - exp(-(n/N - t/T)^2 / 2 sigma^2)) over each utterance's valid (t, n)."""
    t = torch.arange(alignments.shape[1], device=alignments.device)[None, :, None] / frame_lengths[:, None, None]
    n = torch.arange(alignments.shape[2], device=alignments.device)[None, None, :] / text_lengths[:, None, None]
    penalty = 1 - torch.exp(-((n - t) ** 2) / (2 * sigma ** 2))
    valid = frame_mask(frame_lengths, alignments.shape[1])[:, :, None] & frame_mask(text_lengths, alignments.shape[2])[:, None]
    return (alignments * penalty * valid).sum() / valid.sum()


def tts_loss(model: Tacotron, batch: dict) -> tuple[torch.Tensor, dict]:
    memory, pad_mask = model.encode(batch["x"], batch["x_length"])
    mel, lengths = batch["mel"], batch["mel_length"]
    before, after, gate_logits, alignments = model.forward_mel(memory, pad_mask, mel)
    mask = frame_mask(lengths, mel.shape[1])
    frames = mask.sum()
    mse = (((before - mel) ** 2).mean(2) * mask).sum() / frames
    mse_after = (((after - mel) ** 2).mean(2) * mask).sum() / frames
    r = model.config.frames_per_step
    gate_target = (torch.arange(gate_logits.shape[1], device=mel.device)[None] * r + r
                   >= lengths[:, None]).float()
    gate = F.binary_cross_entropy_with_logits(gate_logits, gate_target)
    loss = mse + mse_after + gate
    metrics = {"mse": float(mse_after.detach()), "gate": float(gate.detach()), "frames": float(frames)}
    if model.config.guided_attention > 0 and model.training:  # a training aid: validation is the paper's loss
        guided = guided_attention_loss(alignments, batch["x_length"], step_lengths(lengths, r), model.config.guided_sigma)
        loss = loss + model.config.guided_attention * guided
        metrics["guided"] = float(guided.detach())
    return loss, metrics


def step_lengths(frame_lengths: torch.Tensor, frames_per_step: int) -> torch.Tensor:
    return torch.div(frame_lengths + frames_per_step - 1, frames_per_step, rounding_mode="floor")


def landmark_loss(model: Tacotron, batch: dict) -> tuple[torch.Tensor, dict]:
    """The paper's loss: SmoothL1 (beta 1) averaged over the whole zero-padded (B, T_max, 60) tensor."""
    memory, pad_mask = model.encode(batch["x"], batch["x_length"])
    lips, lengths = batch["lips"], batch["lips_length"]
    predicted, alignments = model.forward_landmarks(memory, pad_mask, lips, batch.get("mel"))
    mask = frame_mask(lengths, lips.shape[1])[:, :, None]
    predicted = predicted * mask
    loss = F.smooth_l1_loss(predicted, lips, beta=1.0)
    mse = ((predicted - lips) ** 2).sum() / (mask.sum() * LIP_VALUES)
    metrics = {"mse": float(mse.detach()), "frames": float(mask.sum())}
    if model.config.guided_attention > 0 and model.training:
        guided = guided_attention_loss(alignments, batch["x_length"],
                                       step_lengths(lengths, model.config.frames_per_step), model.config.guided_sigma)
        loss = loss + model.config.guided_attention * guided
        metrics["guided"] = float(guided.detach())
    return loss, metrics


def batch_loss(model, batch: dict) -> tuple[torch.Tensor, dict]:
    module = model.module if hasattr(model, "module") else model
    return (tts_loss if module.config.stage == "tts" else landmark_loss)(module, batch)


def prepare(module: Tacotron, dataset, sample_items: int = 64) -> None:
    """Start the mel projection at the data's mean log-mel (silence is about -11, so a zero start wastes the
    first hundreds of steps); displacements in mm start at zero, the neutral lips."""
    step = max(1, len(dataset) // sample_items)
    mels = [dataset[i]["mel"] for i in range(0, len(dataset), step)[:sample_items]]
    mean = torch.cat(mels).mean(0)
    with torch.no_grad():
        module.mel_decoder.projection.bias.copy_(mean.repeat(module.config.frames_per_step))


FAMILY = Family(name="tacotron", description="characters -> Tacotron 2 -> log-mel + 20 lip landmarks (80 fps)",
                config_class=TacotronConfig, dataset_view="tacotron", build=Tacotron, prepare=prepare,
                loss=batch_loss)
