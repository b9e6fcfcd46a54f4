"""`mouthpiece-train lipsync-gen --faces F --expert E --out RUN --stage 1|2`: train the lip-sync generator.

F is a faces set built with `mouthpiece-train faces --full-faces` (give --faces again for more sets); E the
trained lip-sync expert (`mouthpiece-train sync-expert`, its RUN/model), frozen here. Stage 1 trains with
masked L1, the perceptual term, the expert loss and the mask loss (weights 1, 0.5, 0.01, 1); stage 2
(`--stage 2 --init-from RUN1/model`) starts from stage 1's generator, adds the discriminator (non-saturating,
spectral norm, R1, DiffAug) with weight 0.01 and raises the expert weight to 0.1. The defaults are the small
config of models-spec §2.2 (width 0.25; batch 4 windows of 5 frames; Adam lr 2e-4; 4 k / 1.5 k steps). The
perceptual term is a Laplacian-pyramid L1 (VGG16's ImageNet weights are not available offline); with a local
copy, `--perceptual vgg16 --vgg16-weights FILE`; with face features trained here (`mouthpiece-train
face-features`), `--perceptual features --features-model RUN/model`. Run it again with the same --out to resume.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import option, parse
from .train_sync_expert import folders

STAGE_DEFAULTS = {1: {"gan": False, "expert_weight": 0.01, "adv_weight": 0.0, "steps": 4000},
                  2: {"gan": True, "expert_weight": 0.1, "adv_weight": 0.01, "steps": 1500}}


@dataclass
class Args:
    faces: tuple[str, ...] = option(help="faces set folder built with --full-faces")
    expert: str = option(help="the trained lip-sync expert (RUN/model of `mouthpiece-train sync-expert`)")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, model.*")
    stage: int = option(1, "1: reconstruction, mask and expert losses; 2: adds the GAN", choices=(1, 2))
    init_from: str = option("", "a stage-1 model (path without suffix) that starts stage 2's generator")
    width: float = option(0.25, "multiplier on the coursework's channel counts (the paper's G: 1)")
    references: int = option(10, "KMeans reference frames per clip")
    resnet: bool = option(True, "residual blocks (ablation: off)")
    attention: bool = option(True, "audio attention over the references (off: their mean)")
    attention_sign: int = option(-1, "-1: the coursework's exp(-sigmoid(a.r)) as written; 1: the opposite",
                                 choices=(-1, 1))
    audio_skips: bool = option(True, "map the embedding onto every decoder size")
    mask: bool = option(True, "mask head and blur blending")
    perceptual: str = option("lap_pyramid", "perceptual term", choices=("lap_pyramid", "vgg16", "features"))
    vgg16_weights: str = option("", "a local torchvision-layout VGG16 weights file (for --perceptual vgg16)")
    features_model: str = option("", "a trained face-features model, path without suffix (for --perceptual features)")
    expert_weight: float | None = option(None, "expert loss weight (default: 0.01 in stage 1, 0.1 in stage 2)")
    perceptual_weight: float = option(0.5, "perceptual loss weight")
    r1_gamma: float = option(10.0, "R1 penalty weight (stage 2)")
    r1_on: str = option("reals", "R1 on reals (standard) or on fakes (the coursework's eq. 14)",
                        choices=("reals", "fakes"))
    steps: int = option(0, "optimizer steps in all (0: 4000 in stage 1, 1500 in stage 2)")
    batch_size: int = option(4, "5-frame windows per step")
    lr: float = option(2e-4, "peak Adam learning rate (generator and discriminator)")
    seed: int = option(0, "seed for weights, references and shuffling")
    eval_every: int = option(250, "steps between validation passes and checkpoints")
    val_items: int = option(64, "validation windows per pass")
    workers: int = option(0, "data loader worker processes")
    threads: int = option(2, "torch CPU threads")
    device: str = option("auto", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    resume: bool = option(True, "continue the run found in --out")


def model_config(args: Args):
    from backend import checkpoints

    from .families.lipsync_gen import LipsyncGenConfig

    expert = checkpoints.load(args.expert, family="sync-expert").config.get("model", {})
    stage = STAGE_DEFAULTS[args.stage]
    return LipsyncGenConfig(
        width=args.width, references=args.references, resnet=args.resnet, attention=args.attention,
        attention_sign=args.attention_sign, audio_skips=args.audio_skips, mask=args.mask, gan=stage["gan"],
        perceptual=args.perceptual, vgg16_weights=args.vgg16_weights, features_model=args.features_model,
        features_width=features_width(args), expert=str(args.expert),
        expert_width=float(expert.get("width", 0.25)), expert_embedding=int(expert.get("embedding", 128)),
        perceptual_weight=args.perceptual_weight,
        expert_weight=stage["expert_weight"] if args.expert_weight is None else args.expert_weight,
        adv_weight=stage["adv_weight"], r1_gamma=args.r1_gamma, r1_on=args.r1_on)


def features_width(args: Args) -> float:
    """The width of the face-features model of `--perceptual features` (its file checked here, first)."""
    if args.perceptual != "features" or not args.features_model:
        return 1.0
    from backend import checkpoints

    saved = checkpoints.load(args.features_model, family="face-features")
    return float(saved.config.get("model", {}).get("width", 1.0))


def train_config(args: Args):
    from .families.lipsync_gen import GENERATOR_PARTS
    from .trainer import TrainConfig

    steps = args.steps or STAGE_DEFAULTS[args.stage]["steps"]
    return TrainConfig(steps=steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       warmup_steps=min(100, steps // 10), eval_every=args.eval_every, val_items=args.val_items,
                       threads=args.threads, device=args.device, resume=args.resume, workers=args.workers,
                       init_from=args.init_from, init_parts=parts_kept(args, GENERATOR_PARTS), amp=False)


def parts_kept(args: Args, parts: tuple[str, ...]) -> tuple[str, ...]:
    """What stage 2 takes from stage 1: the generator (and the frozen nets it holds), not the new critic."""
    skipped = {"audio_skips": not args.audio_skips, "mask_head": not args.mask, "vgg16": args.perceptual != "vgg16"}
    return tuple(part for part in parts if not skipped.get(part)) if args.init_from else ()


def datasets(args: Args):
    from .lipsync_data import LipsyncFacesDataset

    chosen = folders(args)
    train = LipsyncFacesDataset(chosen, "train", args.seed, args.references)
    if len(train) == 0:
        raise InputError(chosen[0], f"no train clips long enough for a window ({train.skipped} too short)")
    return train, LipsyncFacesDataset(chosen, "val", args.seed, args.references)


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train lipsync-gen", __doc__.splitlines()[0])
    from .registry import get_family
    from .trainer import Trainer

    try:
        config = model_config(args)
        train, val = datasets(args)
        about = {"command": ["mouthpiece-train", "lipsync-gen", *(sys.argv[1:] if argv is None else argv)],
                 "faces": folders(args), "stage": args.stage, "train_clips": len(train.clips),
                 "val_clips": len(val.clips), "train_windows": len(train), "skipped_short_clips": train.skipped}
        trainer = Trainer(get_family("lipsync-gen"), config, train_config(args), train, val, args.out, about=about)
        metrics = trainer.fit()
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train lipsync-gen: {err}", file=sys.stderr)
        return 2
    if trainer.dist.is_main:
        print(f"done: stage {args.stage}, step {trainer.step}, best validation loss {trainer.best_val:.5f}, model "
              f"in {Path(args.out, 'model.json')}; last metrics {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
