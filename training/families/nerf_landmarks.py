"""The landmark side of the NeRF talking head with blink embedding (models-spec §3): speech -> 68 landmarks
and blinks.

- Audio: DeepSpeech 0.1.0 is not available offline, so each frame gets a [16 x 80] window of the project's
  own 50 Hz log-mels (hop 320, FFT 640) in the layout of the paper's [16 x 29] DeepSpeech windows.
- AudioNet (ER-NeRF): strided convolutions along the window -> a 32-d feature per frame, then the
  AudioAttNet smoother: a softmax over 8 neighbouring frames' features.
- A VAE over the smoothed features (MLP -> mu, log variance, 16-d; reconstruction + beta KL, beta 0.5).
- The Dynamic Landmark Transformer: an encoder (sinusoidal positions, 32-frame windows) over
  [z | smoothed audio | blink code] -> 68 x 3 offsets (mm) from the identity's neutral landmarks;
  L_pos is the sum of the landmarks' Euclidean distances (reported per landmark, in mm).
- The blink model: a GRU over the smoothed audio (gradient stopped) and the time since the last blink,
  trained with BCE on blink onsets; at inference its chances are sampled into blinks that give both the
  transformer's blink code and the EyeBlink channels. Training feeds the transformer the true blinks.

The defaults are the small config (2 layers, d_model 128, FFN 256). The paper-size config, for a GPU:
`--layers 4 --d-model 256 --ffn 1024 --batch-size 64 --steps 40000 --device cuda`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from backend.runtime.nerf_landmarks import N_LANDMARKS, SINCE_BLINK_CAP_S, sinusoidal_positions

from ..registry import Family

LEAK = 0.02
LOGVAR_LIMIT = 8.0  # keeps exp(logvar) in the KL term from overflowing early in training


@dataclass(frozen=True)
class NerfLandmarksConfig:
    fps: float = 25.0
    """output frames per second (the paper's video rate)"""
    mel_fps: float = 50.0
    n_fft: int = 640
    n_mels: int = 80
    window: int = 16
    """mel frames per output frame's window"""
    audio_channels: tuple[int, ...] = (32, 32, 64, 64)
    """AudioNet's convolutions (kernel 3, stride 2), each halving the window"""
    audio_dim: int = 32
    smooth_frames: int = 8
    attention_channels: tuple[int, ...] = (16, 8, 4, 2, 1)
    latent: int = 16
    vae_hidden: int = 64
    beta: float = 0.5
    vae_weight: float = 0.1
    blink_code: int = 8
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    ffn: int = 256
    dropout: float = 0.1
    window_frames: int = 32
    blink_hidden: int = 32
    blink_weight: float = 1.0
    blink_duration_s: tuple[float, float] = (0.10, 0.40)
    """lengths of the blinks drawn at inference (the corpus's range)"""
    blink_bias: float = 0.0
    """added to the blink-start logit at inference; calibrated after training so that the drawn blinks
    match the training labels' rate (training/blink_calibration.py)"""

    def __post_init__(self) -> None:
        if self.window != 2 ** len(self.audio_channels):
            raise ValueError(f"window must be 2 ** len(audio_channels) = {2 ** len(self.audio_channels)}")
        if self.d_model % self.heads or self.d_model % 2:
            raise ValueError("d_model must be even and divisible by heads")
        if self.attention_channels[-1] != 1:
            raise ValueError("the attention convolutions must end with 1 channel")

    @classmethod
    def from_dict(cls, data: dict) -> "NerfLandmarksConfig":
        data = dict(data)
        for key in ("audio_channels", "attention_channels", "blink_duration_s"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def conv_stack(channels: tuple[int, ...], in_channels: int, stride: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [nn.Conv1d(in_channels, out_channels, 3, stride, 1), nn.LeakyReLU(LEAK)]
        in_channels = out_channels
    return nn.Sequential(*layers)


class NerfLandmarks(nn.Module):
    def __init__(self, config: NerfLandmarksConfig):
        super().__init__()
        self.config = c = config
        self.register_buffer("mel_mean", torch.zeros(c.n_mels))
        self.register_buffer("mel_std", torch.ones(c.n_mels))
        top = c.audio_channels[-1]
        self.audio_convs = conv_stack(c.audio_channels, c.n_mels, 2)
        self.audio_fc = nn.Sequential(nn.Linear(top, top), nn.LeakyReLU(LEAK), nn.Linear(top, c.audio_dim))
        self.attention_convs = conv_stack(c.attention_channels, c.audio_dim, 1)
        self.attention_fc = nn.Linear(c.smooth_frames, c.smooth_frames)
        self.vae_encoder = nn.Sequential(nn.Linear(c.audio_dim, c.vae_hidden), nn.ReLU())
        self.vae_mu = nn.Linear(c.vae_hidden, c.latent)
        self.vae_logvar = nn.Linear(c.vae_hidden, c.latent)
        self.vae_decoder = nn.Sequential(nn.Linear(c.latent, c.vae_hidden), nn.ReLU(),
                                         nn.Linear(c.vae_hidden, c.audio_dim))
        self.blink_code = nn.Linear(1, c.blink_code)
        self.input = nn.Linear(c.latent + c.audio_dim + c.blink_code, c.d_model)
        layer = nn.TransformerEncoderLayer(c.d_model, c.heads, c.ffn, c.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.head = nn.Linear(c.d_model, N_LANDMARKS * 3)
        self.blink_gru = nn.GRU(c.audio_dim + 1, c.blink_hidden, batch_first=True)
        self.blink_head = nn.Linear(c.blink_hidden, 1)
        self.register_buffer("positions", torch.from_numpy(sinusoidal_positions(c.window_frames, c.d_model)),
                             persistent=False)

    def audio_features(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, T, window, n_mels) -> (B, T, audio_dim)."""
        batch, frames = windows.shape[:2]
        x = ((windows - self.mel_mean) / self.mel_std).reshape(batch * frames, *windows.shape[2:]).transpose(1, 2)
        x = self.audio_convs(x).reshape(batch * frames, -1)
        return self.audio_fc(x).reshape(batch, frames, -1)

    def smooth(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """AudioAttNet over frames t-4 .. t+3, each utterance's own edge frames repeated."""
        n, frames = self.config.smooth_frames, features.shape[1]
        index = torch.arange(frames, device=features.device)[:, None] + torch.arange(n, device=features.device) - n // 2
        index = torch.minimum(index.clamp_min(0)[None], (lengths - 1).clamp_min(0)[:, None, None])  # (B, T, n)
        neighbours = torch.stack([features[b][index[b]] for b in range(len(features))])  # (B, T, n, C)
        x = neighbours.reshape(-1, n, features.shape[2]).transpose(1, 2)
        scores = torch.softmax(self.attention_fc(self.attention_convs(x)[:, 0]), dim=-1)
        return (scores.reshape(*neighbours.shape[:3], 1) * neighbours).sum(dim=2)

    def vae(self, smoothed: torch.Tensor):
        hidden = self.vae_encoder(smoothed)
        mu, logvar = self.vae_mu(hidden), self.vae_logvar(hidden).clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return z, mu, logvar, self.vae_decoder(z)

    def landmark_offsets(self, z, smoothed, blink, padding=None) -> torch.Tensor:
        """(B, W, ...) inputs of one window -> (B, W, 68, 3) offsets in mm."""
        code = self.blink_code(blink[..., None])
        x = self.input(torch.cat([z, smoothed, code], dim=-1)) + self.positions[: z.shape[1]]
        x = self.encoder(x, src_key_padding_mask=padding)
        return self.head(x).reshape(*x.shape[:2], N_LANDMARKS, 3)

    def blink_logits(self, smoothed: torch.Tensor, since_s: torch.Tensor) -> torch.Tensor:
        since = since_s.clamp_max(SINCE_BLINK_CAP_S)[..., None] / SINCE_BLINK_CAP_S
        hidden, _ = self.blink_gru(torch.cat([smoothed.detach(), since], dim=-1))
        return self.blink_head(hidden)[..., 0]


def frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    return (torch.arange(frames, device=lengths.device)[None] < lengths[:, None]).float()


def window_starts(model: NerfLandmarks, lengths: torch.Tensor) -> torch.Tensor:
    """Training: a random window per utterance (the step's seeded generator); evaluation: the middle one."""
    spare = (lengths - model.config.window_frames).clamp_min(0)
    if model.training:
        return torch.floor(torch.rand(len(lengths), device=lengths.device) * (spare + 1).float()).long()
    return spare // 2


def take_window(values: torch.Tensor, starts: torch.Tensor, size: int) -> torch.Tensor:
    index = (starts[:, None] + torch.arange(size, device=starts.device)).clamp_max(values.shape[1] - 1)
    return torch.stack([values[b, index[b]] for b in range(len(values))])


def batch_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    module = getattr(model, "module", model)
    c = module.config
    lengths, frames = batch["x_length"], batch["x"].shape[1]
    mask = frame_mask(lengths, frames)
    smoothed = module.smooth(module.audio_features(batch["x"]), lengths)
    z, mu, logvar, reconstruction = module.vae(smoothed)
    per_frame = mask.sum().clamp_min(1.0)
    recon = (((reconstruction - smoothed.detach()) ** 2).sum(-1) * mask).sum() / per_frame
    kl = ((-0.5 * (1 + logvar - mu ** 2 - logvar.exp())).sum(-1) * mask).sum() / per_frame
    size = min(c.window_frames, frames)
    starts = window_starts(module, lengths)
    window_mask = take_window(mask[..., None], starts, size)[..., 0] * (
        torch.arange(size, device=lengths.device)[None] < (lengths - starts)[:, None]).float()
    predicted = module.landmark_offsets(take_window(z, starts, size), take_window(smoothed, starts, size),
                                        take_window(batch["blink"], starts, size), window_mask < 0.5)
    target = take_window(batch["offsets"], starts, size)
    in_window = window_mask.sum().clamp_min(1.0)
    error = predicted - target
    distance = torch.sqrt((error ** 2).sum(-1) + 1e-12).sum(-1)  # L_pos per frame: sum over the 68 landmarks
    l_pos = (distance * window_mask).sum() / in_window
    mse = ((error ** 2).mean((-1, -2)) * window_mask).sum() / in_window
    logits = module.blink_logits(smoothed, batch["since_blink"])
    bce = (F.binary_cross_entropy_with_logits(logits, batch["onset"], reduction="none") * mask).sum() / per_frame
    loss = l_pos / N_LANDMARKS + c.vae_weight * (recon + c.beta * kl) + c.blink_weight * bce
    metrics = {"lpos_mm": float(l_pos.detach()) / N_LANDMARKS, "mse": float(mse.detach()),
               "recon": float(recon.detach()), "kl": float(kl.detach()), "blink_bce": float(bce.detach()),
               "frames": float(in_window)}
    return loss, metrics


def prepare(model: NerfLandmarks, dataset, max_items: int = 200) -> None:
    """Mel normalisation from up to `max_items` training utterances; the landmark head starts at the mean
    offsets and the blink head at the mean chance of an onset."""
    windows, offsets, onsets = [], [], []
    step = max(1, len(dataset) // max_items)
    for index in range(0, len(dataset), step)[:max_items]:
        item = dataset[index]
        windows.append(item["x"].reshape(-1, item["x"].shape[-1]))
        offsets.append(item["offsets"].reshape(len(item["offsets"]), -1))
        onsets.append(item["onset"])
    mels, targets = torch.cat(windows), torch.cat(offsets)
    onset_rate = torch.cat(onsets).mean().clamp(1e-4, 0.5)
    with torch.no_grad():
        model.mel_mean.copy_(mels.mean(0))
        model.mel_std.copy_(mels.std(0).clamp_min(1e-3))
        model.head.bias.copy_(targets.mean(0))
        model.blink_head.bias.fill_(float(torch.log(onset_rate / (1 - onset_rate))))


FAMILY = Family(name="nerf-landmarks", description="log-mel windows -> AudioAttNet -> VAE -> landmark transformer "
                                                  "-> 68 landmarks, plus a GRU blink model",
                config_class=NerfLandmarksConfig, dataset_view="nerf_landmarks", build=NerfLandmarks, prepare=prepare,
                loss=batch_loss)
