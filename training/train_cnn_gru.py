"""`mouthpiece-train cnn-gru --data CORPUS --out RUN [--variant gru|lstm|static]`: train the CNN+GRU family.

Runs in one process, or in several under `torchrun --nproc_per_node=N -m training.train_cnn_gru ...`.
Run it again with the same --out to resume; RUN/model.{safetensors,json} is the exported best model.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import not_corpora, option, parse, split_list


@dataclass
class Args:
    data: str = option(help="corpus folder (manifest.jsonl, splits.json); several, comma-separated, train on all")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, model.*")
    variant: str = option("gru", "recurrent layer: gru, lstm, or static (1024-unit fully connected)",
                          choices=("gru", "lstm", "static"))
    steps: int = option(2000, "optimizer steps in all")
    batch_size: int = option(12, "utterance crops per step and per process")
    crop_s: float = option(1.6, "seconds of each training utterance seen per step (a random crop)")
    lr: float = option(1e-3, "peak Adam learning rate")
    seed: int = option(0, "seed for weights, shuffling and crops")
    fps: float = option(30.0, "frames per second the model sees and predicts")
    hidden: int = option(256, "recurrent units")
    freq_channels: str = option("8,16,32,32,32", "channels of the convolutions along frequency")
    time_channels: str = option("32,64,64,64", "channels of the convolutions along time")
    dropout: float = option(0.1, "dropout on the frame features and the recurrent output")
    gap_weight: float = option(0.0, "weight of the lip-gap loss (inner-lip gap on the default head vs the label's)")
    closure_boost: float = option(4.0, "extra weight of closed-lip frames in the lip-gap loss")
    init_from: str = option("", "start from this checkpoint's weights (path without suffix): a second stage")
    delay_frames: int = option(0, "lookahead in frames: weights for frame t come from audio up to t + delay")
    augment: bool = option(True, "augment training audio (tempo, pitch, reverb, noise, gain; training/augment.py)")
    voice_augment: bool = option(True, "with --augment, also WORLD voice resynthesis, a telephone band and codec "
                                       "round trips (training/voice_augment.py; the codecs need ffmpeg)")
    eval_every: int = option(100, "steps between validation passes and checkpoints")
    val_items: int = option(48, "validation utterances per pass")
    threads: int = option(1, "torch CPU threads per process (1: the machine is shared, and spinning threads stall)")
    workers: int = option(0, "data loader worker processes")
    device: str = option("auto", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    tensorboard: bool = option(False, "also write TensorBoard event files (needs the tensorboard package)")
    resume: bool = option(True, "continue the run found in --out")


def channels(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def model_config(args: Args):
    from .families.cnn_gru import CnnGruConfig

    return CnnGruConfig(variant=args.variant, fps=args.fps, hidden=args.hidden, dropout=args.dropout,
                        delay_frames=args.delay_frames, gap_weight=args.gap_weight,
                        closure_boost=args.closure_boost,
                        freq_channels=channels(args.freq_channels), time_channels=channels(args.time_channels))


def train_config(args: Args):
    from .trainer import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       eval_every=args.eval_every, val_items=args.val_items, threads=args.threads,
                       workers=args.workers, device=args.device, tensorboard=args.tensorboard,
                       resume=args.resume, init_from=args.init_from)


def augment_options(args: Args):
    """The training split's AugmentOptions, or None without --augment."""
    from .augment import AugmentOptions

    if not args.augment:
        return None
    return AugmentOptions() if args.voice_augment else AugmentOptions(world_prob=0.0, phone_prob=0.0, codec_prob=0.0)


def datasets(args: Args, view: str):
    from .dataset import CorpusDataset

    augment = augment_options(args)
    train = CorpusDataset(split_list(args.data), "train", view, fps=args.fps, augment=augment, crop_s=args.crop_s,
                          seed=args.seed)
    val = CorpusDataset(split_list(args.data), "val", view, fps=args.fps, crop_s=None, seed=args.seed)
    return train, val


def run_about(args: Args, argv: list[str] | None, train, val) -> dict:
    """How the run was started, kept in every checkpoint: the command, the data and the augmentation."""
    options = train.augment_options
    return {"command": ["mouthpiece-train", "cnn-gru", *(sys.argv[1:] if argv is None else argv)],
            "data": str(args.data), "train_utterances": len(train), "val_utterances": len(val),
            "augment": None if options is None else dataclasses.asdict(options)}


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train cnn-gru", __doc__.splitlines()[0])
    if missing := not_corpora(args.data):
        print(f"mouthpiece-train cnn-gru: {missing[0]}: not a corpus (no manifest.jsonl)", file=sys.stderr)
        return 2
    from .dataset import collate
    from .registry import get_family
    from .trainer import Trainer

    family = get_family("cnn-gru")
    try:
        train, val = datasets(args, family.dataset_view)
        trainer = Trainer(family, model_config(args), train_config(args), train, val, args.out, collate=collate,
                          about=run_about(args, argv, train, val))
        metrics = trainer.fit()
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train cnn-gru: {err}", file=sys.stderr)
        return 2
    if trainer.dist.is_main:
        print(f"done: step {trainer.step}, best validation loss {trainer.best_val:.5f}, "
              f"model in {Path(args.out, 'model.json')}; last metrics {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
