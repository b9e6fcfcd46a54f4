"""Speed of the torch-free CNN+GRU runtime: one minute of speech from the WAV file to 46 weights per frame.

    .venv/bin/python bench/bench_cnn_gru_runtime.py [--checkpoint assets/models/cnn_gru/model] [--repeats 5]

The audio is the LibriVox reference clips (../shared/data/librivox) joined and cut to 60 s, written to a
temporary WAV. Each repeat times decoding, features and inference. For comparison it also times torch
running the same checkpoint on the same windows (the training code path), where torch is installed.
Prints figures only; nothing is asserted.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.audio import SAMPLE_RATE, load_audio, save_wav  # noqa: E402
from backend.features import spectrogram_windows, stft_steps  # noqa: E402
from backend.runtime.cnn_gru import CnnGruRuntime  # noqa: E402

LIBRIVOX = REPO.parent / "shared" / "data" / "librivox"


def one_minute_of_speech() -> np.ndarray:
    clips = [load_audio(path) for path in sorted(LIBRIVOX.glob("*.wav"))]
    if not clips:
        raise SystemExit(f"no reference clips in {LIBRIVOX}")
    audio = np.concatenate(clips)
    while len(audio) < 60 * SAMPLE_RATE:
        audio = np.concatenate([audio, audio])
    return audio[: 60 * SAMPLE_RATE]


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def torch_seconds(checkpoint: Path, audio: np.ndarray, repeats: int) -> float | None:
    try:
        import torch

        from backend import checkpoints
        from training.families.cnn_gru import CnnGru, CnnGruConfig
    except ImportError:
        return None
    torch.set_num_threads(1)
    saved = checkpoints.load(checkpoint)
    model = CnnGru(CnnGruConfig.from_dict(saved.config["model"])).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in saved.tensors.items()})

    def run():
        windows = spectrogram_windows(audio, SAMPLE_RATE, model.config.fps)
        with torch.no_grad():
            model(torch.from_numpy(windows)[None, :, None])

    return best_of(repeats, run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(REPO / "assets" / "models" / "cnn_gru" / "model"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import os

    runtime = CnnGruRuntime.from_checkpoint(args.checkpoint)
    audio = one_minute_of_speech()
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "minute.wav"
        save_wav(wav, audio, SAMPLE_RATE)
        end_to_end = best_of(args.repeats, lambda: runtime.predict_audio(load_audio(wav), SAMPLE_RATE))
        decode = best_of(args.repeats, lambda: load_audio(wav))
    features = best_of(args.repeats, lambda: stft_steps(audio, SAMPLE_RATE, runtime.spec.fps))
    frames = len(runtime.predict_audio(audio, SAMPLE_RATE))
    print(f"checkpoint: {args.checkpoint} ({runtime.spec.variant}, {runtime.spec.fps:g} fps); "
          f"CPU cores visible: {os.cpu_count()}; best of {args.repeats}")
    print(f"numpy runtime, WAV file -> weights, 60 s of speech: {end_to_end:.3f} s "
          f"({end_to_end / 60:.4f} s per second of audio, {60 / end_to_end:.0f}x real time; target <= 1 s)")
    print(f"  of which decoding {decode:.3f} s, STFT {features:.3f} s; {frames} frames, "
          f"{frames / end_to_end:.0f} frames/s")
    torch_time = torch_seconds(Path(args.checkpoint), audio, max(1, args.repeats // 2))
    if torch_time is not None:
        print(f"torch (1 thread), same checkpoint, per-window features: {torch_time:.3f} s "
              f"-> the numpy runtime takes {end_to_end / torch_time:.2f}x torch's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
