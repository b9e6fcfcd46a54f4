"""Lines of dialog per minute: `mouthpiece batch` (one launch for all lines) against one launch per line.

    .venv/bin/python bench/bench_batch.py [--lines 100] [--workers 2] [--blender PYTHON_WITH_BPY_OR_BLENDER]

Text lines on the phoneme path. Two cases, each timed both ways:
  json:  `mouthpiece batch` over a manifest  vs  `mouthpiece animate` once per line;
  blend: `mouthpiece batch` with a head (one Blender launch for all .blend files)  vs
         `blender_addon/batch.py` (the README's headless command) once per line.
--skip-blend leaves out the second case (no Blender needed).
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.batch_cli import is_python  # noqa: E402

HEAD = ROOT / "assets" / "head.blend"
WORDS = ("Bob made a map of the moon.", "Maybe the big brown bear will move upstairs.",
         "Five fine fish swam past the ferry.", "We will meet at the old mill at noon.",
         "Please pass the plums and the pepper.", "Who knew the view would be this wide?")


def lines_text(count: int) -> list[str]:
    return [f"{WORDS[i % len(WORDS)]} Take {i + 1}." for i in range(count)]


def write_manifest(path: Path, texts: list[str], head: Path | None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", *(["blend"] if head else [])])
        for i, text in enumerate(texts):
            writer.writerow([f"line{i:04d}", text, *([str(head)] if head else [])])
    return path


def timed(command: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run([str(c) for c in command], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{done.stderr[-2000:]}")
    return elapsed


def one_launch(folder: Path, texts: list[str], workers: int, blender: str | None) -> float:
    folder.mkdir()
    manifest = write_manifest(folder / "lines.csv", texts, HEAD if blender else None)
    command = [sys.executable, "-m", "backend.cli", "batch", manifest, "--out-dir", folder / "out",
               "--workers", str(workers)]
    return timed(command + (["--blender", blender] if blender else []))


def launch_per_line(folder: Path, texts: list[str], blender: str | None) -> float:
    folder.mkdir()
    total = 0.0
    for i, text in enumerate(texts):
        if blender is None:
            command = [sys.executable, "-m", "backend.cli", "animate", "--text", text, "--out",
                       folder / f"line{i:04d}.json", "--speech-out", folder / f"line{i:04d}.wav", "--quiet"]
        else:
            script = [ROOT / "blender_addon" / "batch.py", "--", "--text", text, "--out", folder / f"line{i:04d}.blend"]
            command = [blender, *script] if is_python(blender) else [blender, "-b", HEAD, "--python", *script]
        total += timed(command)
    return total


def default_blender() -> str | None:
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    bpy5 = ROOT / ".venv-bpy5" / "bin" / "python"
    return str(bpy5) if bpy5.is_file() else shutil.which("blender")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--blender", default=default_blender())
    parser.add_argument("--skip-blend", action="store_true")
    args = parser.parse_args()
    texts = lines_text(args.lines)
    cases = [("json", None)] + ([] if args.skip_blend or not args.blender else [("blend", args.blender)])
    print(f"{args.lines} text lines, {args.workers} workers, Blender: {args.blender}")
    print(f"{'case':<6} {'one launch (lines/min)':>24} {'launch per line (lines/min)':>29} {'speed-up':>9}")
    for name, blender in cases:
        with tempfile.TemporaryDirectory(prefix="mouthpiece-bench-") as scratch:
            batch_s = one_launch(Path(scratch) / "batch", texts, args.workers, blender)
            each_s = launch_per_line(Path(scratch) / "each", texts, blender)
        batch_rate, each_rate = 60 * len(texts) / batch_s, 60 * len(texts) / each_s
        print(f"{name:<6} {batch_rate:>16.1f} ({batch_s:5.1f} s) {each_rate:>21.1f} ({each_s:5.1f} s) "
              f"{batch_rate / each_rate:>8.1f}x", flush=True)


if __name__ == "__main__":
    main()
