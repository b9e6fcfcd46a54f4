"""`mouthpiece-train eval-sync`: the lip-sync expert's score of every model, on held-out voices and LibriVox.

Every ready model (`mouthpiece models`) animates each held-out utterance through the product's own API;
the default head is drawn by the software renderer and scored against the utterance's audio
(backend/score.py). Beside the models: the corpus labels (the reference animation, the floor), the same
labels 5 frames late, and the closed mouth. LibriVox clips have no reference animation, so their rows are
the models and the closed mouth.

Writes assets/eval/sync/README.md and sync_eval.json.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .args import option, parse, split_list

REPO = Path(__file__).resolve().parents[1]
SHIFT_FRAMES = 5
REFERENCE, SHIFTED, CLOSED = "reference labels", f"reference labels, {SHIFT_FRAMES} frames late", "closed mouth"


@dataclass
class Args:
    data: str = option("", "corpus folders with a held-out split, comma separated")
    split: str = option("test", "corpus split to score", choices=("train", "val", "test"))
    max_items: int = option(40, "utterances at most per corpus, evenly spaced")
    librivox: str = option(str(REPO.parent / "shared" / "data" / "librivox"), "LibriVox clips with transcripts")
    models: str = option("", "models to score, comma separated (default: every ready model)")
    expert: str = option("", "lip-sync expert checkpoint (default: the shipped one)")
    out: str = option("assets/eval/sync", "folder for README.md and sync_eval.json")


@dataclass(frozen=True)
class Take:
    """One utterance to score: its audio, its words and (corpus utterances) its reference animation."""
    name: str
    audio: str
    text: str
    language: str
    reference: object | None  # backend.animation.Animation


def corpus_takes(folders: list[str], split: str, max_items: int) -> list[Take]:
    from backend.animation import Animation

    from .corpus.manifest import read_manifest
    from .eval_corpus import evenly_spaced

    takes = []
    for folder in folders:
        records = [r for r in read_manifest(folder, strict=True) if r["split"] == split]
        for record in evenly_spaced(records, max_items):
            with np.load(Path(folder) / record["labels"], allow_pickle=False) as labels:
                reference = Animation(float(labels["fps"]), _channels(), labels["weights"])
            audio = Path(record["audio"])
            takes.append(Take(f"{Path(folder).name}/{record['id']}", str(audio if audio.is_absolute()
                                                                         else Path(folder) / audio),
                              record.get("text", ""), record.get("language", "en"), reference))
    return takes


def librivox_takes(folder: str) -> list[Take]:
    takes = []
    for wav in sorted(Path(folder).glob("*.wav")):
        text = wav.with_suffix(".txt")
        takes.append(Take(f"librivox/{wav.stem}", str(wav), text.read_text("utf-8").strip() if text.is_file() else "",
                          "en", None))
    return takes


def _channels() -> list[str]:
    from backend.rig import FACEWAREHOUSE_46

    return list(FACEWAREHOUSE_46)


def ready_models(names: str) -> list[str]:
    from backend.models import get_model, model_names

    ready = [name for name in model_names() if get_model(name).availability()[0]]
    wanted = list(split_list(names)) or ready
    return [name for name in wanted if name in ready]


def animate(model: str, take: Take):
    """The model's animation of the take (None when the model cannot take this input)."""
    from backend.api import AnimateOptions, animate_audio
    from backend.post import PostOptions

    options = AnimateOptions(model=model, transcript=take.text or None, language=take.language, fps=25.0,
                             post=PostOptions(blinks=False))
    return animate_audio(take.audio, options)


def score_rows(takes: list[Take], models: list[str], scorer: Callable, notes: list[str]) -> dict[str, list[dict]]:
    from backend.animation import Animation
    from backend.audio import load_audio
    from backend.score import shifted

    rows: dict[str, list[dict]] = {}
    for take in takes:
        audio = load_audio(take.audio)
        candidates: dict[str, Callable] = {name: (lambda name=name: animate(name, take)) for name in models}
        if take.reference is not None:
            candidates[REFERENCE] = lambda: take.reference
            candidates[SHIFTED] = lambda: shifted(take.reference, SHIFT_FRAMES)
        candidates[CLOSED] = lambda: Animation(25.0, _channels(), np.zeros((2, 46), np.float32))
        for name, make in candidates.items():
            try:
                rows.setdefault(name, []).append(scorer(make(), audio))
            except Exception as err:  # one model failing on one take must not end the evaluation
                notes.append(f"{name} on {take.name}: {type(err).__name__}: {err}")
    return rows


