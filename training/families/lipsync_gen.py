"""The lip-sync generator (models-spec §2.1-2.2): redraws the lower face of 96 x 96 crops to match the audio.

Per frame: an identity encoder on the frame with its lower half zeroed, and a reference encoder (the same
layout) on each of the K references, both 96 -> 1 x 1 with their maps kept for skips (stem 7 x 7 -> 16@96,
stages 32@48, 64@24, 128@12, 256@6, 512@3, 512@1, residual blocks 2, 2, 2, 2, 1, 1); an audio encoder on
the frame's mel window (1 x 80 x 16 plus 2 CoordConv channels; strides (3, 1), (3, 3), (3, 2); 7 residual
blocks) -> 512. The references are pooled by audio attention, w_k = softmax_k(sign * sigmoid(a . r_k)),
maps included; sign = -1 is the coursework's formula as written (the most weight on the least
audio-similar reference), +1 the opposite; with attention off, their mean. The decoder upsamples
(bilinear + conv) from the 3 x 512 embedding, concatenating identity and reference maps at every size but
96 (skips there let the network copy the reference); "audio skips" map the embedding onto each size. An
RGB head and a mask head (sigmoid); the output is blended into the original frame (lipsync_losses.blend).

Losses: masked L1, a perceptual term, the frozen expert's -log d on the 5 blended lower halves, the mask
BCE, and in stage 2 the discriminator's non-saturating loss (its own step: lipsync_losses.critic_losses).
Channel counts are the coursework's times `width` (small config: 0.25).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..perceptual import FaceFeatureDistance
from ..registry import Family
from . import lipsync_losses as losses
from .sync_expert import SyncExpert, SyncExpertConfig

ENCODER = (16, 32, 64, 128, 256, 512, 512)  # channels at 96, 48, 24, 12, 6, 3, 1
ENCODER_BLOCKS = (2, 2, 2, 2, 1, 1)
DECODER = (512, 512, 256, 128, 64, 32)  # channels at 3, 6, 12, 24, 48, 96
SIZES = (1, 3, 6, 12, 24, 48, 96)
AUDIO = ((32, 1, 2), (64, (3, 1), 2), (128, 3, 2), (256, (3, 2), 1))  # (channels, stride, residual blocks)
CRITIC = (64, 128, 256, 512)
EXPERT_FLOOR = 1e-3
PERCEPTUAL = ("lap_pyramid", "vgg16", "features")
GENERATOR_PARTS = ("identity", "reference", "audio", "decoder", "audio_skips", "rgb_head", "mask_head", "expert",
                   "vgg16")  # the face features are always read from their own file


@dataclass(frozen=True)
class LipsyncGenConfig:
    width: float = 0.25
    """multiplier on the coursework's channel counts (1.0: the paper's G, about 36 M parameters)"""
    references: int = 10
    resnet: bool = True
    """residual connections in the encoder and decoder blocks (off: plain Conv-BN-ReLU blocks)"""
    attention: bool = True
    attention_sign: int = -1
    audio_skips: bool = True
    mask: bool = True
    """a mask head and blur blending (off: the RGB head's frame is the output)"""
    gan: bool = False
    perceptual: str = "lap_pyramid"
    vgg16_weights: str = ""
    features_model: str = ""
    """a trained face-features model (path without suffix) for perceptual "features" (training/perceptual.py)"""
    features_width: float = 1.0
    expert: str = ""
    """the frozen lip-sync expert's checkpoint (path without suffix); its weights are copied into this model"""
    expert_width: float = 0.25
    expert_embedding: int = 128
    l1_weight: float = 1.0
    perceptual_weight: float = 0.5
    expert_weight: float = 0.01
    mask_weight: float = 1.0
    adv_weight: float = 0.0
    r1_gamma: float = 10.0
    r1_on: str = "reals"

    def __post_init__(self) -> None:
        if self.attention_sign not in (-1, 1):
            raise ValueError(f"attention_sign must be -1 or 1, not {self.attention_sign}")
        if self.perceptual not in PERCEPTUAL:
            raise ValueError(f"perceptual must be one of {', '.join(PERCEPTUAL)}, not {self.perceptual!r}")
        if self.perceptual == "vgg16" and not self.vgg16_weights:
            raise ValueError("perceptual 'vgg16' needs a local VGG16 weights file (nothing is downloaded)")
        if self.perceptual == "features" and not self.features_model:
            raise ValueError("perceptual 'features' needs a trained face-features model (--features-model)")
        if self.r1_on not in ("reals", "fakes"):
            raise ValueError(f"r1_on must be 'reals' or 'fakes', not {self.r1_on!r}")
        if self.references < 1 or self.width <= 0:
            raise ValueError("references and width must be positive")

    @classmethod
    def from_dict(cls, data: dict) -> "LipsyncGenConfig":
        return cls(**data)

    def channels(self, count: int) -> int:
        return max(4, int(round(count * self.width)))


class ConvBlock(nn.Module):
    """Conv-BN-ReLU; `residual` adds the input before the ReLU (Wav2Lip's Conv2d)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride=1, padding: int = 1, residual: bool = False):
        super().__init__()
        self.residual = residual
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.norm(self.conv(x))
        return F.relu(out + x if self.residual else out)


def blocks(channels: int, count: int, resnet: bool) -> list[nn.Module]:
    return [ConvBlock(channels, channels, residual=resnet) for _ in range(count)]


class FaceEncoder(nn.Module):
    """(N, 3, 96, 96) -> feature maps at 96, 48, 24, 12, 6, 3 and 1."""

    def __init__(self, config: LipsyncGenConfig):
        super().__init__()
        ch = [config.channels(c) for c in ENCODER]
        stages = [nn.Sequential(ConvBlock(3, ch[0], 7, 1, 3))]
        for i, count in enumerate(ENCODER_BLOCKS[:5]):
            stages.append(nn.Sequential(ConvBlock(ch[i], ch[i + 1], 3, 2, 1), *blocks(ch[i + 1], count, config.resnet)))
        stages.append(nn.Sequential(ConvBlock(ch[5], ch[6], 3, 1, 0), *blocks(ch[6], ENCODER_BLOCKS[5], config.resnet)))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps


class AudioEncoder(nn.Module):
    """(N, 1, 80, 16) -> (N, C): mel plus 2 CoordConv channels, strided residual blocks."""

    def __init__(self, config: LipsyncGenConfig):
        super().__init__()
        layers, cin = [], 3
        for count, stride, residual in AUDIO:
            cout = config.channels(count)
            layers += [ConvBlock(cin, cout, 3, stride, 1), *blocks(cout, residual, config.resnet)]
            cin = cout
        top = config.channels(ENCODER[-1])
        layers += [ConvBlock(cin, top, 3, 1, 0), ConvBlock(top, top, 1, 1, 0)]
        self.layers = nn.Sequential(*layers)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        n, _, height, width = mel.shape
        ys = torch.linspace(-1, 1, height, device=mel.device, dtype=mel.dtype).view(1, 1, height, 1)
        xs = torch.linspace(-1, 1, width, device=mel.device, dtype=mel.dtype).view(1, 1, 1, width)
        coords = torch.cat([ys.expand(n, 1, height, width), xs.expand(n, 1, height, width)], dim=1)
        return self.layers(torch.cat([mel, coords], dim=1)).flatten(1)


def attention_weights(audio: torch.Tensor, refs: torch.Tensor, sign: int) -> torch.Tensor:
    """(B, T, C) audio and (B, K, C) reference embeddings -> (B, T, K) weights, softmax of sign * sigmoid(a . r)."""
    return torch.softmax(sign * torch.sigmoid(torch.einsum("btc,bkc->btk", audio, refs)), dim=-1)


class LipsyncGenerator(nn.Module):
    def __init__(self, config: LipsyncGenConfig):
        super().__init__()
        self.config = config
        enc = [config.channels(c) for c in ENCODER]
        dec = [config.channels(c) for c in DECODER]
        top = enc[-1]
        self.identity, self.reference, self.audio = FaceEncoder(config), FaceEncoder(config), AudioEncoder(config)
        decoder, cin = [], 3 * top
        for level, cout in enumerate(dec):  # level 0 draws 3 x 3, level 5 draws 96 x 96
            decoder.append(nn.Sequential(ConvBlock(cin, cout), *blocks(cout, 1, config.resnet)))
            skip = 2 * enc[5 - level] if level < 5 else 0
            cin = cout + skip
        self.decoder = nn.ModuleList(decoder)
        self.audio_skips = nn.ModuleList([nn.Conv2d(3 * top, c, 1) for c in dec]) if config.audio_skips else None
        self.rgb_head = nn.Sequential(ConvBlock(dec[-1], dec[-1]), nn.Conv2d(dec[-1], 3, 1))
        self.mask_head = nn.Sequential(ConvBlock(dec[-1], dec[-1]), nn.Conv2d(dec[-1], 1, 1)) if config.mask else None
        self.expert = SyncExpert(SyncExpertConfig(config.expert_width, config.expert_embedding)).requires_grad_(False)
        self.vgg16 = losses.VGG16Features() if config.perceptual == "vgg16" else None
        self.features = FaceFeatureDistance(config.features_width) if config.perceptual == "features" else None
        self.critic = losses.Critic(3 * 5, tuple(config.channels(c) for c in CRITIC)) if config.gan else None

    def train(self, mode: bool = True):
        super().train(mode)
        for frozen in (self.expert, self.vgg16, self.features):
            if frozen is not None:
                frozen.eval()
        return self

    def pooled_references(self, refs: torch.Tensor, audio: torch.Tensor) -> list[torch.Tensor]:
        """Reference maps for each of the N = B x T frames: attention-weighted (or mean) over the K refs."""
        batch, k = refs.shape[:2]
        maps = [m.view(batch, k, *m.shape[1:]) for m in self.reference(refs.flatten(0, 1))]
        frames = audio.shape[0] // batch
        if not self.config.attention:
            return [m.mean(dim=1).repeat_interleave(frames, dim=0) for m in maps]
        weights = attention_weights(audio.view(batch, frames, -1), maps[-1].flatten(2), self.config.attention_sign)
        return [torch.einsum("btk,bk...->bt...", weights, m).flatten(0, 1) for m in maps]

    def forward(self, masked: torch.Tensor, refs: torch.Tensor, mels: torch.Tensor):
        """masked (N, 3, 96, 96), refs (B, K, 3, 96, 96), mels (N, 1, 80, 16), N = B x T ->
        (rgb (N, 3, 96, 96), mask (N, 1, 96, 96) or None)."""
        identity = self.identity(masked)
        audio = self.audio(mels)
        reference = self.pooled_references(refs, audio)
        embedding = torch.cat([identity[-1], reference[-1], audio[..., None, None]], dim=1)
        x = embedding
        for level, block in enumerate(self.decoder):
            x = block(F.interpolate(x, size=SIZES[level + 1], mode="bilinear", align_corners=False))
            if self.audio_skips is not None:
                x = x + self.audio_skips[level](embedding)
            if level < 5:
                x = torch.cat([x, identity[5 - level], reference[5 - level]], dim=1)
        rgb = torch.sigmoid(self.rgb_head(x))
        mask = torch.sigmoid(self.mask_head(x)) if self.mask_head is not None else None
        return rgb, mask


def mask_lower_half(frames: torch.Tensor) -> torch.Tensor:
    masked = frames.clone()
    masked[..., frames.shape[-2] // 2:, :] = 0.0
    return masked


def lower_halves(frames: torch.Tensor, batch: int) -> torch.Tensor:
    """(B x 5, 3, 96, 96) -> (B, 15, 48, 96), frame-major channels: the expert's and the critic's input."""
    lower = frames[..., frames.shape[-2] // 2:, :]
    return lower.reshape(batch, -1, *lower.shape[-2:])


def generate(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """(blended output, predicted mask or None, targets), each (B x 5, C, 96, 96)."""
    targets = batch["frames"].flatten(0, 1)
    rgb, mask = model(mask_lower_half(targets), batch["refs"], batch["mels"].flatten(0, 1))
    output = losses.blend(rgb, mask, targets) if mask is not None else rgb
    return output, mask, targets


def perceptual_term(module: LipsyncGenerator, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if module.vgg16 is not None:
        return module.vgg16.distance(output, targets)
    if module.features is not None:
        return module.features(output, targets)
    return losses.lap_pyramid_l1(output, targets)


def batch_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted loss of a batch; in training it leaves the critic's reals and fakes in `batch`."""
    module = getattr(model, "module", model)
    config = module.config
    output, mask, targets = generate(model, batch)
    size = batch["frames"].shape[0]
    region = batch["mask"].float().repeat_interleave(batch["frames"].shape[1], dim=0)
    output, targets = output.float(), targets.float()
    l1 = (region * (output - targets).abs()).sum() / (3 * region.sum()).clamp_min(1.0)
    mse = (region * (output - targets) ** 2).sum() / (3 * region.sum()).clamp_min(1.0)
    perceptual = perceptual_term(module, output, targets)
    d = module.expert(lower_halves(output, size), batch["mel"]).float()
    expert = -torch.log(d.clamp(EXPERT_FLOOR, 1.0)).mean()
    mask_bce = F.binary_cross_entropy(mask.float(), region) if mask is not None else output.new_zeros(())
    loss = (config.l1_weight * l1 + config.perceptual_weight * perceptual + config.expert_weight * expert
            + config.mask_weight * mask_bce)
    metrics = {"mse": float(mse.detach()), "l1": float(l1.detach()), "perceptual": float(perceptual.detach()),
               "expert": float(expert.detach()), "mask_bce": float(mask_bce.detach()), "frames": float(len(output))}
    if module.critic is not None and module.training:
        fakes = lower_halves(output, size)
        adversarial = losses.generator_adversarial(module.critic, fakes)
        loss = loss + config.adv_weight * adversarial
        metrics["g_adv"] = float(adversarial.detach())
        batch["critic_fakes"], batch["critic_reals"] = fakes.detach(), lower_halves(targets, size)
    return loss, metrics


def critic_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    module = getattr(model, "module", model)
    config = module.config
    return losses.critic_losses(module.critic, batch["critic_reals"], batch["critic_fakes"], config.r1_gamma,
                                config.r1_on)


def load_expert(module: LipsyncGenerator, stem: str) -> None:
    """Copy a trained sync-expert checkpoint into the frozen expert (one clear error when it does not fit)."""
    from backend import checkpoints

    saved = checkpoints.load(stem, family="sync-expert")
    try:
        module.expert.load_state_dict({k: torch.from_numpy(v) for k, v in saved.tensors.items()})
    except RuntimeError as err:
        raise ValueError(f"{stem}: this expert does not fit width {module.config.expert_width}, embedding "
                         f"{module.config.expert_embedding} ({str(err).splitlines()[0]})") from None


def prepare(module: LipsyncGenerator, dataset) -> None:
    """Load the frozen expert (and VGG16 or the face features when asked) from their files; nothing is
    measured from the data."""
    if module.config.expert:
        load_expert(module, module.config.expert)
    elif module.config.expert_weight > 0:
        raise ValueError("the expert loss needs a trained lip-sync expert (--expert)")
    if module.vgg16 is not None:
        module.vgg16.load_weights(module.config.vgg16_weights)
    if module.features is not None:
        module.features.load_checkpoint(module.config.features_model)


FAMILY = Family(name="lipsync-gen", description="lip-sync generator: identity + KMeans references with audio "
                                                "attention + audio -> lower face, mask and blur blending; GAN stage",
                config_class=LipsyncGenConfig, dataset_view="lipsync-windows", build=LipsyncGenerator,
                prepare=prepare, loss=batch_loss, critic="critic", critic_loss=critic_loss)
