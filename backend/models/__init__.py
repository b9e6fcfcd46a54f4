"""Registry of animation models by name. Each family lives in its own module, imported on first use."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import InputError

if TYPE_CHECKING:
    from ..animation import Animation
    from ..api import AnimateOptions, Progress


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    kind: str  # "blendshape" | "landmarks"
    inputs: tuple[str, ...]  # subset of ("audio", "text")


class Model(Protocol):
    info: ModelInfo

    def availability(self) -> tuple[bool, str]:
        """(usable now, why or why not): e.g. a checkpoint found, or a missing dependency."""

    def animate_audio(self, path: str, options: "AnimateOptions", progress: "Progress") -> "Animation": ...

    def animate_text(self, text: str, options: "AnimateOptions", speech_out, progress: "Progress") -> "Animation": ...


# name -> "module" (relative to this package) exposing `load() -> Model`, or "module:function".
MODULES: dict[str, str] = {
    "phonemes": ".phonemes",
    "cnn-gru": ".cnn_gru",
    "cnn-gru-causal": ".cnn_gru:load_causal",
    "qlearn": ".qlearn",
    "tacotron": ".tacotron",
    "nerf-landmarks": ".nerf_landmarks",
}


def model_names() -> list[str]:
    return list(MODULES)


def get_model(name: str) -> Model:
    if name not in MODULES:
        raise InputError(None, f"unknown model {name!r}; known models: {', '.join(MODULES)}")
    module_name, _, loader = MODULES[name].partition(":")
    return getattr(importlib.import_module(module_name, __package__), loader or "load")()
