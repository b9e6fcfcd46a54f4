"""The CNN+GRU family (Pham, Wang & Pavlovic, ICMI 2018): spectrogram windows -> 46 blendshape weights.

Each video frame's 128 x 32 log-power window (backend.features) goes through convolutions along
frequency (kernel 3, stride 2), then along time (kernel 3, stride 2), then a recurrent layer over the
frames (GRU; LSTM as a variant; a 1024-unit fully connected layer for the "static" baseline), then
46 sigmoid outputs. The recurrent layer runs forward only and each window ends at its frame's time,
so the model is causal and can stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from backend.features import window_steps

from ..registry import Family

VARIANTS = ("gru", "lstm", "static")


@dataclass(frozen=True)
class CnnGruConfig:
    variant: str = "gru"
    """gru | lstm | static (a fully connected layer in place of the recurrent one)"""
    fps: float = 30.0
    """video frames per second: one spectrogram window and one output row per frame"""
    n_bins: int = 128
    n_steps: int = 32
    n_outputs: int = 46
    freq_channels: tuple[int, ...] = (8, 16, 32, 32, 32)
    """one convolution along frequency per entry, each halving the 128 bins"""
    time_channels: tuple[int, ...] = (32, 64, 64, 64)
    """then one convolution along time per entry, each halving the 32 steps"""
    hidden: int = 256
    """recurrent units (gru, lstm)"""
    static_hidden: int = 1024
    """fully connected units of the static variant, as in the paper"""
    dropout: float = 0.1
    delay_frames: int = 0
    """frame t's weights come out with frame t + delay_frames's window: a fixed lookahead that lets the
    model hear a sound before the mouth must anticipate it (streaming latency delay_frames / fps)"""
    gap_weight: float = 0.0
    """weight of the lip-gap loss: the inner-lip gap (landmarks 62-66 on the default head, a linear
    function of the weights) against the label's, so that closures are learned as closures, not averages"""
    closure_boost: float = 4.0
    """the lip-gap loss counts frames whose label lips close inside speech (gap under CLOSED_GAP_M with
    the lips open within SPEECH_WINDOW_S either side: P, B, M, not pauses) 1 + this many times"""

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.n_bins % 2 ** len(self.freq_channels) or self.n_steps % 2 ** len(self.time_channels):
            raise ValueError("each strided convolution halves its axis: sizes must divide evenly")

    @classmethod
    def from_dict(cls, data: dict) -> "CnnGruConfig":
        data = dict(data)
        for key in ("freq_channels", "time_channels"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    @property
    def feature_size(self) -> int:
        return (self.time_channels[-1] * (self.n_bins >> len(self.freq_channels))
                * (self.n_steps >> len(self.time_channels)))


@lru_cache(maxsize=64)
def _shared_columns(frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    steps = window_steps(frames, fps)
    relative = steps - steps[0, 0]
    unique, first = np.unique(relative.ravel(), return_index=True)
    if not np.array_equal(unique, np.arange(unique.size)):
        raise ValueError("windows must cover contiguous STFT frames")
    return first // steps.shape[1], first % steps.shape[1], relative


def shared_columns(frames: int, fps: float, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For the STFT frames that T windows cover: the earliest (frame, step) holding each, and each
    window's (T, steps) indices into them."""
    return tuple(torch.from_numpy(a).to(device) for a in _shared_columns(frames, float(fps)))


def conv_stack(channels: tuple[int, ...], in_channels: int, along_frequency: bool) -> nn.Sequential:
    kernel, stride, padding = ((3, 1), (2, 1), (1, 0)) if along_frequency else ((1, 3), (1, 2), (0, 1))
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [nn.Conv2d(in_channels, out_channels, kernel, stride, padding), nn.ReLU()]
        in_channels = out_channels
    return nn.Sequential(*layers)


class CnnGru(nn.Module):
    """Input (B, T, 1, 128, 32) windows; output (B, T, 46) weights in [0, 1]."""

    def __init__(self, config: CnnGruConfig):
        super().__init__()
        self.config = config
        self.freq_convs = conv_stack(config.freq_channels, 1, along_frequency=True)
        self.time_convs = conv_stack(config.time_channels, config.freq_channels[-1], along_frequency=False)
        self.dropout = nn.Dropout(config.dropout)
        if config.variant == "gru":
            self.temporal = nn.GRU(config.feature_size, config.hidden, batch_first=True)
        elif config.variant == "lstm":
            self.temporal = nn.LSTM(config.feature_size, config.hidden, batch_first=True)
        else:
            self.temporal = nn.Sequential(nn.Linear(config.feature_size, config.static_hidden), nn.ReLU())
        head_in = config.static_hidden if config.variant == "static" else config.hidden
        self.head = nn.Linear(head_in, config.n_outputs)
        # Normalisation statistics, set from the training data before training (see `fit_statistics`).
        self.register_buffer("input_mean", torch.zeros(config.n_bins))
        self.register_buffer("input_std", torch.ones(config.n_bins))
        self.register_buffer("target_std", torch.ones(config.n_outputs))

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, T, 1, bins, steps) -> (B, T, feature_size), each frame on its own.

        The windows must come from backend.features at `config.fps`, starting at frame 0: the
        convolutions along frequency see one STFT frame at a time, so they run once per STFT frame
        the windows share (about 7x less work at 30 fps), then each window gathers its 32.
        """
        batch, frames = windows.shape[:2]
        owner_frame, owner_step, window_columns = shared_columns(frames, self.config.fps, windows.device)
        columns = windows[:, :, 0].transpose(2, 3)[:, owner_frame, owner_step]  # (B, J, bins)
        columns = (columns - self.input_mean) / self.input_std
        per_column = self.freq_convs(columns.reshape(-1, 1, self.config.n_bins, 1))  # (B*J, C, H, 1)
        per_column = per_column.reshape(batch, -1, *per_column.shape[1:3])  # (B, J, C, H)
        x = per_column[:, window_columns]  # (B, T, steps, C, H)
        x = x.permute(0, 1, 3, 4, 2).reshape(batch * frames, *x.shape[3:], self.config.n_steps)
        x = self.time_convs(x)
        return self.dropout(x.reshape(batch, frames, -1))

    def forward(self, windows: torch.Tensor, state=None):
        """Returns (weights (B, T, 46), recurrent state to continue a stream from)."""
        features = self.encode(windows)
        if self.config.variant == "static":
            hidden, state = self.temporal(features), None
        else:
            hidden, state = self.temporal(features, state)
        return torch.sigmoid(self.head(self.dropout(hidden))), state


def fit_statistics(model: CnnGru, windows: torch.Tensor, targets: torch.Tensor, min_target_std: float = 0.02) -> None:
    """Set the input normalisation from (N, 1, bins, steps) windows, and from (N, 46) targets the loss
    scale and the output bias (the model starts by predicting the mean pose)."""
    with torch.no_grad():
        per_bin = windows.transpose(0, 2).reshape(model.config.n_bins, -1)
        model.input_mean.copy_(per_bin.mean(dim=1))
        model.input_std.copy_(per_bin.std(dim=1).clamp_min(1e-3))
        model.target_std.copy_(targets.std(dim=0).clamp_min(min_target_std))
        mean = targets.mean(dim=0).clamp(1e-3, 1 - 1e-3)
        model.head.bias.copy_(torch.log(mean / (1 - mean)))  # start from the mean pose


GAP_SCALE_M = 0.01  # the lip-gap error is measured in centimetres
CLOSED_GAP_M = 0.002  # about 15% of the default head's widest inner-lip gap: DESIGN §5's "closed"
OPEN_GAP_M = 0.004
SPEECH_WINDOW_S = 0.17


@lru_cache(maxsize=1)
def _gap_basis() -> tuple[float, np.ndarray]:
    """(gap at rest, gap change per unit weight [46]) of the default head's inner lips, in metres."""
    from backend import headmodel
    from backend.rig import FACEWAREHOUSE_46

    head = headmodel.load()
    top, bottom = headmodel.INNER_LIP_TOP, headmodel.INNER_LIP_BOTTOM
    column = {name: i for i, name in enumerate(head.channels)}
    per_channel = head.deltas[:, top, 2] - head.deltas[:, bottom, 2]
    basis = np.array([per_channel[column[name]] if name in column else 0.0 for name in FACEWAREHOUSE_46])
    return float(head.neutral[top, 2] - head.neutral[bottom, 2]), basis.astype(np.float32)


def lip_gap(weights: torch.Tensor) -> torch.Tensor:
    """(B, T) inner-lip gap in metres of (B, T, 46) weights on the default head (as headmodel.inner_lip_gap)."""
    rest, basis = _gap_basis()
    return torch.relu(rest + weights @ torch.from_numpy(basis).to(weights.device, weights.dtype))


def speech_closures(gap: torch.Tensor, fps: float) -> torch.Tensor:
    """(B, T) 1 where the lips are closed with open lips nearby (a closure inside speech), else 0."""
    reach = max(1, int(round(SPEECH_WINDOW_S * fps)))
    nearby_open = torch.nn.functional.max_pool1d(gap[:, None], 2 * reach + 1, stride=1, padding=reach)[:, 0]
    return ((gap < CLOSED_GAP_M) & (nearby_open > OPEN_GAP_M)).to(gap.dtype)


def gap_loss(predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, closure_boost: float,
             fps: float) -> torch.Tensor:
    target_gap = lip_gap(target)
    error = (lip_gap(predicted) - target_gap) / GAP_SCALE_M
    weight = mask * (1.0 + closure_boost * speech_closures(target_gap, fps))
    return (weight * error ** 2).sum() / mask.sum().clamp_min(1.0)


def masked_loss(model: CnnGru, predicted: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor,
                l1_weight: float = 0.1) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's loss: L2 scaled by each channel's training standard deviation, plus l1_weight x L1."""
    mask = (torch.arange(predicted.shape[1], device=lengths.device)[None, :] < lengths[:, None]).to(predicted.dtype)
    count = mask.sum().clamp_min(1.0) * predicted.shape[2]
    error = predicted - target
    mask = mask[:, :, None]
    l2 = ((error / model.target_std) ** 2 * mask).sum() / count
    l1 = (error.abs() * mask).sum() / count
    mse = ((error ** 2) * mask).sum() / count
    metrics = {"l2_scaled": float(l2.detach()), "l1": float(l1.detach()), "mse": float(mse.detach()),
               "frames": float(mask.sum())}
    loss = l2 + l1_weight * l1
    if model.config.gap_weight:
        gap = gap_loss(predicted, target, mask[:, :, 0], model.config.closure_boost, model.config.fps)
        metrics["gap"] = float(gap.detach())
        loss = loss + model.config.gap_weight * gap
    return loss, metrics


def prepare(model: CnnGru, dataset, max_items: int = 200, frames_per_item: int = 64) -> None:
    """Normalisation statistics from up to `max_items` training utterances (evenly spaced frames)."""
    windows, targets = [], []
    step = max(1, len(dataset) // max_items)
    for index in range(0, len(dataset), step)[:max_items]:
        item = dataset[index]
        take = torch.linspace(0, item["x"].shape[0] - 1, min(frames_per_item, item["x"].shape[0])).long()
        windows.append(item["x"][take])
        targets.append(item["y"][take])
    fit_statistics(model, torch.cat(windows), torch.cat(targets))


def batch_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    predicted, _ = model(batch["x"])
    module = getattr(model, "module", model)  # DistributedDataParallel wraps the model
    delay = module.config.delay_frames
    target, lengths = batch["y"], batch["y_length"]
    if delay:
        predicted, target, lengths = predicted[:, delay:], target[:, :-delay], (lengths - delay).clamp_min(0)
    return masked_loss(module, predicted, target, lengths)


FAMILY = Family(name="cnn-gru", description="spectrogram windows -> CNN -> GRU | LSTM | FC -> 46 weights",
                config_class=CnnGruConfig, dataset_view="spectrogram", build=CnnGru, prepare=prepare,
                loss=batch_loss)