def summary(scores: list[dict]) -> dict:
    keys = ("confidence", "in_time_confidence", "distance", "expert")
    table = {key: float(np.mean([s[key] for s in scores])) for key in keys}
    offsets = np.array([s["offset_frames"] for s in scores])
    table.update(takes=len(scores), in_sync_share=float(np.mean(np.abs(offsets) <= 1)),
                 median_offset=float(np.median(offsets)))
    return table


class ExpertScorer:
    """Scores 46-weight or landmark takes on the default head against 16 kHz audio (backend/score.py)."""

    def __init__(self, expert_path: str = ""):
        from backend.facemesh import default_head_mesh
        from backend.facerender import Camera
        from backend.headmodel import load as load_head_model
        from backend.runtime.sync_expert import SyncExpert
        from backend.score import find_expert

        self.expert = SyncExpert.load(find_expert(expert_path or None))
        head = load_head_model()
        self.mesh, self.camera = default_head_mesh(), Camera(head.world_to_camera, head.intrinsics)

    def __call__(self, anim, audio: np.ndarray) -> dict:
        from backend.score import score_animation

        n = int(len(audio) / 16000 * anim.fps)
        if anim.n_frames < n:  # a closed mouth (or a short model output) holds its last frame to the end
            anim = type(anim)(anim.fps, anim.channels, np.concatenate(
                [anim.values, np.repeat(anim.values[-1:], n - anim.n_frames, 0)]), anim.kind, anim.meta)
        return score_animation(anim, audio, self.mesh, self.camera, self.expert).to_dict()


def write_report(out: Path, results: dict) -> None:
    from backend.fileio import write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "sync_eval.json", json.dumps(results, indent=1) + "\n")
    lines = ["# Lip-sync expert scores of every model", "",
             "`mouthpiece-train eval-sync` " + results["command"], "",
             "Each take is animated by the model, drawn on the default head by the software renderer and scored "
             "by the shipped lip-sync expert (backend/score.py). LSE-C and LSE-D are Wav2Lip's formulas over "
             "this expert's embeddings, so they compare rows here, not with SyncNet's published numbers. "
             "LSE-C in time is the same contrast read at offset 0 (how clearly the take is in sync as it "
             "stands); Expert is the coursework's -log(d) at offset 0 (lower is better); in sync is the "
             "share of takes whose best offset is within one frame of 0.", ""]
    for section, title in (("held_out", "Held-out voices and speakers"), ("librivox", "LibriVox clips (real speech)")):
        table = results.get(section) or {}
        if not table:
            continue
        lines += [f"## {title}", "", "| row | takes | LSE-C ↑ | LSE-C in time ↑ | LSE-D ↓ | Expert ↓ | in sync ↑ "
                  "| median offset |", "|---|---|---|---|---|---|---|---|"]
        for name, row in sorted(table.items(), key=lambda item: -item[1]["in_time_confidence"]):
            lines.append(f"| {name} | {row['takes']} | {row['confidence']:.3f} | {row['in_time_confidence']:.3f} "
                         f"| {row['distance']:.3f} | {row['expert']:.3f} | {100 * row['in_sync_share']:.0f}% "
                         f"| {row['median_offset']:+.0f} |")
        lines.append("")
    if results["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in results["notes"][:30]] + [""]
    write_text_atomic(out / "README.md", "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train eval-sync", __doc__.splitlines()[0])
    from backend.errors import MouthpieceError

    try:
        scorer = ExpertScorer(args.expert)
        models = ready_models(args.models)
        notes: list[str] = []
        held_out = score_rows(corpus_takes(list(split_list(args.data)), args.split, args.max_items), models,
                              scorer, notes)
        librivox = score_rows(librivox_takes(args.librivox), models, scorer, notes) if args.librivox else {}
    except MouthpieceError as err:
        print(f"mouthpiece-train eval-sync: {err}", file=sys.stderr)
        return 2
    results = {"command": " ".join(argv if argv is not None else sys.argv[1:]), "models": models,
               "expert": {"step": scorer.expert.record.get("step")}, "notes": notes,
               "held_out": {name: summary(scores) for name, scores in held_out.items()},
               "librivox": {name: summary(scores) for name, scores in librivox.items()}}
    write_report(Path(args.out), results)
    print(json.dumps({k: results[k] for k in ("held_out", "librivox")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
