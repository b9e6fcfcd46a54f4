"""`mouthpiece-train export --model RUN/model --out assets/models/NAME [--float16]`: a trained model, ready to ship.

Copies a run's exported model (any family) to `OUT/model.{safetensors,json}`, keeping its config, step and
metrics; `--float16` stores the floating-point weights at half precision (half the size; the numpy runtimes
compute in float32), and `num_batches_tracked`-style integer tensors as they are.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import InputError

from .args import option, parse


@dataclass
class Args:
    model: str = option(help="the model to ship: a checkpoint path without its suffix, e.g. runs/NAME/model")
    out: str = option(help="folder to write model.safetensors + model.json into")
    float16: bool = option(False, "store floating-point weights as float16")
    overwrite: bool = option(False, "replace OUT/model.* when it exists")


def exported(saved, float16: bool):
    from backend.checkpoints import Checkpoint

    tensors = {name: value.astype(np.float16) if float16 and np.issubdtype(value.dtype, np.floating) else value
               for name, value in saved.tensors.items()}
    return Checkpoint(tensors, saved.family, saved.config, saved.step, saved.metrics)


def main(argv: list[str] | None = None) -> int:
    from backend import checkpoints

    args = parse(Args, argv, "mouthpiece-train export", __doc__.splitlines()[0])
    stem = Path(args.out) / "model"
    try:
        if stem.with_suffix(".json").exists() and not args.overwrite:
            raise InputError(stem.with_suffix(".json"), "exists; pass --overwrite to replace it")
        saved = checkpoints.load(args.model)
        if any(name.startswith(("optim.", "source.")) for name in saved.tensors):
            raise InputError(Path(args.model), "is a training checkpoint; export RUN/model or a best-step-* one")
    except InputError as err:
        print(f"mouthpiece-train export: {err}", file=sys.stderr)
        return 2
    checkpoints.save(stem, exported(saved, args.float16))
    weights = stem.with_suffix(".safetensors")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and {stem.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
