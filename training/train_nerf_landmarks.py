"""`mouthpiece-train nerf-landmarks --data CORPUS --out RUN`: train the NeRF landmark side (speech -> 68
landmarks + blinks) on the shared trainer.

The corpus's train split trains and its val split validates (utterances of held-out voices). Blink labels
come from corpora built with blinks (the default since they were added); an older corpus trains the blink
model on no blinks at all. The small config (the defaults) trains in minutes on a 2-core CPU; the paper's
size, for a GPU: `--layers 4 --d-model 256 --ffn 1024 --batch-size 64 --steps 40000 --device cuda`.
Run it again with the same --out to resume; RUN/model.{safetensors,json} is the best model, used by
`mouthpiece animate --model nerf-landmarks` through MOUTHPIECE_NERF_LANDMARKS=RUN/model.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import not_corpora, option, parse, split_list


@dataclass
class Args:
    data: str = option(help="corpus folder(s), comma-separated")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, model.*")
    languages: str = option("", "languages to train on, comma-separated (empty: all)")
    fps: float = option(25.0, "output frames per second")
    layers: int = option(2, "transformer encoder layers (the paper-size config: 4)")
    d_model: int = option(128, "transformer width (paper size: 256)")
    heads: int = option(4, "attention heads")
    ffn: int = option(256, "transformer feed-forward units (paper size: 1024)")
    window_frames: int = option(32, "frames per transformer window")
    latent: int = option(16, "VAE latent size")
    beta: float = option(0.5, "weight of the VAE's KL term")
    blink_hidden: int = option(32, "blink GRU units")
    steps: int = option(2000, "optimizer steps in all")
    batch_size: int = option(8, "utterances per step")
    lr: float = option(1e-3, "peak Adam learning rate")
    seed: int = option(0, "seed for weights, shuffling, windows and dropout")
    eval_every: int = option(100, "steps between validation passes and checkpoints")
    val_items: int = option(48, "validation utterances per pass")
    threads: int = option(2, "torch CPU threads")
    device: str = option("auto", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    resume: bool = option(True, "continue the run found in --out")
    calibrate_utterances: int = option(300, "train utterances the blink rate is calibrated on at the end (0: none)")


def model_config(args: Args):
    from .families.nerf_landmarks import NerfLandmarksConfig

    return NerfLandmarksConfig(fps=args.fps, layers=args.layers, d_model=args.d_model, heads=args.heads,
                               ffn=args.ffn, window_frames=args.window_frames, latent=args.latent, beta=args.beta,
                               blink_hidden=args.blink_hidden)


def train_config(args: Args):
    from .trainer import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       warmup_steps=min(100, args.steps // 10), eval_every=args.eval_every, val_items=args.val_items,
                       threads=args.threads, device=args.device, resume=args.resume, amp=False)


def datasets(args: Args, config):
    """(train, val): the corpus splits, restricted to the chosen languages."""
    from .dataset import CorpusDataset

    languages = set(split_list(args.languages))
    halves = []
    for split in ("train", "val"):
        data = CorpusDataset(split_list(args.data), split, "nerf_landmarks", fps=config.fps, seed=args.seed)
        data.model_config = config
        chosen = [i for i, r in enumerate(data.records) if not languages or r["language"] in languages]
        if not chosen:
            raise InputError(data.root / "manifest.jsonl", f"no {split} utterances in languages {args.languages!r}")
        data.keep(chosen)
        halves.append(data)
    return halves[0], halves[1]


def calibrate_blinks(run: Path, train, limit: int) -> dict:
    """Set the blink bias of RUN/model so that its drawn blinks match the train labels' rate (none when
    the labels have no blinks)."""
    from backend.audio import load_audio

    from .blink_calibration import calibrate_run
    from .corpus.blinks import onset_frames
    from .corpus.labels import blink_labels, load_labels

    chosen = list(zip(train.records, train.record_roots))[:limit]
    onsets = sum(int(onset_frames(blink_labels(load_labels(root / r["labels"]))).sum()) for r, root in chosen)
    if onsets == 0 or limit <= 0:
        return {}
    audios = [load_audio(root / r["audio"]) for r, root in chosen]
    return calibrate_run(run / "model", audios, onsets, sum(float(r["duration_s"]) for r, _ in chosen))


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train nerf-landmarks", __doc__.splitlines()[0])
    if missing := not_corpora(args.data):
        print(f"mouthpiece-train nerf-landmarks: {missing[0]}: not a corpus (no manifest.jsonl)", file=sys.stderr)
        return 2
    from .dataset import collate
    from .registry import get_family
    from .trainer import Trainer

    try:
        config = model_config(args)
        train, val = datasets(args, config)
        about = {"command": ["mouthpiece-train", "nerf-landmarks", *(sys.argv[1:] if argv is None else argv)],
                 "data": args.data, "languages": args.languages, "train_utterances": len(train),
                 "val_utterances": len(val), "audio_features": "log-mel 80 at 50 Hz in [16 x 80] windows "
                                                               "(DeepSpeech is not available offline)"}
        trainer = Trainer(get_family("nerf-landmarks"), config, train_config(args), train, val, args.out,
                          collate=collate, about=about)
        metrics = trainer.fit()
        calibration = calibrate_blinks(Path(args.out), train, args.calibrate_utterances) if trainer.dist.is_main else {}
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train nerf-landmarks: {err}", file=sys.stderr)
        return 2
    blinks = (f"; blinks per 10 s {calibration['uncalibrated_per_10s']} -> {calibration['calibrated_per_10s']} "
              f"(labels {calibration['labels_per_10s']}, bias {calibration['blink_bias']})" if calibration else "")
    print(f"done: step {trainer.step}, best validation loss {trainer.best_val:.5f}, "
          f"model in {Path(args.out, 'model.json')}; last metrics {metrics}{blinks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
