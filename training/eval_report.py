"""The evaluation's files: cnn_gru_eval.md (tables), cnn_gru_eval.json, and PNG plots."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.fileio import atomic_path, write_text_atomic
from backend.rig import CHANNEL_INDEX

TRUTH = "Ground truth"
ROW_ORDER = ("CNN-static", "CNN+LSTM", "CNN+GRU", "CNN+GRU (causal)", "Phoneme path (transcript)",
             "Phoneme path (recognized)", "Phoneme path (DTW alignment)", "Lazy (closed mouth)", TRUTH)
ZERO_FOR_TRUTH = ("weight_mse", "lip_rmse_mm", "temporal_smoothness_error")


@dataclass(frozen=True)
class Column:
    title: str
    key: str
    fmt: str
    count_key: str | None = None  # shown in brackets after the value
    bold: bool = False

    def cell(self, name: str, row: dict) -> str:
        if name == TRUTH and self.key in ZERO_FOR_TRUTH:
            return "0"
        value = row.get(self.key)
        text = "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else self.fmt.format(value)
        if self.count_key:
            text += f" ({row[self.count_key]})"
        return f"**{text}**" if self.bold else text


MSE = Column("Weight MSE", "weight_mse", "{:.5f}")
LIP = Column("Lip RMSE (mm)", "lip_rmse_mm", "{:.2f}")
SMOOTH_ERROR = Column("Temporal smoothness err.", "temporal_smoothness_error", "{:.2e}")
SELF_SMOOTH = Column("Self-smoothness", "self_smoothness", "{:.3e}")
UTTERANCES = Column("Utterances", "utterances", "{}")
CLOSURE = Column("Bilabial closure", "closure_rate", "{:.3f}", count_key="bilabials")
OPEN = Column("Open vowels", "open_rate", "{:.3f}", count_key="open_vowels")
SYNC = Column("Sync score", "sync_score", "{:.3f}", bold=True)
EXPERT = Column("Expert sync", "expert_sync", "{:.3f}")
TABLE_COLUMNS = (MSE, LIP, SMOOTH_ERROR, SELF_SMOOTH, EXPERT, UTTERANCES)
REAL_COLUMNS = (MSE, LIP, SELF_SMOOTH, CLOSURE, OPEN, SYNC, EXPERT, UTTERANCES)
CLIP_COLUMNS = (CLOSURE, OPEN, SYNC, EXPERT)


def ordered(rows: dict) -> list[str]:
    return [name for name in ROW_ORDER if name in rows]


def unseen(split: str, who: str) -> str:
    return f"{who} unseen in training; " if split == "test" else ""


def labels_of(results: dict) -> dict[str, str]:
    """Row key -> the name the tables show (a learned row's carries its lookahead)."""
    return {name: model["label"] for name, model in results.get("models", {}).items()}


def table(rows: dict, columns: tuple[Column, ...], labels: dict[str, str]) -> str:
    lines = ["| Model | " + " | ".join(c.title for c in columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in ordered(rows):
        lines.append(f"| {labels.get(name, name)} | " + " | ".join(c.cell(name, rows[name]) for c in columns) + " |")
    return "\n".join(lines)


def language_table(by_language: dict, columns: tuple[Column, ...], labels: dict[str, str]) -> str:
    lines = ["| Language | Model | " + " | ".join(c.title for c in columns) + " |",
             "|---|---|" + "---:|" * len(columns)]
    for language, rows in by_language.items():
        for name in ordered(rows):
            cells = " | ".join(c.cell(name, rows[name]) for c in columns)
            lines.append(f"| {language} | {labels.get(name, name)} | {cells} |")
    return "\n".join(lines)


def checks(results: dict) -> list[str]:
    """The acceptance checks, stated with their numbers."""
    rows = results["held_out_all"]
    out = []
    for label, table_rows in (("all held-out utterances", rows), ("English only", results["held_out_english"])):
        if "CNN+GRU" in table_rows and "Lazy (closed mouth)" in table_rows:
            gru, lazy = table_rows["CNN+GRU"]["weight_mse"], table_rows["Lazy (closed mouth)"]["weight_mse"]
            out.append(f"CNN+GRU weight MSE / lazy, {label}: {gru / lazy:.3f} (target <= 0.333): "
                       f"{'met' if gru <= lazy / 3 else 'NOT met'}")
    if "CNN+GRU" in rows and "CNN-static" in rows:
        gru, static = rows["CNN+GRU"]["self_smoothness"], rows["CNN-static"]["self_smoothness"]
        out.append(f"self-smoothness CNN+GRU {gru:.3e} vs CNN-static {static:.3e}: "
                   f"{'GRU smoother' if gru < static else 'GRU NOT smoother'}")
    return out


def synthetic_section(results: dict, labels: dict[str, str]) -> list[str]:
    return ["## Held-out voices, all languages", "", table(results["held_out_all"], TABLE_COLUMNS, labels), "",
            "## Held-out voices, by language", "",
            "The phoneme path runs on English utterances only.", "",
            language_table(results["held_out_by_language"], TABLE_COLUMNS, labels), ""]


def pooled_and_by_language(result: dict, columns: tuple[Column, ...], labels: dict[str, str]) -> list[str]:
    return [table(result["all"], columns, labels), "",
            "### By language", "", language_table(result["by_language"], columns, labels), ""]


def real_corpus_section(real: dict | None, labels: dict[str, str]) -> list[str]:
    if not real:
        return []
    folders = ", ".join(f"`{folder}`" for folder in real["folders"])
    sources = "; ".join(f"{source}: {count}" for source, count in real["label_sources"].items()) or "none"
    return ["## Real speech, held-out speakers", "",
            f"Imported real speech {folders}, split `{real['split']}` ({unseen(real['split'], 'speakers')}"
            f"{real['evaluated']} of its {real['available']} utterances, evenly spaced). Labels by aligner: {sources}.",
            "These labels are not measured faces: they are the articulation rules applied to the aligned phones "
            "(pocketsphinx for English, DTW against espeak-ng's synthesis of the transcript otherwise). For "
            "English that is what the phoneme path computes from the same transcript, so its row here is not an "
            "independent measure. The sync score uses each utterance's label phones.", "",
            *pooled_and_by_language(real, REAL_COLUMNS, labels)]


def librivox_section(results: dict, labels: dict[str, str]) -> list[str]:
    parts = ["## Real speech (LibriVox clips, reference phone timings; DESIGN §5)", ""]
    rows = results["real_speech"]
    if not rows:
        return parts + [f"No clips with phone timings in `{results.get('librivox', '')}`.", ""]
    return parts + [table(rows, CLIP_COLUMNS, labels), "",
                    "Learned models hear no transcript. The phoneme path runs with each clip's transcript, and "
                    "in the recognized row with the words it recognizes itself. The reference timings are "
                    "pocketsphinx alignments with the transcript, which favours the transcript row. The lazy "
                    "closed-mouth baseline scores 0.5 by construction.", ""]


def other_languages_section(other: dict | None, labels: dict[str, str]) -> list[str]:
    if not other:
        return []
    counts = ", ".join(f"{language} {n}" for language, n in other["languages"].items())
    failed = f" The aligner failed on {len(other['failed'])} clip(s), left out." if other["failed"] else ""
    return ["## Real speech in other languages (transcribed clips of the real-speech collection)", "",
            f"`{other['manifest']}`: {other['clips']} clips ({counts}), every split.{failed} The reference phone "
            "times are the phoneme path's own DTW alignment of each transcript, so the phoneme row measures its "
            "articulation given that alignment (the aligner's accuracy is measured on English in "
            "`bench/bench_dtw_align.py`); learned rows never see the alignment, but a model trained on an "
            "import of this collection has heard the clips of its training speakers (the held-out speakers' "
            "rows are in the real-speech table above). Bilabials are p/b/m and open vowels a/e/o (and the "
            "language's other open vowels).", "",
            *pooled_and_by_language(other, CLIP_COLUMNS, labels)]


def markdown(results: dict) -> str:
    labels = labels_of(results)
    parts = ["# CNN+GRU evaluation", "",
             f"Corpus `{results['corpus']}`, split `{results['split']}` ({unseen(results['split'], 'voices')}"
             f"{results['evaluated']} of its {results['available']} utterances, evenly spaced), "
             f"at {results['fps']:g} fps. Pooled over frames. Lower is better everywhere except the sync scores.",
             "Temporal smoothness error: mean squared difference between predicted and true frame-to-frame "
             "changes. Self-smoothness: mean squared frame-to-frame change of the prediction alone "
             "(the ground truth's own value is its row). A learned row's name gives its lookahead (audio heard "
             "past the frame it animates) when it has one. Expert sync: the lip-sync expert's LSE-C at offset 0 "
             "on the default head drawn for each row (`mouthpiece score`; higher is better; per utterance, "
             "averaged; `mouthpiece-train eval-sync` has the full table for every model).", ""]
    parts += synthetic_section(results, labels)
    parts += real_corpus_section(results.get("real_corpus"), labels)
    parts += librivox_section(results, labels)
    parts += other_languages_section(results.get("other_languages"), labels)
    parts += ["## Checks", ""] + [f"- {line}" for line in checks(results)] + [""]
    if results["notes"]:
        parts += ["## Notes", ""] + [f"- {note}" for note in results["notes"]] + [""]
    parts += ["Plots: `metrics.png` (the held-out table as bars), `example_curves.png` (one held-out utterance).", ""]
    return "\n".join(parts)


def plot_metrics(rows: dict, path: Path, labels: dict[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ordered(rows) if n != TRUTH]
    columns = TABLE_COLUMNS[:4]
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 4))
    for ax, column in zip(axes, columns):
        values = [rows[n][column.key] for n in names]
        ax.bar(range(len(names)), values, color=plt.cm.tab10(np.arange(len(names))))
        if column.key == "self_smoothness" and TRUTH in rows:
            ax.axhline(rows[TRUTH][column.key], color="k", linestyle="--", linewidth=1, label="ground truth")
            ax.legend(fontsize=8)
        ticks = [labels.get(n, n).replace(" (", "\n(") for n in names]
        ax.set_xticks(range(len(names)), ticks, rotation=45, ha="right", fontsize=8)
        ax.set_title(column.title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_example(example: dict, fps: float, path: Path, head, labels: dict[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from backend.headmodel import inner_lip_gap

    fig, (jaw_ax, gap_ax) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for name in ordered(example["outputs"]):
        values = example["outputs"][name]
        t = np.arange(len(values)) / fps
        style = {"color": "k", "linewidth": 2.0} if name == TRUTH else {"linewidth": 1.2}
        jaw_ax.plot(t, values[:, CHANNEL_INDEX["JawOpen"]], label=labels.get(name, name), **style)
        gap_ax.plot(t, inner_lip_gap(head.landmarks(values)) * 1000.0, label=labels.get(name, name), **style)
    jaw_ax.set_ylabel("JawOpen weight")
    gap_ax.set_ylabel("inner-lip gap (mm)")
    gap_ax.set_xlabel("time (s)")
    jaw_ax.set_title(f"{example['voice']}: \u201c{example['text'][:80]}\u201d", fontsize=9)
    jaw_ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def write_report(out: Path, results: dict, example: dict, head) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clean = json.loads(json.dumps(results, default=float), parse_constant=lambda c: None)
    write_text_atomic(out / "cnn_gru_eval.json", json.dumps(clean, indent=1, allow_nan=False) + "\n")
    write_text_atomic(out / "cnn_gru_eval.md", markdown(results))
    labels = labels_of(results)
    plot_metrics(results["held_out_all"], out / "metrics.png", labels)
    if example:
        plot_example(example, results["fps"], out / "example_curves.png", head, labels)
