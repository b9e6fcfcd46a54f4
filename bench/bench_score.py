"""Scoring speed of `mouthpiece score` (target: a one-minute take in 10 s or less, rendering included).

    .venv/bin/python bench/bench_score.py [--expert assets/models/sync_expert/model] [--seconds 60]

Prints the seconds to draw the default head's lower face for every 25 fps frame (the software renderer,
its rasterizer compiled by numba as on the command line), the expert's embeddings (face windows every 5th
frame, audio windows every frame), and the whole score as `mouthpiece score` runs it. The take is smooth random shape-key
motion over noise: the speed does not depend on the content.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(work):
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def random_take(seconds: float, seed: int = 0):
    from backend.animation import Animation
    from backend.rig import FACEWAREHOUSE_46

    rng = np.random.default_rng(seed)
    n = int(seconds * 25)
    knots = rng.uniform(0.0, 0.6, (n // 5 + 2, 46))
    values = np.stack([np.interp(np.arange(n) / 5.0, np.arange(len(knots)), k) for k in knots.T], axis=1)
    audio = (0.2 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)
    return Animation(25.0, list(FACEWAREHOUSE_46), values), audio


def main() -> int:
    from backend.errors import InputError
    from backend.facemesh import default_head_mesh
    from backend import facerender
    from backend.facerender import Camera, FaceRenderer
    from backend.headmodel import load as load_head_model
    from backend.runtime.sync_expert import SyncExpert
    from backend.score import VIDEO_STEP, find_expert, score_animation, weights_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expert", default="", help="expert checkpoint (default: the shipped one)")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    try:
        expert = SyncExpert.load(find_expert(args.expert or None))
    except InputError as err:
        print(f"bench_score: {err}", file=sys.stderr)
        return 2
    head = load_head_model()
    mesh, camera = default_head_mesh(), Camera(head.world_to_camera, head.intrinsics)
    anim, audio = random_take(args.seconds)
    weights = weights_for(mesh, anim)
    renderer = FaceRenderer(mesh, camera)
    renderer.render(weights[:16])  # warm caches (and compile the rasterizer)
    rasterizer = "numba rasterizer" if facerender._compiled_rasterize else "numpy rasterizer"
    render_s, lower = timed(lambda: renderer.render(weights))
    embed_s, _ = timed(lambda: expert.embed_take(lower, audio, VIDEO_STEP))
    total_s, _ = timed(lambda: score_animation(anim, audio, mesh, camera, expert))
    print(f"score of a {args.seconds:.0f} s take ({len(weights)} frames at 25 fps), expert width "
          f"{expert.spec.width:g}, {len(renderer.mesh.triangles)} triangles drawn:")
    print(f"  render ({rasterizer})  {render_s:6.2f} s  ({len(weights) / render_s:.0f} frames/s)")
    print(f"  expert embeddings          {embed_s:6.2f} s  (face windows every {VIDEO_STEP} frames)")
    print(f"  whole score                {total_s:6.2f} s  (target: 10 s for 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
