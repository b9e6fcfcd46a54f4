"""Face features trained here: a small VGG-like network on 96 x 96 RGB face crops whose features give the
perceptual distance of training/perceptual.py (ImageNet VGG16 weights cannot be had offline).

Trunk: 4 stages of two 3 x 3 convolutions with batch norm and ReLU, channels 16, 32, 64, 96 times `width`,
a 2 x 2 max pool between stages (maps at 96, 48, 24, 12). Heads, trained jointly so that the features see
both who the face is and how the mouth is shaped: the last map averaged to 3 x 3, a hidden layer, then
(a) identity logits over the training identities and (b) the frame's 46 blendshape weights (sigmoid).

Loss: cross-entropy on the identity, for frames whose identity is one of the training identities (the
held-out identities of the val and test splits count for the weights only), plus `regression_weight`
times the weights' mean squared error. The "mse" metric is the weights' MSE.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..registry import Family

STAGES = (16, 32, 64, 96)
POOLED = 3  # the last map is averaged to POOLED x POOLED before the heads
HIDDEN = 128
WEIGHTS = 46
PIXEL_MEAN, PIXEL_SCALE = 0.5, 0.25  # inputs in [0, 1] -> about zero mean, unit spread
UNKNOWN_IDENTITY = -1
MEAN_FLOOR = 1e-3  # the weights head starts no nearer 0 or 1 than this


@dataclass(frozen=True)
class FaceFeaturesConfig:
    width: float = 1.0
    """multiplier on the stage channels 16, 32, 64, 96"""
    identities: tuple[str, ...] = ()
    """the training identities, in class order (set from the faces sets)"""
    regression_weight: float = 100.0
    """weight of the blendshape weights' MSE against the identity cross-entropy (a constant guess of the
    default corpus's weights has an MSE of about 0.002, the identity's cross-entropy starts near 3)"""

    def __post_init__(self) -> None:
        if self.width <= 0:
            raise ValueError(f"width must be positive, not {self.width}")
        object.__setattr__(self, "identities", tuple(str(i) for i in self.identities))

    @classmethod
    def from_dict(cls, data: dict) -> "FaceFeaturesConfig":
        return cls(**data)


def stage_channels(width: float) -> tuple[int, ...]:
    return tuple(max(4, int(round(c * width))) for c in STAGES)


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class FaceTrunk(nn.Module):
    """(N, 3, H, W) in [0, 1] -> each stage's map (before the pool that follows it)."""

    def __init__(self, width: float):
        super().__init__()
        stages, cin = [], 3
        for cout in stage_channels(width):
            stages.append(nn.Sequential(*conv_bn_relu(cin, cout), *conv_bn_relu(cout, cout)))
            cin = cout
        self.stages = nn.ModuleList(stages)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (images - PIXEL_MEAN) / PIXEL_SCALE
        maps = []
        for index, stage in enumerate(self.stages):
            if index:
                x = F.max_pool2d(x, 2)
            x = stage(x)
            maps.append(x)
        return maps


class FaceFeatures(nn.Module):
    def __init__(self, config: FaceFeaturesConfig):
        super().__init__()
        self.config = config
        self.trunk = FaceTrunk(config.width)
        top = stage_channels(config.width)[-1]
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(top * POOLED * POOLED, HIDDEN), nn.ReLU())
        self.identity_head = nn.Linear(HIDDEN, max(1, len(config.identities)))
        self.weights_head = nn.Linear(HIDDEN, WEIGHTS)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, 96, 96) -> (identity logits (N, identities), blendshape weights (N, 46) in [0, 1])."""
        top = F.adaptive_avg_pool2d(self.trunk(images)[-1], POOLED)
        hidden = self.embed(top)
        return self.identity_head(hidden), torch.sigmoid(self.weights_head(hidden))


def batch_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    module = getattr(model, "module", model)
    logits, weights = model(batch["face"])
    mse = F.mse_loss(weights.float(), batch["weights"].float())
    known = batch["identity"] != UNKNOWN_IDENTITY
    loss = module.config.regression_weight * mse
    metrics = {"mse": float(mse.detach()), "frames": float(len(weights)),
               "weights_mae": float((weights.detach() - batch["weights"]).abs().mean())}
    if bool(known.any()):
        cross_entropy = F.cross_entropy(logits[known].float(), batch["identity"][known])
        loss = loss + cross_entropy
        correct = (logits[known].argmax(1) == batch["identity"][known]).float().mean()
        metrics |= {"identity_ce": float(cross_entropy.detach()), "identity_accuracy": float(correct)}
    return loss, metrics


def prepare(model: FaceFeatures, dataset) -> None:
    """Start the weights head at the training frames' mean weights (most keys rest near 0 most of the time)."""
    mean = dataset.mean_weights().float().clamp(MEAN_FLOOR, 1 - MEAN_FLOOR)
    with torch.no_grad():
        model.weights_head.bias.copy_(torch.logit(mean))


FAMILY = Family(name="face-features", description="face features: a small VGG-like CNN on 96 x 96 faces, trained "
                                                  "on identity and blendshape weights; the perceptual distance's net",
                config_class=FaceFeaturesConfig, dataset_view="face-frames", build=FaceFeatures, prepare=prepare,
                loss=batch_loss)
