"""The lip-sync expert (models-spec §2.2): Wav2Lip's SyncNet_color, judging whether 5 frames of a lower face
match their 80 x 16 mel window.

A face encoder on (B, 15, 48, 96) (the lower halves of 5 RGB frames in [0, 1], frame-major channels) and an
audio encoder on (B, 1, 80, 16) (backend/wav2lip_mel.py), each a stack of convolution + batch norm + ReLU
layers ending in a 1 x 1 map, give non-negative embeddings that are L2-normalised; their cosine similarity
d is in [0, 1] and is trained with BCE against in-sync (1) versus shifted (0) pairs. The layer list is in
backend/runtime/sync_expert.py, shared with the numpy runtime.

The defaults are the small config (width 0.5: every Wav2Lip channel count halved, about 4 M parameters);
PAPER_SIZE is Wav2Lip's (about 16 M).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from backend.runtime.sync_expert import NORM_EPS, ConvSpec, SyncExpertSpec, audio_specs, face_specs

from ..registry import Family

PAPER_SIZE = {"width": 1.0, "embedding": 512}
D_FLOOR = 1e-7  # keeps log(d) and log(1 - d) finite in the BCE


@dataclass(frozen=True)
class SyncExpertConfig:
    width: float = 0.5
    """multiplier on Wav2Lip's channel counts (1.0: the paper's expert)"""
    embedding: int = 128
    """length of both embeddings (the paper's: 512)"""

    def __post_init__(self) -> None:
        SyncExpertSpec.from_config({"width": self.width, "embedding": self.embedding})

    @classmethod
    def from_dict(cls, data: dict) -> "SyncExpertConfig":
        return cls(**data)


class ConvBlock(nn.Module):
    def __init__(self, spec: ConvSpec):
        super().__init__()
        self.residual = spec.residual
        self.conv = nn.Conv2d(spec.in_channels, spec.out_channels, spec.kernel, spec.stride, spec.padding)
        self.norm = nn.BatchNorm2d(spec.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.norm(self.conv(x))
        return F.relu(out + x if self.residual else out)


class SyncExpert(nn.Module):
    def __init__(self, config: SyncExpertConfig):
        super().__init__()
        self.config = config
        spec = SyncExpertSpec(width=config.width, embedding=config.embedding)
        self.face_encoder = nn.Sequential(*[ConvBlock(s) for s in face_specs(spec)])
        self.audio_encoder = nn.Sequential(*[ConvBlock(s) for s in audio_specs(spec)])

    def embed_faces(self, faces: torch.Tensor) -> torch.Tensor:
        """(B, 15, 48, 96) -> (B, D) unit vectors."""
        return F.normalize(self.face_encoder(faces).flatten(1), dim=1, eps=NORM_EPS)

    def embed_audio(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, 1, 80, 16) -> (B, D) unit vectors."""
        return F.normalize(self.audio_encoder(mel).flatten(1), dim=1, eps=NORM_EPS)

    def forward(self, faces: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """The in-sync chance d in [0, 1] of each pair."""
        return (self.embed_faces(faces) * self.embed_audio(mel)).sum(1).clamp(0.0, 1.0)


def sync_bce(d: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Mean BCE of in-sync chances against 0/1 labels, in float32 (safe under autocast)."""
    d = d.float().clamp(D_FLOOR, 1.0 - D_FLOOR)
    label = label.float()
    return -(label * torch.log(d) + (1.0 - label) * torch.log1p(-d)).mean()


def batch_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    if "pair_mask" in batch:
        return grouped_loss(model, batch)
    d = model(batch["faces"], batch["mel"])
    loss = sync_bce(d, batch["label"])
    accuracy = ((d > 0.5).float() == batch["label"].float()).float().mean()
    return loss, {"mse": float(loss.detach()), "bce": float(loss.detach()), "accuracy": float(accuracy),
                  "frames": float(len(d))}


def grouped_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Groups of G windows of one clip (training/faces_dataset.py GroupedFacesDataset): every faces-audio
    pair of a group is scored; in-sync pairs and shifted pairs weigh half each, as in the single pairs."""
    groups, size = batch["pair_mask"].shape[:2]
    faces = model.embed_faces(batch["faces"].flatten(0, 1)).view(groups, size, -1)
    audio = model.embed_audio(batch["mel"].flatten(0, 1)).view(groups, size, -1)
    d = torch.einsum("gie,gje->gij", faces, audio).float().clamp(D_FLOOR, 1.0 - D_FLOOR)
    mask = batch["pair_mask"].float()
    eye = torch.eye(size, device=d.device).expand_as(d)
    positive, negative = mask * eye, mask * (1.0 - eye)
    loss = -0.5 * ((positive * torch.log(d)).sum() / positive.sum().clamp(min=1.0)
                   + (negative * torch.log1p(-d)).sum() / negative.sum().clamp(min=1.0))
    right = (positive * (d > 0.5) + negative * (d <= 0.5)).sum() / (positive.sum() + negative.sum())
    return loss, {"mse": float(loss.detach()), "bce": float(loss.detach()), "accuracy": float(right),
                  "frames": float(positive.sum())}


def prepare(model: SyncExpert, dataset) -> None:
    """Nothing to measure: the inputs come normalised (pixels in [0, 1], mels in [-4, 4])."""


FAMILY = Family(name="sync-expert", description="lip-sync expert (Wav2Lip SyncNet_color): 5 lower-face frames "
                                                "and an 80 x 16 mel window -> cosine in-sync chance",
                config_class=SyncExpertConfig, dataset_view="faces-windows", build=SyncExpert, prepare=prepare,
                loss=batch_loss)
