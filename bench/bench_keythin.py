"""Keys per take: every channel on every frame against only the channels that move, thinned to a tolerance.

    .venv/bin/python bench/bench_keythin.py [--text "..."] [--fps 24] [--tolerance 0.001 0.002 0.005 0.01]

Prints, for the phoneme model on one line of text (the bundled sample by default): the key count with a
key on every frame of all 46 channels, with only the channels that move, and after thinning at each
tolerance, with the largest error of the thinned curves and the thinning time.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.api import AnimateOptions, animate_text  # noqa: E402
from backend.keythin import moving_columns, thin_keys, thinning_error  # noqa: E402
from backend.post import PostOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=(ROOT / "assets" / "samples" / "line01.txt").read_text("utf-8").strip())
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--tolerance", type=float, nargs="+", default=[0.001, 0.002, 0.005, 0.01])
    args = parser.parse_args()
    anim = animate_text(args.text, AnimateOptions(fps=args.fps, post=PostOptions(fps=args.fps)))
    frames = np.arange(anim.n_frames, dtype=np.float64)
    moving = np.flatnonzero(moving_columns(anim.values))
    print(f"{anim.duration_s:.2f} s at {args.fps:g} fps: {anim.values.size:,} keys on every frame of "
          f"{len(anim.channels)} channels; {len(moving)} channels move: {len(moving) * anim.n_frames:,} keys")
    for tolerance in args.tolerance:
        start = time.perf_counter()
        kept = [thin_keys(frames, anim.values[:, c], tolerance) for c in moving]
        seconds = time.perf_counter() - start
        error = max(thinning_error(frames, anim.values[:, c], k) for c, k in zip(moving, kept))
        total = sum(len(k) for k in kept)
        print(f"tolerance {tolerance:g}: {total:,} keys ({total / anim.values.size:.1%} of every frame), "
              f"largest error {error:.4f}, thinned in {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
