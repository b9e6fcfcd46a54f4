"""`mouthpiece-train nerf --frames FRAMES --out RUN`: train the NeRF talking head's renderer on one person's frames.

FRAMES is a frame folder (training/nerf/frames.py: frames.json plus PNGs, each frame with its camera, 68
landmarks, blink value and audio feature; `write_frame_folder` makes one from arrays). Each step renders
--rays random pixels of --frames-per-step random training frames through the conditioned tri-plane field
and takes the photometric MSE (the coarse stage); frames marked "val" are rendered whole for the
validation MSE. The defaults are the small config (128^2 frames, 6 levels 16 -> 128, 24 samples, 1024
rays) for a 2-core CPU. The paper-size config, for a GPU and 512^2 frames: `--levels 12 --features 1
--base-resolution 64 --finest-resolution 512 --samples 32 --rays 65536 --steps 100000 --device cuda`.
Run it again with the same --out to resume; RUN/model.{safetensors,json} is the best model, its
about.identity the camera and neutral landmarks `mouthpiece nerf render` needs.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import option, parse, split_list


@dataclass
class Args:
    frames: str = option(help="frame folder (frames.json + images)")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, model.*")
    levels: int = option(6, "hash-grid levels per plane (paper size: 12)")
    features: int = option(2, "features per level (paper size: 1)")
    log2_table: int = option(14, "log2 of each level's table entries")
    base_resolution: int = option(16, "coarsest level's cells per side (paper size: 64)")
    finest_resolution: int = option(128, "finest level's cells per side (paper size: 512)")
    hidden: int = option(64, "units of the density and colour MLPs")
    geometry_dim: int = option(64, "geometry features from the density MLP to the colour MLP")
    condition_dim: int = option(64, "landmark code width (the audio residual is added to it)")
    samples: int = option(24, "samples per ray inside the head's box")
    frames_per_step: int = option(8, "frames each step's rays come from")
    background: str = option("1,1,1", "background colour r,g,b in [0, 1] (also behind transparent pixels)")
    landmarks: bool = option(True, "condition on the landmark code (off: an ablation row)")
    blink: bool = option(True, "condition on the blink embedding (off: an ablation row)")
    audio: bool = option(True, "add the audio residual (audio alone, without landmarks: the ER-NeRF-style row)")
    init_from: str = option("", "the fine stage: start from this coarse run's model (path without suffix)")
    patch: int = option(0, "the fine stage: pixels square of a mouth patch rendered each step (ER-NeRF: 32)")
    patch_frames: int = option(2, "frames per step that give a mouth patch")
    features_model: str = option("", "face-features checkpoint for the perceptual term (mouthpiece-train "
                                     "face-features; LPIPS weights cannot be had offline)")
    perceptual_weight: float = option(0.0, "weight of the mouth patches' feature distance")
    steps: int = option(25_000, "optimizer steps in all")
    rays: int = option(1024, "rays per step")
    lr: float = option(5e-3, "peak Adam learning rate")
    seed: int = option(0, "seed for weights, ray draws and sample jitter")
    eval_every: int = option(500, "steps between validation renders and checkpoints")
    val_items: int = option(8, "held-out frames rendered per validation")
    threads: int = option(2, "torch CPU threads")
    device: str = option("auto", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    resume: bool = option(True, "continue the run found in --out")


def background(args: Args) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in split_list(args.background))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0.0 <= v <= 1.0 for v in values):
        raise InputError(None, f"--background must be three numbers in [0, 1], not {args.background!r}")
    return values  # type: ignore[return-value]


def model_config(args: Args, folder):
    from .families.nerf import NerfConfig

    return NerfConfig(levels=args.levels, features=args.features, log2_table=args.log2_table,
                      base_resolution=args.base_resolution, finest_resolution=args.finest_resolution,
                      hidden=args.hidden, geometry_dim=args.geometry_dim, condition_dim=args.condition_dim,
                      audio_dim=folder.audio_dim, samples=args.samples, frames_per_step=args.frames_per_step,
                      box_min=folder.box_min, box_max=folder.box_max, background=background(args),
                      use_landmarks=args.landmarks, use_blink=args.blink, use_audio=args.audio, patch=args.patch,
                      patch_frames=args.patch_frames, perceptual_weight=args.perceptual_weight,
                      features_model=args.features_model)


def train_config(args: Args):
    from .trainer import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.rays, lr=args.lr, seed=args.seed,
                       warmup_steps=min(500, args.steps // 10), eval_every=args.eval_every, log_every=50,
                       val_items=args.val_items, threads=args.threads, device=args.device, resume=args.resume,
                       amp=False, grad_clip=0.0, init_from=args.init_from,
                       init_parts=("field",) if args.init_from else ())


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train nerf", __doc__.splitlines()[0])
    from .nerf.frames import read_frame_folder
    from .nerf.portrait import identity_of
    from .registry import get_family
    from .trainer import Trainer

    try:
        folder = read_frame_folder(args.frames, background(args))
        config = model_config(args, folder)
        about = {"command": ["mouthpiece-train", "nerf", *(sys.argv[1:] if argv is None else argv)],
                 "frames": args.frames, "train_frames": len(folder.train), "val_frames": len(folder.val),
                 "size": [folder.train.width, folder.train.height], "fps": folder.fps,
                 "audio_features": folder.audio_features, "identity": identity_of(folder).record()}
        trainer = Trainer(get_family("nerf"), config, train_config(args), folder.train, folder.val, args.out,
                          about=about)
        metrics = trainer.fit()
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train nerf: {err}", file=sys.stderr)
        return 2
    print(f"done: step {trainer.step}, best validation MSE {trainer.best_val:.5f}, "
          f"model in {Path(args.out, 'model.json')}; last metrics {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
