"""The lip-sync generator's blending, perceptual terms and quality discriminator (models-spec §2.1-2.2).

- `blend`: X^ = blur(sg(M)) X^ + (1 - blur(sg(M))) X, a Gaussian of k = 5, sigma = 3.
- Perceptual terms: VGG16 ImageNet features cannot be had offline, so the default is `lap_pyramid`, the L1
  distance of Laplacian pyramids (4 band-pass levels and the low-pass rest), which needs no trained
  features and grows as detail is lost. `vgg16` takes torchvision-layout VGG16 weights
  (`features.N.weight`) from a local file and compares relu3_3 and relu4_3 as ||phi(X) - phi(X^)||^2 / CHW.
  `features` is the LPIPS-style distance over face features trained here (training/perceptual.py).
- `Critic`: the multi-frame discriminator on the lower halves of 5 frames (B, 15, 48, 96): 4 x 4
  stride-2 convolutions 15 -> 64 -> 128 -> 256 -> 512 (times the width), LeakyReLU, spectral norm on
  every layer, a logit per window; non-saturating losses, R1 (gamma 10) on reals or, as the coursework's
  eq. (14) writes, on fakes; DiffAug-style augmentation (a random shift, brightness and contrast, and an
  erosion half of the time) applied alike to reals and fakes.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

BLEND_KERNEL, BLEND_SIGMA = 5, 3.0
PYRAMID_LEVELS = 4
VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)  # up to relu4_3
VGG16_TAPS = (15, 22)  # relu3_3, relu4_3 in torchvision's `features` numbering
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SHIFT_FRACTION = 8  # DiffAug translation: up to 1/8 of the size


def gaussian_blur(x: torch.Tensor, kernel: int, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), edges repeated."""
    taps = torch.arange(kernel, dtype=x.dtype, device=x.device) - (kernel - 1) / 2
    weights = torch.exp(-taps ** 2 / (2 * sigma ** 2))
    weights = weights / weights.sum()
    channels = x.shape[1]
    x = F.pad(x, [kernel // 2] * 4, mode="replicate")
    x = F.conv2d(x, weights.view(1, 1, 1, -1).expand(channels, 1, 1, kernel), groups=channels)
    return F.conv2d(x, weights.view(1, 1, -1, 1).expand(channels, 1, kernel, 1), groups=channels)


def blend(generated: torch.Tensor, mask: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """The generated face where the blurred, stopped-gradient mask is on, the original elsewhere."""
    weight = gaussian_blur(mask.detach(), BLEND_KERNEL, BLEND_SIGMA)
    return weight * generated + (1 - weight) * original


def laplacian_pyramid(x: torch.Tensor, levels: int = PYRAMID_LEVELS) -> list[torch.Tensor]:
    bands = []
    for _ in range(levels):
        low = gaussian_blur(x, 5, 1.0)
        bands.append(x - low)
        x = F.avg_pool2d(low, 2)
    return bands + [x]


def lap_pyramid_l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sum over pyramid levels of the mean absolute difference (0 for identical images)."""
    return sum((a - b).abs().mean() for a, b in zip(laplacian_pyramid(x), laplacian_pyramid(y)))


class VGG16Features(nn.Module):
    """VGG16's convolutions up to relu4_3, in torchvision's layout, frozen."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG16_LAYERS:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def load_weights(self, path: str | Path) -> None:
        """Weights from a local .safetensors or torch-saved state dict (read without unpickling objects)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{path}: no such VGG16 weights file")
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        wanted = self.features.state_dict()
        missing = [f"features.{key}" for key in wanted if f"features.{key}" not in state]
        if missing:
            raise ValueError(f"{path}: lacks {missing[0]}; expected torchvision's VGG16 layout")
        self.features.load_state_dict({key: state[f"features.{key}"] for key in wanted})

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total, x, y = 0.0, (x - self.mean) / self.std, (y - self.mean) / self.std
        for index, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if index in VGG16_TAPS:
                total = total + F.mse_loss(x, y)
            if index >= VGG16_TAPS[-1]:
                break
        return total


def erode(x: torch.Tensor) -> torch.Tensor:
    return -F.max_pool2d(-x, 3, 1, 1)


def diff_augment(x: torch.Tensor) -> torch.Tensor:
    """One random shift, light change and (half the time) erosion for the whole batch, differentiable."""
    height, width = x.shape[-2:]
    dy, dx = (int(v) for v in torch.randint(-(height // SHIFT_FRACTION), height // SHIFT_FRACTION + 1, (2,)))
    pad = max(abs(dy), abs(dx))
    if pad:
        x = F.pad(x, [pad] * 4, mode="replicate")[..., pad + dy:pad + dy + height, pad + dx:pad + dx + width]
    gain, lift, contrast = 1 + 0.2 * (torch.rand(3, device=x.device) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean * gain + (lift - 1)
    if torch.rand(()) < 0.5:
        x = erode(x)
    return x


class Critic(nn.Module):
    def __init__(self, in_channels: int, channels: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        for width in channels:
            layers += [spectral_norm(nn.Conv2d(in_channels, width, 4, 2, 1)), nn.LeakyReLU(0.2)]
            in_channels = width
        layers.append(spectral_norm(nn.Conv2d(in_channels, 1, 3, 1, 1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 15, 48, 96) -> (B,) logits: real (positive) versus generated."""
        return self.layers(x).mean(dim=(1, 2, 3))


def generator_adversarial(critic: Critic, fakes: torch.Tensor) -> torch.Tensor:
    return F.softplus(-critic(diff_augment(fakes))).mean()


def r1_penalty(critic: Critic, images: torch.Tensor, gamma: float) -> torch.Tensor:
    images = images.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(images).sum(), images, create_graph=True)
    return gamma / 2 * grad.pow(2).sum(dim=(1, 2, 3)).mean()


def critic_losses(critic: Critic, reals: torch.Tensor, fakes: torch.Tensor, gamma: float,
                  r1_on: str = "reals") -> tuple[torch.Tensor, dict[str, float]]:
    """Non-saturating discriminator loss plus R1 on `r1_on` ("reals" or "fakes")."""
    real_logits, fake_logits = critic(diff_augment(reals)), critic(diff_augment(fakes.detach()))
    adversarial = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    penalty = r1_penalty(critic, reals if r1_on == "reals" else fakes, gamma) if gamma > 0 else adversarial * 0
    return adversarial + penalty, {"d_loss": float(adversarial.detach()), "r1": float(penalty.detach()),
                                   "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
                                   "d_fake": float(torch.sigmoid(fake_logits.detach()).mean())}
