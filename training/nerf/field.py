"""The conditioned radiance field of the talking head (models-spec §3.2) and the renderer around it.

A point x inside the head's box (scaled to [0, 1]^3) is encoded by the tri-plane f(x). Each frame has a
condition: the landmark code c_lm (the 68 landmarks, each encoded by a second tri-plane, 68 x D -> linear
-> condition_dim), plus the audio as a residual W a (a: the frame's audio feature, normalised by the
training set's mean and spread), and a blink embedding e (a linear map of the blink value in [0, 1]).
The density MLP takes [f(x) | c_lm + W a | e] and gives sigma and geometry features; the colour MLP takes
[geometry | view direction] and gives RGB. Densities are per unit of the box's longest side, so training
behaves the same whatever the scene's units. The switches `use_landmarks`, `use_blink` and `use_audio`
zero a condition for the ablation rows (landmarks off and audio on is the ER-NeRF-style audio-only row).
"""
from __future__ import annotations

import torch
from torch import nn

from .hashgrid import TriPlane
from .render import Composite, composite, image_rays, ray_box, sample_depths

N_LANDMARKS = 68
MAX_LOG_DENSITY = 15.0  # the truncated exponential's ceiling (exp(15) per box length is fully opaque)


def mlp(inputs: int, hidden: int, layers: int, outputs: int) -> nn.Sequential:
    """`layers` linear layers with ReLU between them."""
    parts: list[nn.Module] = []
    width = inputs
    for _ in range(layers - 1):
        parts += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    parts.append(nn.Linear(width, outputs))
    return nn.Sequential(*parts)


class TalkingField(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = self.config = config
        grid = (c.levels, c.features, c.log2_table, c.base_resolution, c.finest_resolution)
        self.grid = TriPlane(*grid)
        self.landmark_grid = TriPlane(*grid)
        encoding = self.grid.output_dim
        self.landmark_code = nn.Linear(N_LANDMARKS * encoding, c.condition_dim)
        self.audio_residual = nn.Linear(c.audio_dim, c.condition_dim, bias=False)
        self.blink_embedding = nn.Linear(1, c.blink_dim)
        self.sigma_net = mlp(encoding + c.condition_dim + c.blink_dim, c.hidden, c.sigma_layers, 1 + c.geometry_dim)
        self.colour_net = mlp(c.geometry_dim + 3, c.hidden, c.colour_layers, 3)

    @property
    def condition_width(self) -> int:
        return self.config.condition_dim + self.config.blink_dim

    def conditions(self, landmarks: torch.Tensor, blink: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(F, 68, 3) landmarks in box units [0, 1], (F,) blink, (F, A) normalised audio -> (F, condition_width)."""
        c = self.config
        code = torch.zeros(len(blink), c.condition_dim, dtype=blink.dtype, device=blink.device)
        if c.use_landmarks:
            code = code + self.landmark_code(self.landmark_grid(landmarks).flatten(1))
        if c.use_audio:
            code = code + self.audio_residual(audio)
        eye = self.blink_embedding(blink[:, None])
        if not c.use_blink:
            eye = torch.zeros_like(eye)
        return torch.cat([code, eye], dim=-1)

    def forward(self, points: torch.Tensor, directions: torch.Tensor,
                conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(R, S, 3) points in box units, (R, 3) unit directions, (R, C) conditions -> sigma (R, S), rgb (R, S, 3)."""
        samples = points.shape[1]
        per_point = conditions[:, None].expand(-1, samples, -1)
        raw = self.sigma_net(torch.cat([self.grid(points), per_point], dim=-1))
        sigma = torch.exp(raw[..., 0].clamp(max=MAX_LOG_DENSITY))
        view = directions[:, None].expand(-1, samples, -1)
        rgb = torch.sigmoid(self.colour_net(torch.cat([raw[..., 1:], view], dim=-1)))
        return sigma, rgb


class TalkingHead(nn.Module):
    """The field plus the scene: the head's box, the background colour, the audio features' statistics."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.field = TalkingField(config)
        self.register_buffer("box_min", torch.tensor(config.box_min, dtype=torch.float32))
        self.register_buffer("box_max", torch.tensor(config.box_max, dtype=torch.float32))
        self.register_buffer("background", torch.tensor(config.background, dtype=torch.float32))
        self.register_buffer("audio_mean", torch.zeros(config.audio_dim))
        self.register_buffer("audio_std", torch.ones(config.audio_dim))

    def to_box_units(self, points: torch.Tensor) -> torch.Tensor:
        return (points - self.box_min) / (self.box_max - self.box_min)

    def frame_conditions(self, landmarks: torch.Tensor, blink: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Per-frame conditions from world-space landmarks (F, 68, 3), blinks (F,) and raw audio features (F, A)."""
        audio = (audio - self.audio_mean) / self.audio_std
        return self.field.conditions(self.to_box_units(landmarks), blink, audio)

    def render(self, origins: torch.Tensor, directions: torch.Tensor, conditions: torch.Tensor,
               jitter: bool = False) -> Composite:
        """Composite (R,) rays in world space with their (R, C) conditions; rays that miss the box (and
        the space outside it) have zero density, so they show the background."""
        near, far, hit = ray_box(origins, directions, self.box_min, self.box_max)
        depths, deltas = sample_depths(near, far, self.config.samples, jitter)
        points = origins[:, None] + depths[..., None] * directions[:, None]
        sigma, rgb = self.field(self.to_box_units(points), directions, conditions)
        sigma = sigma * hit[:, None]
        scale = (self.box_max - self.box_min).max()
        return composite(sigma, rgb, depths, deltas / scale, self.background)

    def forward(self, origins: torch.Tensor, directions: torch.Tensor, landmarks: torch.Tensor, blink: torch.Tensor,
                audio: torch.Tensor, slot: torch.Tensor) -> Composite:
        """A training batch: (R,) rays, F frames' conditions, and each ray's frame slot (R,) in 0..F-1;
        samples are jittered in training mode."""
        conditions = self.frame_conditions(landmarks, blink, audio)[slot]
        return self.render(origins, directions, conditions, jitter=self.training)

    @torch.no_grad()
    def render_image(self, intrinsics: torch.Tensor, camera_to_world: torch.Tensor, height: int, width: int,
                     condition: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """One frame's (H, W, 3) image from its camera and (C,) condition, `chunk` rays at a time."""
        origins, directions = image_rays(intrinsics, camera_to_world, height, width)
        parts = [self.render(o, d, condition.expand(len(o), -1)).rgb
                 for o, d in zip(origins.split(chunk), directions.split(chunk))]
        return torch.cat(parts).reshape(height, width, 3)
