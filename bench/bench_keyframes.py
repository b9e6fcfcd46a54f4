"""Keyframe writer speed, and seconds from Generate to keyframes per minute of audio.

    .venv/bin/python bench/bench_keyframes.py [--frames 18000] [--insert-keys 2000]

Prints: the bulk writer's keys per second for 46 channels x N frames, `keyframe_insert`'s keys per
second measured in the same run (on a sample of keys), their ratio, and for each usable model the
seconds from request to keyframes on the head per minute of audio (model load excluded).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from blender_addon.apply import apply_animation  # noqa: E402
from blender_addon.backend.animation import Animation  # noqa: E402
from blender_addon.backend.rig import FACEWAREHOUSE_46  # noqa: E402
from blender_addon.generation import GenerateRequest, model_availability, run_in_process  # noqa: E402
from blender_fixtures import make_head  # noqa: E402

LIBRIVOX = ROOT.parent / "shared" / "data" / "librivox"


@dataclass(frozen=True)
class BenchArgs:
    frames: int = 18000  # frames per channel for the writer (10 min at 30 fps)
    insert_frames: int = 18000  # keys written with keyframe_insert into one channel, for the comparison


def fresh_head() -> bpy.types.Object:
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.render.fps = 30
    return make_head("Head", FACEWAREHOUSE_46)


def bench_writer(frames: int) -> float:
    head = fresh_head()
    values = np.random.default_rng(0).uniform(0, 1, (frames, 46)).astype(np.float32)
    anim = Animation(30.0, list(FACEWAREHOUSE_46), values)
    start = time.perf_counter()
    applied = apply_animation(head, anim, bpy.context.scene, 1)
    seconds = time.perf_counter() - start
    return applied.write.keys_written / seconds


def bench_keyframe_insert(frames: int) -> float:
    """keyframe_insert filling one channel's curve to `frames` keys; every channel costs the same."""
    head = fresh_head()
    block = head.data.shape_keys.key_blocks["JawOpen"]
    values = np.random.default_rng(1).uniform(0, 1, frames)
    start = time.perf_counter()
    for i in range(frames):
        block.value = float(values[i])
        block.keyframe_insert("value", frame=1 + i)
    return frames / (time.perf_counter() - start)


def clips_with_transcripts() -> list[tuple[Path, str]]:
    return [(wav, wav.with_suffix(".txt").read_text().strip()) for wav in sorted(LIBRIVOX.glob("*.wav"))
            if wav.with_suffix(".txt").is_file()]


def bench_generate(model: str, clips: list[tuple[Path, str]]) -> tuple[float, float, float]:
    """(seconds of audio, seconds in the backend, seconds writing keys) over all clips, after one warm-up."""
    head = fresh_head()
    scene = bpy.context.scene
    requests = [GenerateRequest(audio_path=str(wav), transcript=text, model=model, fps=30.0) for wav, text in clips]
    run_in_process(requests[0], lambda f, m: None)  # loads the model and the speech tools
    audio_s = backend_s = write_s = 0.0
    for request in requests:
        start = time.perf_counter()
        anim = run_in_process(request, lambda f, m: None)
        middle = time.perf_counter()
        apply_animation(head, anim, scene, 1)
        backend_s += middle - start
        write_s += time.perf_counter() - middle
        audio_s += anim.duration_s
    return audio_s, backend_s, write_s


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=BenchArgs.frames)
    parser.add_argument("--insert-frames", type=int, default=BenchArgs.insert_frames)
    args = BenchArgs(**vars(parser.parse_args(argv)))
    bulk = bench_writer(args.frames)
    slow = bench_keyframe_insert(args.insert_frames)
    print(f"blender {bpy.app.version_string}")
    print(f"writer, 46 channels x {args.frames} frames: {bulk / 1e6:.2f} M keys/s")
    print(f"keyframe_insert, 1 channel x {args.insert_frames} frames: {slow:,.0f} keys/s; "
          f"writer is {bulk / slow:,.0f}x faster")
    clips = clips_with_transcripts()
    if not clips:
        print(f"no clips in {LIBRIVOX}: skipping Generate timings")
        return 0
    from blender_addon.backend.models import model_names

    for model in model_names():
        usable, why = model_availability(model)
        if not usable:
            print(f"{model}: not measured ({why})")
            continue
        audio_s, backend_s, write_s = bench_generate(model, clips)
        minutes = audio_s / 60
        print(f"{model} (audio + transcript, {len(clips)} clips, {audio_s:.1f} s of audio): "
              f"{(backend_s + write_s) / minutes:.2f} s per minute of audio from Generate to keyframes "
              f"(backend {backend_s / minutes:.2f} s, writing keys {write_s / minutes:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
