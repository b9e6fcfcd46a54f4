"""`mouthpiece-train face-features --faces FACES --out RUN`: train the face features of the perceptual distance.

FACES is a faces set built with `mouthpiece-train faces --full-faces` from a corpus folder that is still
there (its labels give each frame's 46 blendshape weights); give --faces again for more sets. The network
(training/families/face_features.py) learns each frame's identity and weights. The train split trains,
except every --identity-holdout-th train clip, held back to measure identity accuracy on new clips of the
training identities. The val split validates on the weights alone: its identities are held out, so the
identity head has no class for them. Run it again with the same --out to resume. At the end the best model,
RUN/model.{safetensors,json}, is scored into RUN/face_features_scores.json: the weights' MSE and mean
absolute error on val and test (next to the MSE of always guessing the training mean), and the identity
accuracy on the held-back train clips. The model feeds `mouthpiece-train lipsync-gen --perceptual features
--features-model RUN/model`.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import option, parse
from .train_sync_expert import folders

SCORES_FILE = "face_features_scores.json"


@dataclass
class Args:
    faces: tuple[str, ...] = option(help="faces set folder built with --full-faces")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, model.*, face_features_scores.json")
    width: float = option(1.0, "multiplier on the stage channels 16, 32, 64, 96")
    regression_weight: float = option(100.0, "weight of the blendshape weights' MSE against the identity loss")
    identity_holdout: int = option(10, "hold back every Nth train clip to measure identity accuracy (0: none)")
    augment: bool = option(True, "jitter the training frames' colour and shift them by up to 2 px")
    steps: int = option(3000, "optimizer steps in all")
    batch_size: int = option(32, "frames per step")
    lr: float = option(1e-3, "peak Adam learning rate")
    seed: int = option(0, "seed for weights, shuffling and jitter")
    eval_every: int = option(250, "steps between validation passes and checkpoints")
    val_items: int = option(512, "validation frames per pass")
    score_items: int = option(4000, "frames scored per split at the end (0: none)")
    workers: int = option(0, "data loader worker processes")
    cache_mb: int = option(1024, "decoded training clips kept in memory, in MiB (the rest are re-read as needed)")
    threads: int = option(2, "torch CPU threads")
    device: str = option("auto", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    resume: bool = option(True, "continue the run found in --out")


def train_config(args: Args):
    from .trainer import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       warmup_steps=min(100, args.steps // 10), eval_every=args.eval_every,
                       val_items=args.val_items, threads=args.threads, device=args.device, resume=args.resume,
                       workers=args.workers, amp=False)


def datasets(args: Args):
    """(model config, {name: dataset}) with train, val, test and the held-back train clips ("identity")."""
    from .face_features_data import FaceFramesDataset, labelled_clips, split_every, train_identities
    from .faces_dataset import Augment
    from .families.face_features import FaceFeaturesConfig

    chosen = folders(args)
    train_clips, skipped = labelled_clips(chosen, "train")
    if not train_clips:
        raise InputError(chosen[0], f"no train clips with label weights ({skipped} without: is the source "
                                    "corpus, with its labels/, still there?)")
    kept, held_back = split_every(train_clips, args.identity_holdout)
    config = FaceFeaturesConfig(width=args.width, identities=train_identities(kept),
                                regression_weight=args.regression_weight)
    data = {"train": FaceFramesDataset(kept, config.identities, args.seed, Augment() if args.augment else None,
                                       cache_bytes=args.cache_mb << 20),
            "identity": FaceFramesDataset(held_back, config.identities, args.seed, shuffle=True)}
    for split in ("val", "test"):
        data[split] = FaceFramesDataset(labelled_clips(chosen, split)[0], config.identities, args.seed, shuffle=True)
    return config, data, skipped


def score(module, dataset, items: int, mean_weights, batch: int = 64) -> dict:
    """Weights MSE and MAE over the first `items` frames of `dataset` (and the MSE of guessing the training
    frames' mean weights); identity accuracy where the identity is a training one."""
    import torch

    from .families.face_features import UNKNOWN_IDENTITY

    n = min(len(dataset), items)
    if n == 0:
        return {"frames": 0}
    module.eval()
    sums = {"se": 0.0, "ae": 0.0, "guess_se": 0.0, "known": 0, "correct": 0}
    with torch.no_grad():
        for start in range(0, n, batch):
            chunk = [dataset[i] for i in range(start, min(n, start + batch))]
            logits, weights = module(torch.stack([item["face"] for item in chunk]))
            target = torch.stack([item["weights"] for item in chunk])
            identity = torch.stack([item["identity"] for item in chunk])
            known = identity != UNKNOWN_IDENTITY
            sums["se"] += float(((weights - target) ** 2).mean(1).sum())
            sums["ae"] += float((weights - target).abs().mean(1).sum())
            sums["guess_se"] += float(((mean_weights - target) ** 2).mean(1).sum())
            sums["known"] += int(known.sum())
            sums["correct"] += int((logits.argmax(1)[known] == identity[known]).sum())
    result = {"frames": n, "weights_mse": sums["se"] / n, "weights_mae": sums["ae"] / n,
              "mean_guess_mse": sums["guess_se"] / n}
    if sums["known"]:
        result["identity_accuracy"] = sums["correct"] / sums["known"]
    return result


def score_best(run: Path, config, splits: dict, items: int, mean_weights) -> dict:
    """Score the exported best model on each split and write RUN/face_features_scores.json."""
    import torch

    from backend import checkpoints
    from backend.fileio import write_text_atomic

    from .families.face_features import FaceFeatures

    saved = checkpoints.load(run / "model", family="face-features")
    module = FaceFeatures(config)
    module.load_state_dict({name: torch.from_numpy(value) for name, value in saved.tensors.items()})
    result = {"step": saved.step, **{name: score(module, data, items, mean_weights) for name, data in splits.items()}}
    write_text_atomic(run / SCORES_FILE, json.dumps(result, indent=2) + "\n")
    return result


def summary(scores: dict) -> str:
    parts = [f"{name} weights MSE {s['weights_mse']:.5f} (mean guess {s['mean_guess_mse']:.5f})"
             for name, s in scores.items() if name in ("val", "test") and isinstance(s, dict) and s.get("frames")]
    if scores.get("identity", {}).get("identity_accuracy") is not None:
        parts.append(f"identity accuracy {scores['identity']['identity_accuracy']:.3f} on held-back train clips")
    return "; ".join(parts) or "no frames scored"


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train face-features", __doc__.splitlines()[0])
    from .registry import get_family
    from .trainer import Trainer

    try:
        config, data, skipped = datasets(args)
        if skipped:
            print(f"mouthpiece-train face-features: skipped {skipped} train clip(s) without label weights",
                  file=sys.stderr)
        about = {"command": ["mouthpiece-train", "face-features", *(sys.argv[1:] if argv is None else argv)],
                 "faces": folders(args), "skipped_train_clips": skipped,
                 **{f"{name}_frames": len(d) for name, d in data.items()}}
        trainer = Trainer(get_family("face-features"), config, train_config(args), data["train"], data["val"],
                          args.out, about=about)
        metrics = trainer.fit()
        if not trainer.dist.is_main:
            return 0
        scores = score_best(Path(args.out), config, {k: v for k, v in data.items() if k != "train"},
                            args.score_items, data["train"].mean_weights())
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train face-features: {err}", file=sys.stderr)
        return 2
    print(f"done: step {trainer.step}, best validation loss {trainer.best_val:.5f}, model in "
          f"{Path(args.out, 'model.json')}; {summary(scores)}; last metrics {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
