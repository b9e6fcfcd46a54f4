"""Speed of the NeRF talking-head renderer (training/nerf): training steps and rendered frames per second.

    .venv/bin/python bench/bench_nerf_render.py [--size 128] [--rays 4096] [--repeats 3] [--threads 2]
                                                [--seconds 0.4]

Prints, for the small config (or the paper's with --paper-size): the seconds one training step of
--rays random rays takes (forward, backward, Adam), the frames per second of rendering --size x
--size images, and the frames per second of `mouthpiece nerf render`'s path (training/nerf/portrait.py:
landmarks and blinks from --seconds of audio, the frames' conditions, every frame rendered), from freshly
initialised models (speed does not depend on the weights).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def camera(size: int):
    """A pinhole camera 3 units in front of the unit box, looking at it (Blender's convention: -z forward)."""
    import torch

    focal = size / (2 * math.tan(math.radians(20)))
    intrinsics = torch.tensor([focal, focal, size / 2, size / 2])  # fx, fy, cx, cy
    camera_to_world = torch.eye(4)[:3]
    camera_to_world[2, 3] = 3.0
    return intrinsics, camera_to_world


def main() -> int:
    import torch

    from training.families.nerf import NerfConfig, build
    from training.nerf.render import image_rays

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--rays", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--paper-size", action="store_true", help="12 levels of 1 feature, 64 -> 512, 32 samples")
    parser.add_argument("--seconds", type=float, default=0.4, help="audio rendered through the portrait path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = NerfConfig()
    if args.paper_size:
        config = dataclasses.replace(config, levels=12, features=1, base_resolution=64, finest_resolution=512,
                                     samples=32)
    model = build(config)
    intrinsics, camera_to_world = camera(args.size)
    landmarks = torch.rand(config.frames_per_step, 68, 3) * 2 - 1
    blink = torch.rand(config.frames_per_step)
    audio = torch.randn(config.frames_per_step, config.audio_dim)
    origins, directions = image_rays(intrinsics, camera_to_world, args.size, args.size)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = []
    for _ in range(args.repeats + 1):
        pick = torch.randint(0, len(origins), (args.rays,))
        slot = torch.randint(0, config.frames_per_step, (args.rays,))
        start = time.perf_counter()
        out = model(origins[pick], directions[pick], landmarks, blink, audio, slot)
        loss = (out.rgb - 0.5).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps.append(time.perf_counter() - start)
    model.eval()
    condition = model.frame_conditions(landmarks[:1], blink[:1], audio[:1])[0]
    frames = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.render_image(intrinsics, camera_to_world, args.size, args.size, condition)
        frames.append(time.perf_counter() - start)
    step, frame = min(steps[1:]), min(frames)
    name = "paper-size" if args.paper_size else "small"
    print(f"{name} config ({config.levels} levels, {config.samples} samples a ray), {args.threads} threads: "
          f"a training step of {args.rays} rays {step:.3f} s; a {args.size}x{args.size} frame {frame:.2f} s "
          f"({1 / frame:.2f} frames per second)")
    frames, seconds = portrait_path(config, intrinsics, args.size, args.seconds)
    print(f"nerf render path: {frames} frames of {args.size}x{args.size} from {args.seconds:g} s of audio in "
          f"{seconds:.2f} s ({frames / seconds:.2f} frames per second)")
    return 0


def portrait_path(config, intrinsics, size: int, seconds: float) -> tuple[int, float]:
    """(frames, seconds) of landmarks, conditions and rendering for `seconds` of noise, as `nerf render` runs them."""
    import tempfile

    import numpy as np
    import torch

    from backend import checkpoints
    from backend.runtime.nerf_landmarks import NerfLandmarksRuntime
    from training.families.nerf import build
    from training.families.nerf_landmarks import NerfLandmarks, NerfLandmarksConfig
    from training.nerf.portrait import Identity, Portrait, frame_conditions, render_frames

    model = build(dataclasses.replace(config, audio_dim=80)).eval()
    camera = np.eye(4, dtype=np.float32)
    camera[2, 3] = 3.0
    identity = Identity(size, size, intrinsics.numpy().astype(np.float32), camera,
                        np.random.default_rng(0).uniform(-0.5, 0.5, (68, 3)).astype(np.float32))
    portrait = Portrait(model, identity, Path("bench"))
    landmarks = NerfLandmarksConfig()
    tensors = {name: value.numpy() for name, value in NerfLandmarks(landmarks).state_dict().items()}
    audio = 0.1 * np.random.default_rng(1).standard_normal(int(16000 * seconds)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        checkpoints.save(Path(folder, "model"), checkpoints.Checkpoint(tensors, "nerf-landmarks",
                                                                      {"model": dataclasses.asdict(landmarks)}))
        runtime = NerfLandmarksRuntime.from_checkpoint(Path(folder, "model"))
    start = time.perf_counter()
    frames = render_frames(portrait, frame_conditions(portrait, audio, runtime))
    return len(frames), time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
