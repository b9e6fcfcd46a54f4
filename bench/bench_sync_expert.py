"""Speed of the lip-sync expert's numpy runtime: a minute of video (1500 frames at 25 fps).

    .venv/bin/python bench/bench_sync_expert.py [--checkpoint RUN/model] [--width 0.5] [--repeats 3]

Prints the seconds for the log-mel and its windows, the face embeddings (1496 five-frame windows) and the
audio embeddings, best of --repeats, with BLAS held to one thread and the runtime's passes side by side on
its PASS_THREADS threads; then torch's eval-mode time for the same face windows on one thread, for scale.
The weights are random (speed does not depend on them); --checkpoint only sets the size.
"""
from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    from backend import wav2lip_mel
    from backend.runtime.sync_expert import PASS_THREADS, SyncExpert, SyncExpertSpec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="", help="a sync-expert checkpoint (default: random weights)")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--frames", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from training.families.sync_expert import SyncExpert as TorchExpert
    from training.families.sync_expert import SyncExpertConfig

    torch.set_num_threads(1)
    spec = SyncExpert.load(args.checkpoint).spec if args.checkpoint else SyncExpertSpec(args.width, args.embedding)
    model = TorchExpert(SyncExpertConfig(width=spec.width, embedding=spec.embedding)).eval()
    runtime = SyncExpert(spec, {k: v.numpy() for k, v in model.state_dict().items()})
    rng = np.random.default_rng(0)
    lower = rng.integers(0, 256, (args.frames, 48, 96, 3), dtype=np.uint8)
    audio = (0.3 * rng.standard_normal(int(args.frames / 25 * 16000))).astype(np.float32)
    windows = wav2lip_mel.mel_windows(wav2lip_mel.log_mel(audio), args.frames - 4)

    mel_s = best_of(args.repeats, lambda: wav2lip_mel.mel_windows(wav2lip_mel.log_mel(audio), args.frames - 4))
    faces_s = best_of(args.repeats, lambda: runtime.embed_faces(lower))
    audio_s = best_of(args.repeats, lambda: runtime.embed_audio(windows))
    halved_s = best_of(args.repeats, lambda: runtime.embed_faces(lower, step=2))
    print(f"sync expert (width {runtime.spec.width:g}, embedding {runtime.spec.embedding}), {args.frames} frames, "
          f"BLAS on one thread, {PASS_THREADS} passes side by side:")
    print(f"  log-mel + windows   {mel_s:6.2f} s")
    print(f"  face embeddings     {faces_s:6.2f} s  ({(args.frames - 4) / faces_s:.0f} windows/s)")
    print(f"  audio embeddings    {audio_s:6.2f} s")
    print(f"  total               {mel_s + faces_s + audio_s:6.2f} s")
    print(f"  face embeddings every 2nd frame (sync_measures video_step=2)  {halved_s:6.2f} s")

    def torch_faces():
        with torch.no_grad():
            for start in range(0, args.frames - 4, 64):
                chunk = lower[start:start + 68].astype(np.float32) / 255.0
                stacked = np.stack([chunk[i:i + 5] for i in range(len(chunk) - 4)])
                model.embed_faces(torch.from_numpy(stacked).permute(0, 1, 4, 2, 3).reshape(-1, 15, 48, 96))

    print(f"  torch face embeddings on one thread, for scale: {best_of(1, torch_faces):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
