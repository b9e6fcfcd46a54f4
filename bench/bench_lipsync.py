"""Frames per second of `mouthpiece lipsync` (footage lip-sync), stage by stage.

    .venv/bin/python bench/bench_lipsync.py [--generator RUN/model] [--frames 250] [--size 384]

The footage is the default head's picture (assets/pictures/talking_head.png) held for --frames frames at
25 fps, scaled to --size pixels; the generator is --generator or, without one, the small config with random
weights (speed does not depend on the weights). Prints the seconds and frames per second of face tracking
(MediaPipe), cropping, the generator with its references and mel windows, pasting back, and the encode.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(work):
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def random_generator(folder: Path) -> Path:
    import torch

    from backend import checkpoints
    from training.families.lipsync_gen import FAMILY, LipsyncGenConfig

    torch.manual_seed(0)
    config = LipsyncGenConfig()
    tensors = {k: v.detach().numpy() for k, v in FAMILY.build(config).eval().state_dict().items()}
    checkpoints.save(folder / "gen", checkpoints.Checkpoint(tensors, FAMILY.name, {"model": dataclasses.asdict(config)}))
    return folder / "gen"


def main() -> int:
    from PIL import Image

    from backend.facecrop import crop_faces
    from training.lipsync import (Footage, frame_mels, load_generator, paste, reference_crops, track_faces,
                                  write_video)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="")
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    head = np.array(Image.open(REPO / "assets" / "pictures" / "talking_head.png").convert("RGB")
                    .resize((args.size, args.size)))
    frames = np.repeat(head[None], args.frames, axis=0)
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(args.frames / 25 * 16000))).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        generate = load_generator(args.generator or random_generator(Path(folder)))
        track_s, boxes = timed(lambda: track_faces(frames, "bench"))
        footage = Footage(frames, 25.0, boxes)
        crop_s, crops = timed(lambda: np.concatenate([crop_faces(frames[i:i + 1], b) for i, b in enumerate(boxes)]))
        refs_s, references = timed(lambda: reference_crops(crops))
        mels = frame_mels(audio, len(crops), 25.0)
        gen_s, made = timed(lambda: [generate(crops[i:i + 32], references, mels[i:i + 32])
                                     for i in range(0, len(crops), 32)])
        rgb, mask = np.concatenate([m[0] for m in made]), np.concatenate([m[1] for m in made])
        paste_s, out = timed(lambda: np.stack([paste(frames[i], boxes[i], rgb[i], mask[i]) for i in range(len(rgb))]))
        wav = Path(folder) / "line.wav"
        from backend.audio import save_wav

        save_wav(wav, audio, 16000)
        encode_s, _ = timed(lambda: write_video(out, footage.fps, str(wav), Path(folder) / "out.mp4", True))
    total = track_s + crop_s + refs_s + gen_s + paste_s + encode_s
    n = args.frames
    print(f"lipsync of {n} frames at {args.size}x{args.size}:")
    for name, seconds in (("face tracking (MediaPipe)", track_s), ("face crops", crop_s), ("references (KMeans)", refs_s),
                          ("generator", gen_s), ("paste back", paste_s), ("encode (H.264 + AAC)", encode_s),
                          ("total", total)):
        print(f"  {name:28s} {seconds:6.2f} s  ({n / seconds:6.1f} frames/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
