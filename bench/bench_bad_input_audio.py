"""Decoding long soundtracks: peak memory and time of `load_audio` on a 20-minute file per format.

    .venv/bin/python bench/bench_bad_input_audio.py [--minutes 20] [--formats wav48s,flac,m4a,opus]

Each file (a tone with a speech-like envelope, made by ffmpeg in a temporary folder that is removed
afterwards) is decoded in a fresh Python process, which reports its peak resident memory before and after
the decode; then a 3 s clip shows the cost of one call (mostly ffmpeg's start). The output alone is
64 kB per second (16 kHz float32 mono): 77 MB (73 MiB) for 20 minutes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name -> (file suffix, ffmpeg output arguments)
FORMATS = {
    "wav48s": (".wav", ["-ar", "48000", "-ac", "2", "-c:a", "pcm_s16le"]),
    "wav-float": (".wav", ["-ar", "44100", "-ac", "1", "-c:a", "pcm_f32le"]),
    "flac": (".flac", ["-ar", "44100", "-ac", "2"]),
    "mp3": (".mp3", ["-ar", "44100", "-ac", "2", "-b:a", "128k"]),
    "m4a": (".m4a", ["-ar", "48000", "-ac", "2", "-c:a", "aac", "-b:a", "128k"]),
    "opus": (".opus", ["-ar", "48000", "-ac", "2", "-c:a", "libopus", "-b:a", "64k"]),
}

MEASURE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from backend.audio import load_audio
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
audio = load_audio(sys.argv[1])
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_mb": before / 1024, "after_mb": after / 1024, "decode_s": seconds,
                  "output_mb": audio.nbytes / 2**20, "duration_s": len(audio) / 16000}))
"""


def make_soundtrack(folder: Path, name: str, minutes: float) -> Path:
    suffix, arguments = FORMATS[name]
    path = folder / f"long-{name}{suffix}"
    source = f"sine=frequency=220:sample_rate=48000:duration={minutes * 60}"
    envelope = "volume='0.5*(1-cos(2*PI*3*t))':eval=frame"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-af", envelope,
                    *arguments, str(path)], check=True)
    return path


def measure(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(REPO)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


def per_call_overhead(folder: Path, repeats: int = 20) -> float:
    """Milliseconds to decode a 3 s WAV, mostly the start of the ffmpeg process."""
    import time

    sys.path.insert(0, str(REPO))
    from backend.audio import load_audio

    path = make_soundtrack(folder, "wav48s", 0.05)
    load_audio(path)
    start = time.perf_counter()
    for _ in range(repeats):
        load_audio(path)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--formats", default="wav48s,flac,m4a,opus")
    args = parser.parse_args()
    print(f"{'format':<10} {'file MB':>8} {'audio s':>8} {'decode s':>9} {'output MB':>10} "
          f"{'RSS before':>11} {'peak RSS':>9} {'peak - before':>14}")
    with tempfile.TemporaryDirectory(prefix="mouthpiece-bench-") as folder:
        for name in args.formats.split(","):
            path = make_soundtrack(Path(folder), name, args.minutes)
            row = measure(path)
            print(f"{name:<10} {path.stat().st_size / 2**20:>8.0f} {row['duration_s']:>8.0f} {row['decode_s']:>9.2f} "
                  f"{row['output_mb']:>10.0f} {row['before_mb']:>11.0f} {row['after_mb']:>9.0f} "
                  f"{row['after_mb'] - row['before_mb']:>14.0f}")
            path.unlink()
        print(f"a 3 s clip decodes in {per_call_overhead(Path(folder)):.0f} ms")


if __name__ == "__main__":
    main()
