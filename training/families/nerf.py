"""The NeRF talking head's renderer (models-spec §3): a tri-plane hash-grid radiance field conditioned on
68 landmarks, a blink value and the audio, trained on one person's frames with a photometric MSE.

The model is training/nerf/field.py (TalkingHead), its encoding training/nerf/hashgrid.py, its rays and
compositing training/nerf/render.py; batches of random rays come from training/nerf/source.py through the
family's `source`. Everything is pure PyTorch: no CUDA extensions, uniform samples in the head's box in
place of ER-NeRF's occupancy-grid ray marching.

The defaults are the small config for a 2-core CPU (spec §3.2): 6 levels 16 -> 128, 2 features a level,
2^14 entries a table, 24 samples a ray, 1024 rays a step. PAPER_SIZE is ER-NeRF's (12 levels 64 -> 512,
1 feature, 2^14; the 512^2 frames and 65,536 rays a step are set by the data and the batch size).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from ..registry import Family

PAPER_SIZE = {"levels": 12, "features": 1, "log2_table": 14, "base_resolution": 64, "finest_resolution": 512,
              "hidden": 64, "geometry_dim": 64, "condition_dim": 64, "samples": 32}


@dataclass(frozen=True)
class NerfConfig:
    levels: int = 6
    """hash-grid levels per plane"""
    features: int = 2
    """features per level"""
    log2_table: int = 14
    """entries per level's table, as a power of two (levels with fewer vertices are dense)"""
    base_resolution: int = 16
    finest_resolution: int = 128
    hidden: int = 64
    sigma_layers: int = 3
    colour_layers: int = 2
    geometry_dim: int = 64
    condition_dim: int = 64
    """width of the landmark code, to which the audio residual is added"""
    blink_dim: int = 4
    audio_dim: int = 32
    """length of each frame's audio feature (set from the frame folder)"""
    samples: int = 24
    """stratified samples per ray inside the head's box"""
    frames_per_step: int = 8
    """frames each step's rays are drawn from"""
    box_min: tuple[float, float, float] = (-1.0, -1.0, -1.0)
    box_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    use_landmarks: bool = True
    use_blink: bool = True
    use_audio: bool = True
    patch: int = 0
    """the fine stage: each step also renders a patch this many pixels square around the mouth (0: off)"""
    patch_frames: int = 2
    """frames per step that give a mouth patch"""
    perceptual_weight: float = 0.0
    """weight of the feature distance between rendered and true mouth patches"""
    features_model: str = ""
    """the face-features checkpoint (path without suffix) whose frozen features measure the patches"""

    def __post_init__(self) -> None:
        if self.samples < 1 or self.frames_per_step < 1:
            raise ValueError("samples and frames_per_step must be at least 1")
        if self.sigma_layers < 1 or self.colour_layers < 1:
            raise ValueError("each MLP needs at least one layer")
        if not all(lo < hi for lo, hi in zip(self.box_min, self.box_max)):
            raise ValueError("box_min must be below box_max on every axis")
        if self.patch < 0 or self.patch_frames < 1:
            raise ValueError("patch must be 0 or more and patch_frames at least 1")
        if self.perceptual_weight > 0 and not (self.patch and self.features_model):
            raise ValueError("a perceptual weight needs a mouth patch (--patch) and a face-features model")

    @classmethod
    def from_dict(cls, data: dict) -> "NerfConfig":
        data = dict(data)
        for key in ("box_min", "box_max", "background"):
            if key in data:
                data[key] = tuple(float(v) for v in data[key])
        return cls(**data)


@functools.lru_cache(maxsize=2)
def face_features(stem: str):
    """The frozen face-features distance of the fine stage, loaded once per process; it is not part of
    the renderer's checkpoint, so rendering never needs it."""
    from ..perceptual import FaceFeatureDistance

    return FaceFeatureDistance.from_checkpoint(stem)


def build(config: NerfConfig):
    from ..nerf.field import TalkingHead

    return TalkingHead(config)


def prepare(model, clip) -> None:
    """The audio features' mean and spread over the training frames (and a check that the face-features
    checkpoint of the fine stage loads)."""
    if model.config.features_model:
        face_features(model.config.features_model)
    audio = torch.from_numpy(clip.audio)
    if len(audio) and audio.shape[1]:
        with torch.no_grad():
            model.audio_mean.copy_(audio.mean(0))
            model.audio_std.copy_(audio.std(0, unbiased=False).clamp_min(1e-3))


def ray_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Photometric MSE of the rendered rays against their pixels; in the fine stage, plus the feature
    distance of the rendered mouth patches (the batch's last rays) to the true ones."""
    result = model(batch["origins"], batch["directions"], batch["landmarks"], batch["blink"], batch["audio"],
                   batch["slot"])
    mse = ((result.rgb - batch["rgb"]) ** 2).mean()
    value = float(mse.detach())
    metrics = {"mse": value, "psnr": -10.0 * torch.log10(torch.tensor(max(value, 1e-10))).item(),
               "opacity": float(result.opacity.detach().mean()), "frames": float(len(batch["rgb"]))}
    loss = mse
    patches = batch.get("patches", 0)
    if patches and model.config.perceptual_weight > 0:
        side = model.config.patch
        rendered, truth = (x[-patches * side * side:].reshape(patches, side, side, 3).permute(0, 3, 1, 2)
                           for x in (result.rgb, batch["rgb"]))
        measure = face_features(model.config.features_model).to(rendered.device)
        distance = measure(rendered, truth).mean()
        loss = loss + model.config.perceptual_weight * distance
        metrics["perceptual"] = float(distance.detach())
    return loss, metrics


def make_source(model, config: NerfConfig, train_config, train, val, run_dir, is_main):
    from ..nerf.source import RaySource

    return RaySource(model, config, train_config, train, val, run_dir, is_main)


FAMILY = Family(name="nerf", description="tri-plane hash-grid radiance field conditioned on landmarks, blink and "
                                         "audio -> a talking portrait",
                config_class=NerfConfig, dataset_view="nerf-frames", build=build, prepare=prepare, loss=ray_loss,
                source=make_source)
