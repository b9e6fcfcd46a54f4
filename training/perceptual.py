"""A perceptual distance over face features trained here (`mouthpiece-train face-features`), LPIPS-style.

Both images (N, 3, H, W) in [0, 1] go through the frozen trunk of a face-features model; at each of the
tapped stages (TAPS: the maps at 1/2, 1/4 and 1/8 of the size) every position's feature vector is scaled
to unit length over the channels, and the squared difference of the two images' unit vectors is summed
over channels and averaged over positions; the taps' values are summed. The distance is 0 for identical
images, symmetric, and at most 4 per tap. It stands in for LPIPS / VGG16 distances, whose ImageNet weights
are not available offline.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from .families.face_features import FaceTrunk

FAMILY = "face-features"
TAPS = (1, 2, 3)  # trunk stages compared
NORM_EPS = 1e-10
TRUNK_PREFIX = "trunk."


def unit_channels(maps: torch.Tensor) -> torch.Tensor:
    """Each position's channel vector scaled to unit length (zero vectors stay near zero)."""
    return maps * torch.rsqrt((maps * maps).sum(dim=1, keepdim=True) + NORM_EPS)


class FaceFeatureDistance(nn.Module):
    """The distance of the module docstring; `per_image` gives (N,), calling the module their mean."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.width = float(width)
        self.trunk = FaceTrunk(self.width)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # the trunk's batch norm keeps its trained statistics

    @classmethod
    def from_checkpoint(cls, stem: str | os.PathLike) -> "FaceFeatureDistance":
        """The frozen distance of a trained face-features model (path without suffix)."""
        from backend import checkpoints

        width = float(checkpoints.read_record(checkpoints.stem_of(stem)).get("config", {}).get("model", {})
                      .get("width", 1.0))
        distance = cls(width)
        distance.load_checkpoint(stem)
        return distance

    def load_checkpoint(self, stem: str | os.PathLike) -> None:
        """Copy a face-features checkpoint's trunk in; one error naming the file when it does not fit."""
        from backend import checkpoints

        stem = checkpoints.stem_of(stem)
        saved = checkpoints.load(stem, family=FAMILY)
        state = {name[len(TRUNK_PREFIX):]: torch.from_numpy(value) for name, value in saved.tensors.items()
                 if name.startswith(TRUNK_PREFIX)}
        try:
            self.trunk.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{checkpoints.paths(stem)[0]}: its face features do not fit width {self.width} "
                             f"({str(err).splitlines()[0]})") from None

    def per_image(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(N,) distances between the images x and y, each (N, 3, H, W) in [0, 1]."""
        both = self.trunk(torch.cat([x, y]))
        total = x.new_zeros(len(x))
        for tap in TAPS:
            a, b = unit_channels(both[tap]).chunk(2)
            total = total + (a - b).pow(2).sum(dim=1).mean(dim=(1, 2))
        return total

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.per_image(x, y).mean()
