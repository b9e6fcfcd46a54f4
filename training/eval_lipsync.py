"""`mouthpiece-train eval-lipsync`: the lip-sync generator in the coursework's Table 4.1 shape.

On the held-out clips of a faces set built with `--full-faces` (voices and identities no training clip
has), each row redraws every frame's lower face:
- reconstruction (the clip's own audio): masked PSNR, variance of the Laplacian inside the mask and SSIM
  (in place of the VGG perceptual number, whose weights cannot be had offline) against the real frames,
  and the Expert measure (the coursework's -log d at offset 0, every 5th window; lower is better);
- dubbing (the next held-out clip's audio, cut or padded to the clip): Expert and LSE-C against that audio.
Rows: copy-input (the frames unchanged), each generator given, and the real frames with their own audio
(the floor). Writes assets/eval/lipsync/README.md and lipsync_eval.json.
"""
from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .args import option, parse, split_list

COPY, REAL = "copy-input", "real frames"


@dataclass
class Args:
    faces: str = option(help="faces set built with --full-faces")
    generators: str = option("", "NAME=RUN/model pairs, comma separated")
    expert: str = option("", "lip-sync expert checkpoint (default: the shipped one)")
    split: str = option("test", "held-out split", choices=("val", "test"))
    max_clips: int = option(20, "clips at most, evenly spaced")
    out: str = option("assets/eval/lipsync", "folder for README.md and lipsync_eval.json")


@dataclass(frozen=True)
class Clip:
    faces: np.ndarray  # [T, 96, 96, 3]
    audio: np.ndarray  # 16 kHz mono


def held_out_clips(folder: str, split: str, max_clips: int) -> list[Clip]:
    import soundfile

    from .eval_corpus import evenly_spaced
    from .faces_dataset import load_frames, read_faces_set

    chosen = evenly_spaced([c for c in read_faces_set(folder) if c.split == split], max_clips)
    return [Clip(load_frames(c, "face", (96, 96)), soundfile.read(str(c.audio), dtype="float32")[0]) for c in chosen]


def fitted(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """Audio cut or zero-padded to n_frames at 25 fps."""
    n = int(round(n_frames / 25.0 * 16000))
    return np.pad(audio[:n], (0, max(0, n - len(audio))))


def redraw(generate, faces: np.ndarray, audio: np.ndarray) -> np.ndarray:
    """Every frame's crop redrawn by a generator for `audio`, blended through its mask."""
    from .lipsync import frame_mels, reference_crops

    references, mels = reference_crops(faces), frame_mels(audio, len(faces), 25.0)
    out = []
    for start in range(0, len(faces), 32):
        rgb, mask = generate(faces[start:start + 32], references, mels[start:start + 32])
        alpha = mask[..., None]
        out.append(np.round(alpha * rgb + (1 - alpha) * faces[start:start + 32]).astype(np.uint8))
    return np.concatenate(out)


def sync_numbers(expert, faces: np.ndarray, audio: np.ndarray) -> dict:
    from backend.score import score_lower_faces

    score = score_lower_faces(expert, np.ascontiguousarray(faces[:, 48:]), audio)
    return {"expert": score.expert, "lse_c": score.confidence, "lse_d": score.distance}


def image_numbers(made: np.ndarray, real: np.ndarray) -> dict:
    from .eval_lipsync_metrics import laplacian_variance, masked_psnr, ssim
    from .lipsync_data import lower_face_mask

    mask = lower_face_mask()
    return {"psnr": float(np.mean([masked_psnr(m, r, mask) for m, r in zip(made, real)])),
            "laplacian_variance": float(np.mean([laplacian_variance(m, mask) for m in made])),
            "ssim": float(np.mean([ssim(m, r, mask) for m, r in zip(made, real)]))}


def evaluate(clips: list[Clip], generators: dict, expert) -> dict[str, dict]:
    rows: dict[str, list[dict]] = {}
    for index, clip in enumerate(clips):
        other = fitted(clips[(index + 1) % len(clips)].audio, len(clip.faces))
        own = fitted(clip.audio, len(clip.faces))
        rows.setdefault(REAL, []).append({**sync_numbers(expert, clip.faces, own),
                                          **image_numbers(clip.faces, clip.faces)})
        copy = sync_numbers(expert, clip.faces, other)
        rows.setdefault(COPY, []).append({f"dub_{k}": v for k, v in copy.items()})
        for name, generate in generators.items():
            rebuilt = redraw(generate, clip.faces, own)
            dubbed = redraw(generate, clip.faces, other)
            rows.setdefault(name, []).append({**sync_numbers(expert, rebuilt, own), **image_numbers(rebuilt, clip.faces),
                                              **{f"dub_{k}": v for k, v in sync_numbers(expert, dubbed, other).items()}})
    def mean(values: list[float]) -> float | None:  # None where undefined (the real frames' own PSNR)
        value = float(np.mean(values))
        return value if np.isfinite(value) else None

    return {name: {key: mean([r[key] for r in values]) for key in values[0]} | {"clips": len(values)}
            for name, values in rows.items()}


def write_report(out: Path, results: dict) -> None:
    from backend.fileio import write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "lipsync_eval.json", json.dumps(results, indent=1) + "\n")
    columns = (("Expert ↓ (own audio)", "expert", "{:.3f}"), ("PSNR ↑", "psnr", "{:.2f}"),
               ("vL ↑", "laplacian_variance", "{:.1f}"), ("SSIM ↑", "ssim", "{:.3f}"),
               ("Expert ↓ (new audio)", "dub_expert", "{:.3f}"), ("LSE-C ↑ (new audio)", "dub_lse_c", "{:.3f}"))
    lines = ["# Lip-sync generator, Table 4.1 shape", "", f"`mouthpiece-train eval-lipsync {results['command']}`", "",
             __doc__.split("\n\n", 1)[1].strip(), "",
             "| row | clips | " + " | ".join(title for title, _, _ in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for name, row in results["rows"].items():
        cells = [fmt.format(row[key]) if row.get(key) is not None else "–" for _, key, fmt in columns]
        lines.append(f"| {name} | {row['clips']} | " + " | ".join(cells) + " |")
    write_text_atomic(out / "README.md", "\n".join(lines + [""]))


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train eval-lipsync", __doc__.splitlines()[0])
    from backend.errors import MouthpieceError
    from backend.runtime.sync_expert import SyncExpert
    from backend.score import find_expert

    from .lipsync import load_generator

    try:
        expert = SyncExpert.load(find_expert(args.expert or None))
        pairs = [pair.split("=", 1) for pair in split_list(args.generators)]
        if any(len(pair) != 2 for pair in pairs):
            raise MouthpieceError(f"--generators takes NAME=RUN/model pairs, not {args.generators!r}")
        generators = {name: load_generator(path) for name, path in pairs}
        clips = held_out_clips(args.faces, args.split, args.max_clips)
        if len(clips) < 2:
            raise MouthpieceError(f"{args.faces}: fewer than 2 {args.split} clips with whole faces")
        rows = evaluate(clips, generators, expert)
    except MouthpieceError as err:
        print(f"mouthpiece-train eval-lipsync: {err}", file=sys.stderr)
        return 2
    results = {"command": shlex.join(argv if argv is not None else sys.argv[1:]), "rows": rows}
    write_report(Path(args.out), results)
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
