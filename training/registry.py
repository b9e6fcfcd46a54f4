"""Model families by name. Each family module exposes `FAMILY`, a `Family` the shared trainer drives."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

# name -> module exposing FAMILY. Later families (qlearn, tacotron, wav2lip, nerf) add a line here.
FAMILIES: dict[str, str] = {
    "cnn-gru": "training.families.cnn_gru",
    "qlearn": "training.families.qlearn",
    "tacotron": "training.families.tacotron",
    "nerf-landmarks": "training.families.nerf_landmarks",
    "nerf": "training.families.nerf",
    "sync-expert": "training.families.sync_expert",
    "lipsync-gen": "training.families.lipsync_gen",
    "face-features": "training.families.face_features",
}


@dataclass(frozen=True)
class Family:
    """What the trainer needs to know about a model family.

    build(config) -> torch.nn.Module; prepare(module, dataset) sets data statistics before training;
    loss(model, batch) -> (scalar loss tensor, {metric: float}) with `model` possibly DDP-wrapped;
    the metrics include "mse" and "frames" (the batch's weight in validation averages).

    A family that makes its own batches (reinforcement learning: an agent acting in an environment) gives
    `source(module, model_config, train_config, train_data, val_data, run_dir, is_main)`, which returns an
    object with `batches(model)` (an endless iterator, one batch per optimizer step), `after_step(loss,
    metrics)`, `validate(module) -> (val_loss, val_mse)`, `epoch`, and `state()` / `load_state(tensors,
    scalars)` for checkpoints; the trainer then keeps its loop, checkpoints, logs and resuming.
    """

    name: str
    description: str
    config_class: type
    dataset_view: str
    build: Callable[[Any], Any]
    prepare: Callable[[Any, Any], None]
    loss: Callable[[Any, dict], tuple[Any, dict]]
    source: Callable[..., Any] | None = None
    critic: str = ""
    """a GAN's discriminator: the name of the model's submodule that the main optimizer leaves alone and a
    second Adam steps, after each main step, on `critic_loss(model, batch)`; the batch holds whatever the
    family's `loss` left in it (its generated samples). A model whose submodule is None has no critic."""
    critic_loss: Callable[[Any, dict], tuple[Any, dict]] | None = None

    def config_from_dict(self, data: dict):
        return self.config_class.from_dict(data)


def family_names() -> list[str]:
    return list(FAMILIES)


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise KeyError(f"unknown model family {name!r}; known families: {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[name]).FAMILY
