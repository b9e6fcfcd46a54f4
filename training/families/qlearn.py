"""The Q-learning lips family (Nevárez Porras et al.): a DQN that moves lips from 300 ms of raw audio.

The Q-network is the paper's CNN on the raw 4800-sample window that ends at the current frame: four
pairs of 1-D convolutions (16, 32, 32, 256 channels; kernels 9, 3, 3, 3), each pair followed by max
pooling (16, 4, 4, then global) and 10% dropout, then two fully connected layers giving the 16
Q-values of backend.lip_actions. With `observe_lips` (the paper's proposed future work) the agent's own
three lip measures join the audio features before the fully connected layers; without it the agent
hears only audio, as in the paper, and cannot know which way its lips must move.

The module holds the online network, the target network (a copy refreshed every `target_every`
environment steps; a submodule, so checkpoints carry it) and the environment's lip geometry, so an
exported checkpoint is all inference needs. Training runs through the shared trainer with the
replay source in training/qlearn_source.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from backend.lip_actions import N_ACTIONS

from ..registry import Family

WINDOW = 4800  # 300 ms at 16 kHz
N_LIP_LANDMARKS = 20  # iBUG 48-67


@dataclass(frozen=True)
class QLearnConfig:
    observe_lips: bool = True
    """join the agent's own lip measures to the audio features (the paper's future work)"""
    fps: float = 30.0
    window: int = WINDOW
    channels: tuple[int, ...] = (16, 32, 32, 256)
    """channels of each pair of convolutions"""
    kernels: tuple[int, ...] = (9, 3, 3, 3)
    pools: tuple[int, ...] = (16, 4, 4, 0)
    """max pooling after each pair; 0 is a global max over time"""
    fc_hidden: int = 64
    dropout: float = 0.1
    step_small: float = 1.5
    """pixels a small action moves a lip measure (512-pixel image)"""
    step_large: float = 5.0
    gamma: float = 0.9
    reward_scale: float = 0.01
    """rewards (px^2) are multiplied by this for learning; reports use the raw reward"""
    loss: str = "huber"
    """huber | mse (the TD error's penalty)"""
    replay_size: int = 50_000
    update_every: int = 4
    """environment steps per optimizer step"""
    learn_start: int = 2_000
    """environment steps taken before learning begins (the replay memory's warm-up)"""
    target_every: int = 1_000
    """environment steps between copies of the online network into the target network"""
    act_with: str = "target"
    """target | online: which network chooses the actions (the paper acts with the delayed copy)"""
    epsilon_start: float = 1.0
    epsilon_end: float = 0.01
    epsilon_decay_steps: int = 15_000
    """environment steps over which epsilon falls linearly from start to end (the paper: 1e-4 throughout)"""
    episode_steps: int = 10_000
    """environment steps per episode (the paper's 33 episodes of about 30,300 steps)"""

    def __post_init__(self) -> None:
        if not (len(self.channels) == len(self.kernels) == len(self.pools)):
            raise ValueError("channels, kernels and pools need one entry per pair of convolutions")
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"loss must be huber or mse, not {self.loss!r}")
        if self.act_with not in ("target", "online"):
            raise ValueError(f"act_with must be target or online, not {self.act_with!r}")
        length = self.window
        for kernel, pool in zip(self.kernels, self.pools):
            length -= 2 * (kernel - 1)
            if length < 1:
                raise ValueError(f"a {self.window}-sample window is too short for these convolutions")
            length = 1 if pool == 0 else length // pool

    @classmethod
    def from_dict(cls, data: dict) -> "QLearnConfig":
        data = dict(data)
        for key in ("channels", "kernels", "pools"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def conv_pair(in_channels: int, out_channels: int, kernel: int, pool: int, dropout: float) -> nn.Sequential:
    pooling = nn.AdaptiveMaxPool1d(1) if pool == 0 else nn.MaxPool1d(pool)
    return nn.Sequential(nn.Conv1d(in_channels, out_channels, kernel), nn.ReLU(),
                         nn.Conv1d(out_channels, out_channels, kernel), nn.ReLU(), pooling, nn.Dropout(dropout))


class QNetwork(nn.Module):
    """(B, window) audio [, (B, 3) normalised lip measures] -> (B, 16) Q-values."""

    def __init__(self, config: QLearnConfig):
        super().__init__()
        pairs, in_channels = [], 1
        for out_channels, kernel, pool in zip(config.channels, config.kernels, config.pools):
            pairs.append(conv_pair(in_channels, out_channels, kernel, pool, config.dropout))
            in_channels = out_channels
        self.convs = nn.Sequential(*pairs)
        self.observe_lips = config.observe_lips
        features = config.channels[-1] * self._pooled_length(config) + (3 if config.observe_lips else 0)
        self.fc = nn.Sequential(nn.Linear(features, config.fc_hidden), nn.ReLU(),
                                nn.Linear(config.fc_hidden, N_ACTIONS))

    @staticmethod
    def _pooled_length(config: QLearnConfig) -> int:
        length = config.window
        for kernel, pool in zip(config.kernels, config.pools):
            length = 1 if pool == 0 else (length - 2 * (kernel - 1)) // pool
        return length

    def audio_features(self, windows: torch.Tensor) -> torch.Tensor:
        return self.convs(windows[:, None]).flatten(1)

    def head(self, features: torch.Tensor, lips: torch.Tensor | None) -> torch.Tensor:
        if self.observe_lips:
            features = torch.cat([features, lips], dim=1)
        return self.fc(features)

    def forward(self, windows: torch.Tensor, lips: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.audio_features(windows), lips)


class QAgent(nn.Module):
    """The online and target networks, plus the lip geometry the environment and inference share."""

    def __init__(self, config: QLearnConfig):
        super().__init__()
        self.config = config
        self.online = QNetwork(config)
        self.target = QNetwork(config)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        for name, size in (("lip_neutral", 3), ("lip_low", 3), ("lip_high", 3), ("lip_mean", 3)):
            self.register_buffer(name, torch.zeros(size))
        self.register_buffer("lip_std", torch.ones(3))
        self.register_buffer("lip_map", torch.zeros(N_LIP_LANDMARKS * 3, 3))
        """metres of lip-landmark displacement (iBUG 48-67, x y z) per pixel of (u, l, c) change"""

    def normalise_lips(self, lips: torch.Tensor) -> torch.Tensor:
        return (lips - self.lip_mean) / self.lip_std

    def forward(self, windows: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
        return self.online(windows, self.normalise_lips(lips))

    def target_values(self, windows: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
        return self.target(windows, self.normalise_lips(lips))

    def acting_network(self) -> QNetwork:
        return self.target if self.config.act_with == "target" else self.online

    def sync_target(self) -> None:
        self.target.load_state_dict(self.online.state_dict())


def prepare(agent: QAgent, environment) -> None:
    """Lip geometry and normalisation from the training environment; the target starts as the online copy."""
    space, measures = environment.space, environment.all_measures()
    with torch.no_grad():
        agent.lip_neutral.copy_(torch.from_numpy(space.neutral))
        agent.lip_low.copy_(torch.from_numpy(space.low))
        agent.lip_high.copy_(torch.from_numpy(space.high))
        agent.lip_mean.copy_(torch.from_numpy(measures.mean(axis=0)))
        agent.lip_std.copy_(torch.from_numpy(measures.std(axis=0).clip(min=1e-3)))
        agent.lip_map.copy_(torch.from_numpy(environment.fit_lip_map()))
    agent.sync_target()


def td_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """One-step Q-learning: Q(s, a) against r + gamma max_a' Q_target(s', a')."""
    agent = getattr(model, "module", model)
    config = agent.config
    q = model(batch["windows"], batch["lips"]).gather(1, batch["actions"][:, None])[:, 0]
    with torch.no_grad():
        best_next = agent.target_values(batch["next_windows"], batch["next_lips"]).max(dim=1).values
        target = batch["rewards"] * config.reward_scale + config.gamma * best_next
    error = q - target
    loss = nn.functional.smooth_l1_loss(q, target) if config.loss == "huber" else (error ** 2).mean()
    return loss, {"mse": float((error.detach() ** 2).mean()), "q": float(q.detach().mean()),
                  "frames": float(q.shape[0])}


def make_source(agent: QAgent, config: QLearnConfig, train_config, environment, validation, run_dir, is_main):
    from ..qlearn_source import ReplaySource

    return ReplaySource(agent, config, train_config, environment, validation, run_dir, is_main)


FAMILY = Family(name="qlearn", description="raw 300 ms audio -> CNN -> 16 Q-values of lip actions (DQN)",
                config_class=QLearnConfig, dataset_view="raw-stream", build=QAgent, prepare=prepare,
                loss=td_loss, source=make_source)
