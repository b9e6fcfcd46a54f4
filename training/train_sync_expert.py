"""`mouthpiece-train sync-expert --faces FACES --out RUN`: train the lip-sync expert on the shared trainer.

FACES is a faces set (training/faces_dataset.py: faces.json, manifest.jsonl and frames/<id>.npz lower
faces); give --faces again for more sets. The train clips train, on in-sync and shifted 5-frame windows
half and half; the val clips give the fixed validation pairs. The loss is the BCE of the cosine in-sync
chance. With `--group G` a training item is G windows of one clip, and every faces-audio pair of the group
counts: G in-sync pairs and up to G(G - 1) shifted ones, weighted half and half, for the encoder work of G
pairs; validation and scoring keep the single pairs. The defaults are the small config of models-spec
§2.2, the shipped expert's recipe (width 0.5, about 4 M parameters; groups of 4, 32 windows a step, lr 3e-4,
9 k steps); the paper's expert, for a GPU: `--width 1 --embedding 512 --batch-size 64 --device cuda`.
Run it again with the same --out to resume.
`--init-from RUN/model` starts from a trained expert. At the end the best model, RUN/model.{safetensors,
json}, is scored on the val and test pairs (the in-sync versus off-sync accuracy) into
RUN/sync_accuracy.json, also with negatives that may look like their in-sync window (`*_any_shift`,
Wav2Lip's protocol).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import option, parse, split_list

ACCURACY_FILE = "sync_accuracy.json"


@dataclass
class Args:
    faces: tuple[str, ...] = option(help="faces set folder")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, model.*, sync_accuracy.json")
    width: float = option(0.5, "multiplier on Wav2Lip's channel counts (the paper's expert: 1)")
    embedding: int = option(128, "embedding length (the paper's: 512)")
    gap: int = option(5, "frames between an in-sync window and its shifted negatives, at least")
    min_change: float = option(1.0, "mean grey-level change a shifted window needs to count as off sync (0: any)")
    group: int = option(4, "windows of one clip per training item: each in-sync window is also the others' shifted "
                           "negative, so a step sees G - 1 negatives per window (1: Wav2Lip's single pairs)")
    augment: bool = option(True, "jitter the training windows' colour and shift them by up to 2 px")
    steps: int = option(9000, "optimizer steps in all")
    batch_size: int = option(32, "pairs per step (windows per step with --group)")
    lr: float = option(3e-4, "peak Adam learning rate")
    seed: int = option(0, "seed for weights, pairs, shuffling and jitter")
    eval_every: int = option(250, "steps between validation passes and checkpoints")
    val_items: int = option(400, "validation pairs per pass")
    score_items: int = option(2000, "val and test pairs scored at the end (0: none)")
    workers: int = option(0, "data loader worker processes")
    cache_mb: int = option(1024, "decoded training clips kept in memory, in MiB (the rest are re-read as needed)")
    threads: int = option(2, "torch CPU threads")
    device: str = option("auto", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    resume: bool = option(True, "continue the run found in --out")
    init_from: str = option("", "start from this trained expert's weights (path without suffix), e.g. to go on "
                                "over more faces sets")
    score_model: str = option("", "score this trained expert (path without suffix) on the sets' val and test "
                                  "pairs into OUT/sync_accuracy.json, and train nothing")


def folders(args) -> list[str]:
    """The faces-set folders of `--faces` (repeatable, or comma separated)."""
    return [folder for item in args.faces for folder in split_list(item)]


def model_config(args: Args):
    from .families.sync_expert import SyncExpertConfig

    return SyncExpertConfig(width=args.width, embedding=args.embedding)


def train_config(args: Args):
    from .trainer import TrainConfig

    if args.batch_size % args.group:
        raise ValueError(f"--batch-size {args.batch_size} is not a whole number of groups of {args.group}")
    return TrainConfig(steps=args.steps, batch_size=args.batch_size // args.group, lr=args.lr, seed=args.seed,
                       warmup_steps=min(200, args.steps // 10), eval_every=args.eval_every,
                       val_items=args.val_items, threads=args.threads, device=args.device, resume=args.resume,
                       workers=args.workers, amp=False, init_from=args.init_from)


def any_shift_splits(args: Args) -> dict:
    """Val and test pairs whose negatives may look like their in-sync window (Wav2Lip's own protocol)."""
    from .faces_dataset import FacesDataset

    return {f"{split}_any_shift": FacesDataset(folders(args), split, args.seed, None, args.gap, min_change=0)
            for split in ("val", "test")}


def datasets(args: Args):
    """(train, val, test) pair datasets over every faces set."""
    from .faces_dataset import Augment, FacesDataset, GroupedFacesDataset

    chosen = folders(args)
    augment = Augment() if args.augment else None
    if args.group > 1:
        train = GroupedFacesDataset(chosen, args.seed, augment, args.gap, args.cache_mb << 20, args.min_change,
                                    args.group)
    else:
        train = FacesDataset(chosen, "train", args.seed, augment, args.gap, cache_bytes=args.cache_mb << 20,
                             min_change=args.min_change)
    if len(train) == 0:
        raise InputError(chosen[0], f"no train clips long enough for a window ({train.skipped} too short)")
    val = FacesDataset(chosen, "val", args.seed, None, args.gap, min_change=args.min_change)
    test = FacesDataset(chosen, "test", args.seed, None, args.gap, min_change=args.min_change)
    return train, val, test


def score(module, dataset, items: int, batch: int = 64) -> dict:
    """BCE and in-sync versus off-sync accuracy of `module` over the first `items` pairs of `dataset`."""
    import torch

    from .families.sync_expert import sync_bce

    n = min(len(dataset), items)
    if n == 0:
        return {"pairs": 0}
    module.eval()
    chances, labels = [], []
    with torch.no_grad():
        for start in range(0, n, batch):
            pairs = [dataset[i] for i in range(start, min(n, start + batch))]
            faces = torch.stack([p["faces"] for p in pairs])
            mel = torch.stack([p["mel"] for p in pairs])
            chances.append(module(faces, mel))
            labels.append(torch.stack([p["label"] for p in pairs]))
    d, y = torch.cat(chances), torch.cat(labels)
    return {"pairs": n, "bce": float(sync_bce(d, y)), "accuracy": float(((d > 0.5).float() == y).float().mean()),
            "in_sync_mean": float(d[y == 1].mean()) if (y == 1).any() else None,
            "off_sync_mean": float(d[y == 0].mean()) if (y == 0).any() else None}


def score_best(run: Path, splits: dict, items: int, model: str | Path | None = None) -> dict:
    """Score a model (default: the run's exported best) on each split and write RUN/sync_accuracy.json."""
    import torch

    from backend import checkpoints
    from backend.fileio import write_text_atomic

    from .families.sync_expert import SyncExpert, SyncExpertConfig

    stem = Path(model) if model else run / "model"
    saved = checkpoints.load(stem, family="sync-expert")
    module = SyncExpert(SyncExpertConfig(**saved.config["model"]))
    module.load_state_dict({name: torch.from_numpy(value).float() for name, value in saved.tensors.items()})
    result = {"model": str(stem), "step": saved.step,
              **{name: score(module, data, items) for name, data in splits.items()}}
    run.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run / ACCURACY_FILE, json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train sync-expert", __doc__.splitlines()[0])
    from .registry import get_family
    from .trainer import Trainer

    if args.score_model:
        return score_only(args)
    try:
        config = model_config(args)
        train, val, test = datasets(args)
        about = {"command": ["mouthpiece-train", "sync-expert", *(sys.argv[1:] if argv is None else argv)],
                 "faces": folders(args), "train_clips": len(train.clips), "val_clips": len(val.clips),
                 "test_clips": len(test.clips), "train_windows": len(train), "val_pairs": len(val),
                 "skipped_short_clips": train.skipped + val.skipped + test.skipped}
        if about["skipped_short_clips"]:
            print(f"mouthpiece-train sync-expert: skipped {about['skipped_short_clips']} clip(s) too short for a "
                  "window and a shifted negative", file=sys.stderr)
        trainer = Trainer(get_family("sync-expert"), config, train_config(args), train, val, args.out, about=about)
        metrics = trainer.fit()
        if not trainer.dist.is_main:
            return 0
        scores = score_best(Path(args.out), {"val": val, "test": test, **any_shift_splits(args)}, args.score_items)
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train sync-expert: {err}", file=sys.stderr)
        return 2
    print(f"done: step {trainer.step}, best validation BCE {trainer.best_val:.5f}, model in "
          f"{Path(args.out, 'model.json')}; {accuracy_summary(scores)}; last metrics {metrics}")
    return 0


def accuracy_summary(scores: dict) -> str:
    summary = ", ".join(f"{name} accuracy {s['accuracy']:.3f} over {s['pairs']} pairs"
                        for name, s in scores.items() if isinstance(s, dict) and s.get("pairs"))
    return summary or "no val or test pairs"


def score_only(args: Args) -> int:
    """`--score-model`: the accuracy of a trained expert on the faces sets' held-out pairs."""
    from .faces_dataset import FacesDataset

    try:
        chosen = folders(args)
        splits = {split: FacesDataset(chosen, split, args.seed, None, args.gap, min_change=args.min_change)
                  for split in ("val", "test")}
        scores = score_best(Path(args.out), {**splits, **any_shift_splits(args)}, args.score_items, args.score_model)
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train sync-expert: {err}", file=sys.stderr)
        return 2
    print(f"scored {args.score_model}: {accuracy_summary(scores)}; in {Path(args.out, ACCURACY_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
