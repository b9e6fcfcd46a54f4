"""The report of `mouthpiece-train eval-nerf` (training/eval_nerf.py): README.md with the command, the table
in the paper's shape and its notes, and nerf_eval.json."""
from __future__ import annotations

import json
import math
from pathlib import Path

COLUMNS = (("PSNR ↑", "psnr", "{:.2f}"), ("SSIM ↑", "ssim", "{:.3f}"), ("LMD ↓ (px)", "lmd", "{:.2f}"),
           ("LMD input ↓ (px)", "lmd_input", "{:.2f}"), ("LMD of the landmarks ↓ (px)", "lmd_landmarks", "{:.2f}"),
           ("LSE-C ↑", "lse_c", "{:.3f}"),
           ("LSE-D ↓", "lse_d", "{:.3f}"), ("offset (frames)", "offset", "{:+.1f}"))
NOTES = """Notes:
- LPIPS and FID: not available offline (their network weights cannot be had here); SSIM stands in.
- The audio feature is the 80-band log-mel of each frame (training/nerf/conditions.py), a substitute for
  DeepSpeech's features, which are not available offline.
- The ablation rows are runs trained with `--no-landmarks`, `--no-blink`, or `--no-landmarks` with audio
  on (audio-only, ER-NeRF style), labelled as given on the command line; "conditions" is what each run
  was trained to hear.
- A "driven by nerf-landmarks" row renders the same frames from the landmark side's landmarks and blinks
  of each utterance's audio (the rest face plus predicted offsets; the product's `mouthpiece nerf render`
  path), so its PSNR and LMD also carry the landmark side's error; the other rows use the true conditions.
  Its "LMD of the landmarks" is measured directly on the landmark side's output: its mouth points and the
  true ones, both projected through the frame's camera, each set centred.
- LMD is measured with MediaPipe Face Mesh (68 iBUG points); "faces" counts the frames it found a face in
  (render / real); frames without a face in either are left out of LMD."""


def cell(value, fmt: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return fmt.format(value)


def finite_json(value):
    """JSON without NaN or Infinity: non-finite numbers become null."""
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_lines(results: dict) -> list[str]:
    lines = ["# NeRF talking head, the paper's table shape", "", f"`mouthpiece-train eval-nerf {results['command']}`",
             "", eval_doc(), "",
             "| row | conditions | frames | faces | " + " | ".join(t for t, _, _ in COLUMNS) + " | sync clips "
             "| LPIPS | FID |", "|---|---|---|---|" + "---|" * len(COLUMNS) + "---|---|---|"]
    for name, row in results["rows"].items():
        faces = (f"{row['faces_render']} / {row['faces_real']}" if "faces_render" in row
                 else f"– / {row.get('faces_real', 0)}")
        cells = [cell(row.get(key), fmt) for _, key, fmt in COLUMNS]
        lines.append(f"| {name} | {row['conditions']} | {row['frames']} | {faces} | " + " | ".join(cells)
                     + f" | {row.get('sync_clips', '–')} | n/a offline | n/a offline |")
    if not results["expert"]:
        lines += ["", "No lip-sync expert was found, so there are no sync numbers."]
    if not results["tracker"]:
        lines += ["", "mediapipe is not installed, so there are no LMD numbers."]
    return lines + ["", NOTES, ""]


def write_report(out: Path, results: dict) -> None:
    from backend.fileio import write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "nerf_eval.json", json.dumps(finite_json(results), indent=1) + "\n")
    write_text_atomic(out / "README.md", "\n".join(report_lines(results)))



def eval_doc() -> str:
    """What eval-nerf measures: its module docstring past the first line."""
    from . import eval_nerf

    return eval_nerf.__doc__.split("\n\n", 1)[1].strip()
