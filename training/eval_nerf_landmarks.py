"""`mouthpiece-train eval-nerf-landmarks --model RUN/model --data CORPUS`: the landmark side on a corpus split.

Prints, over the split's utterances, through the numpy runtime that `mouthpiece animate` uses:
- the lip error: the mean Euclidean distance (mm) of landmarks 48-67 to the truth's, against the closed
  mouth's (the neutral lips, offsets 0); the issue's target is a ratio of at most 0.6;
- blinks per 10 s, drawn from the blink model with --seed, against the labels' (target: within 0.5).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import numpy as np

from .args import option, parse

LIPS = slice(48, 68)


@dataclass
class Args:
    model: str = option(help="checkpoint (path without suffix), e.g. RUN/model")
    data: str = option(help="corpus folder")
    split: str = option("val", "corpus split", choices=("train", "val", "test"))
    seed: int = option(0, "seed of the drawn blinks")


def evaluate(args: Args) -> dict:
    from backend.runtime.nerf_landmarks import NerfLandmarksRuntime

    from .corpus.blinks import onset_frames
    from .dataset import CorpusDataset

    runtime = NerfLandmarksRuntime.from_checkpoint(args.model)
    data = CorpusDataset(args.data, args.split, "nerf_landmarks", fps=runtime.spec.fps)
    lip_model, lip_closed, frames, blinks_true, blinks_model, seconds = 0.0, 0.0, 0, 0, 0, 0.0
    for index, record in enumerate(data.records):
        item = data[index]
        truth = item["offsets"].numpy()[:, LIPS]
        clip = data.load_clip(record, np.random.default_rng(0))
        offsets, blink = runtime.predict(clip.audio, args.seed + index)
        lip_model += float(np.linalg.norm(offsets[:, LIPS] * 1000.0 - truth, axis=-1).mean(axis=1).sum())
        lip_closed += float(np.linalg.norm(truth, axis=-1).mean(axis=1).sum())
        frames += len(truth)
        blinks_true += int(item["onset"].sum())
        blinks_model += int(onset_frames(blink).sum())
        seconds += record["duration_s"]
    return {"split": args.split, "utterances": len(data.records), "seconds": round(seconds, 1),
            "lip_error_mm": round(lip_model / frames, 3), "closed_mouth_mm": round(lip_closed / frames, 3),
            "lip_ratio": round(lip_model / max(lip_closed, 1e-9), 3),
            "blinks_per_10s_true": round(10.0 * blinks_true / seconds, 2),
            "blinks_per_10s_model": round(10.0 * blinks_model / seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    from backend.errors import InputError

    args = parse(Args, argv, "mouthpiece-train eval-nerf-landmarks", __doc__.splitlines()[0])
    try:
        print(json.dumps(evaluate(args)))
    except InputError as err:
        print(f"mouthpiece-train eval-nerf-landmarks: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
