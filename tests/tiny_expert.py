"""A tiny lip-sync expert checkpoint with random weights, saved the way the trainer saves one (needs torch)."""
from __future__ import annotations

import dataclasses
from pathlib import Path


def save_tiny_expert(folder: Path, seed: int = 0) -> Path:
    """folder/model.safetensors + model.json of a width-0.125, 16-wide sync expert; returns the stem."""
    import torch

    from backend import checkpoints
    from training.families.sync_expert import FAMILY, SyncExpertConfig

    torch.manual_seed(seed)
    config = SyncExpertConfig(width=0.125, embedding=16)
    model = FAMILY.build(config).eval()
    tensors = {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}
    record = {"family": FAMILY.name, "model": dataclasses.asdict(config)}
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / "model"
    checkpoints.save(stem, checkpoints.Checkpoint(tensors, FAMILY.name, record))
    return stem
