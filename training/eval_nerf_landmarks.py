"""`mouthpiece-train eval-nerf-landmarks --model RUN/model --data CORPUS`: the landmark side on a corpus split.

Prints, over the split's utterances, through the numpy runtime that `mouthpiece animate` uses:
- the lip error: the mean Euclidean distance (mm) of landmarks 48-67 to the truth's, against the closed
  mouth's (the neutral lips, offsets 0); the issue's target is a ratio of at most 0.6;
- blinks per 10 s, drawn from the blink model with seeds --seed .. --seed + --seeds - 1 (their mean), against
  the labels' (target: within 0.5). `--split heldout` takes val and test together: a few minutes of speech
  hold only a few dozen blinks, so one split's own rate is a noisy truth.
With `--librivox FOLDER` (default: the shared LibriVox clips), also DESIGN §5's real-speech sync score
(bilabial closures and open vowels of the inner-lip gap, landmarks 62 over 66, against the clips' reference
phone timings), the number `mouthpiece-train eval` reports for the other models.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .args import option, parse

LIPS = slice(48, 68)
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Args:
    model: str = option(help="checkpoint (path without suffix), e.g. RUN/model")
    data: str = option(help="corpus folder")
    split: str = option("val", "corpus split (heldout: val and test)", choices=("train", "val", "test", "heldout"))
    seed: int = option(0, "first seed of the drawn blinks")
    seeds: int = option(1, "seeds the drawn blink rate is averaged over")
    librivox: str = option(str(REPO.parent / "shared" / "data" / "librivox"),
                           "real-speech clips with phone timings ('' to skip)")
    other_models: str = option(",".join(str(REPO / "assets" / "eval" / name) for name in (
        "cnn_gru_eval.json", "qlearn/qlearn_eval.json", "tacotron/tacotron_eval.json")),
        "published evaluations whose LibriVox rows are shown beside this one")
    out: str = option("", "folder for landmarks.md and landmarks_eval.json (e.g. assets/eval/nerf); "
                          "empty: print the JSON only")


def evaluate(args: Args) -> dict:
    from backend.runtime.nerf_landmarks import NerfLandmarksRuntime

    from .dataset import CorpusDataset

    runtime = NerfLandmarksRuntime.from_checkpoint(args.model)
    splits = ("val", "test") if args.split == "heldout" else (args.split,)
    lip_model, lip_closed, frames, blinks_true, blinks_model, seconds, utterances = 0.0, 0.0, 0, 0, 0.0, 0.0, 0
    for split in splits:
        data = CorpusDataset(args.data, split, "nerf_landmarks", fps=runtime.spec.fps)
        for index, record in enumerate(data.records):
            item = data[index]
            truth = item["offsets"].numpy()[:, LIPS]
            smoothed = runtime.smoothed_audio(data.load_clip(record, np.random.default_rng(0)).audio)
            offsets, _ = runtime.predict_smoothed(smoothed, args.seed + index)
            lip_model += float(np.linalg.norm(offsets[:, LIPS] * 1000.0 - truth, axis=-1).mean(axis=1).sum())
            lip_closed += float(np.linalg.norm(truth, axis=-1).mean(axis=1).sum())
            frames += len(truth)
            blinks_true += int(item["onset"].sum())
            blinks_model += np.mean([runtime.sample_blinks(smoothed, seed + index)[1].sum()
                                     for seed in range(args.seed, args.seed + max(1, args.seeds))])
            seconds += record["duration_s"]
            utterances += 1
    return {"split": args.split, "utterances": utterances, "seconds": round(seconds, 1),
            "lip_error_mm": round(lip_model / frames, 3), "closed_mouth_mm": round(lip_closed / frames, 3),
            "lip_ratio": round(lip_model / max(lip_closed, 1e-9), 3),
            "blinks_per_10s_true": round(10.0 * blinks_true / seconds, 2),
            "blinks_per_10s_model": round(10.0 * blinks_model / seconds, 2)}


def librivox_sync(model: str, folder: str) -> dict:
    """The real-speech sync score of the landmark side's lips over the clips with phone timings."""
    from backend.audio import load_audio
    from backend.headmodel import inner_lip_gap
    from backend.headmodel import load as load_head
    from backend.runtime.nerf_landmarks import NerfLandmarksRuntime

    from .eval_metrics import SyncCounts, read_phones, sync_counts

    runtime, neutral = NerfLandmarksRuntime.from_checkpoint(model), load_head().neutral
    clips = [wav for wav in sorted(Path(folder).glob("*.wav")) if wav.with_suffix(".phone.json").is_file()]
    totals = SyncCounts()
    for wav in clips:
        offsets, _ = runtime.predict(load_audio(wav))
        gap_mm = inner_lip_gap(np.asarray(neutral)[None] + offsets) * 1000.0
        totals = totals + sync_counts(gap_mm, runtime.spec.fps, read_phones(wav.with_suffix(".phone.json")))
    return {"clips": len(clips), **totals.row()}


def write_report(out: Path, result: dict, argv: list[str], other_models: str) -> None:
    """landmarks.md (the command, the held-out table, LibriVox beside the other models) and the JSON."""
    from backend.fileio import write_text_atomic

    from .args import split_list
    from .eval_tacotron_report import other_librivox_rows

    lines = ["# NeRF landmark side: held-out lips and blinks, LibriVox sync", "",
             "`mouthpiece-train eval-nerf-landmarks " + " ".join(argv) + "`", "",
             "| split | utterances | seconds | lip error (mm) | closed mouth (mm) | ratio (target ≤ 0.6) | "
             "blinks / 10 s, labels | blinks / 10 s, model (target ±0.5) |", "|---|---|---|---|---|---|---|---|",
             f"| {result['split']} | {result['utterances']} | {result['seconds']} | {result['lip_error_mm']} | "
             f"{result['closed_mouth_mm']} | {result['lip_ratio']} | {result['blinks_per_10s_true']} | "
             f"{result['blinks_per_10s_model']} |", ""]
    if "librivox" in result:
        lines += ["## LibriVox sync (DESIGN §5)", "", "| model | bilabial closure | open vowels | sync score | source |",
                  "|---|---|---|---|---|"]
        ours = result["librivox"]
        lines.append(f"| nerf-landmarks | {ours['closure_rate']:.3f} ({ours['bilabials']}) | {ours['open_rate']:.3f} "
                     f"({ours['open_vowels']}) | **{ours['sync_score']:.3f}** | this run |")
        for row in other_librivox_rows(split_list(other_models)):
            if "sync_score" in row:
                family = Path(row["source"]).parent.name
                label = row["model"] if family == "eval" else f"{family}: {row['model']}"
                lines.append(f"| {label} | {row.get('closure_rate', float('nan')):.3f} | "
                             f"{row.get('open_rate', float('nan')):.3f} | **{row['sync_score']:.3f}** | {row['source']} |")
        lines.append("")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "landmarks.md", "\n".join(lines))
    write_text_atomic(out / "landmarks_eval.json", json.dumps(result, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    from backend.errors import InputError

    args = parse(Args, argv, "mouthpiece-train eval-nerf-landmarks", __doc__.splitlines()[0])
    try:
        result = evaluate(args)
        if args.librivox and Path(args.librivox).is_dir():
            result["librivox"] = librivox_sync(args.model, args.librivox)
        if args.out:
            write_report(Path(args.out), result, argv if argv is not None else sys.argv[1:], args.other_models)
        print(json.dumps(result))
    except InputError as err:
        print(f"mouthpiece-train eval-nerf-landmarks: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
