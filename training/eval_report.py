"""The evaluation's files: cnn_gru_eval.md (tables), cnn_gru_eval.json, and PNG plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from backend.fileio import atomic_path, write_text_atomic
from backend.rig import CHANNEL_INDEX

TABLE_COLUMNS = (("weight_mse", "Weight MSE", "{:.5f}"), ("lip_rmse_mm", "Lip RMSE (mm)", "{:.2f}"),
                 ("temporal_smoothness_error", "Temporal smoothness err.", "{:.2e}"),
                 ("self_smoothness", "Self-smoothness", "{:.3e}"), ("utterances", "Utterances", "{}"))
ROW_ORDER = ("CNN-static", "CNN+LSTM", "CNN+GRU", "Phoneme path (transcript)", "Lazy (closed mouth)", "Ground truth")


def ordered(rows: dict) -> list[str]:
    return [name for name in ROW_ORDER if name in rows]


def held_out_table(rows: dict) -> str:
    lines = ["| Model | " + " | ".join(title for _, title, _ in TABLE_COLUMNS) + " |",
             "|---|" + "---:|" * len(TABLE_COLUMNS)]
    for name in ordered(rows):
        row = rows[name]
        cells = []
        for key, _, fmt in TABLE_COLUMNS:
            value = row[key]
            cells.append("0" if name == "Ground truth" and key != "self_smoothness" and key != "utterances"
                         else fmt.format(value))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def real_speech_table(rows: dict) -> str:
    lines = ["| Model | Bilabial closure | Open vowels | Sync score |", "|---|---:|---:|---:|"]
    for name in ordered(rows):
        row = rows[name]
        lines.append(f"| {name} | {row['closure_rate']:.3f} ({row['bilabials']}) | "
                     f"{row['open_rate']:.3f} ({row['open_vowels']}) | **{row['sync_score']:.3f}** |")
    return "\n".join(lines)


def checks(results: dict) -> list[str]:
    """The acceptance checks, stated with their numbers."""
    rows = results["held_out_all"]
    out = []
    for label, table in (("all held-out utterances", rows), ("English only", results["held_out_english"])):
        if "CNN+GRU" in table and "Lazy (closed mouth)" in table:
            gru, lazy = table["CNN+GRU"]["weight_mse"], table["Lazy (closed mouth)"]["weight_mse"]
            out.append(f"CNN+GRU weight MSE / lazy, {label}: {gru / lazy:.3f} (target <= 0.333): "
                       f"{'met' if gru <= lazy / 3 else 'NOT met'}")
    if "CNN+GRU" in rows and "CNN-static" in rows:
        gru, static = rows["CNN+GRU"]["self_smoothness"], rows["CNN-static"]["self_smoothness"]
        out.append(f"self-smoothness CNN+GRU {gru:.3e} vs CNN-static {static:.3e}: "
                   f"{'GRU smoother' if gru < static else 'GRU NOT smoother'}")
    return out


def markdown(results: dict) -> str:
    parts = ["# CNN+GRU evaluation", "",
             f"Corpus `{results['corpus']}`, split `{results['split']}` (voices unseen in training; "
             f"{results['evaluated']} of its {results['available']} utterances, evenly spaced), "
             f"at {results['fps']:g} fps. Pooled over frames. Lower is better everywhere except the sync score.",
             "Temporal smoothness error: mean squared difference between predicted and true frame-to-frame "
             "changes. Self-smoothness: mean squared frame-to-frame change of the prediction alone "
             "(the ground truth's own value is its row).", ""]
    parts += ["## Held-out voices, all languages", "", held_out_table(results["held_out_all"]), ""]
    if results["held_out_english"] != results["held_out_all"]:
        parts += ["## Held-out voices, English only (the phoneme path aligns English)", "",
                  held_out_table(results["held_out_english"]), ""]
    parts += ["## Real speech (LibriVox clips, reference phone timings; DESIGN §5)", "",
              real_speech_table(results["real_speech"]), "",
              "The lazy closed-mouth baseline scores 0.5 by construction.", ""]
    parts += ["## Checks", ""] + [f"- {line}" for line in checks(results)] + [""]
    if results["notes"]:
        parts += ["## Notes", ""] + [f"- {note}" for note in results["notes"]] + [""]
    parts += ["Plots: `metrics.png` (the held-out table as bars), `example_curves.png` (one held-out utterance).", ""]
    return "\n".join(parts)


def plot_metrics(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ordered(rows) if n != "Ground truth"]
    keys = TABLE_COLUMNS[:4]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 4))
    for ax, (key, title, _) in zip(axes, keys):
        values = [rows[n][key] for n in names]
        ax.bar(range(len(names)), values, color=plt.cm.tab10(np.arange(len(names))))
        if key == "self_smoothness" and "Ground truth" in rows:
            ax.axhline(rows["Ground truth"][key], color="k", linestyle="--", linewidth=1, label="ground truth")
            ax.legend(fontsize=8)
        ax.set_xticks(range(len(names)), [n.replace(" (", "\n(") for n in names], rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_example(example: dict, fps: float, path: Path, head) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from backend.headmodel import inner_lip_gap

    fig, (jaw_ax, gap_ax) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for name in ordered(example["outputs"]):
        values = example["outputs"][name]
        t = np.arange(len(values)) / fps
        style = {"color": "k", "linewidth": 2.0} if name == "Ground truth" else {"linewidth": 1.2}
        jaw_ax.plot(t, values[:, CHANNEL_INDEX["JawOpen"]], label=name, **style)
        gap_ax.plot(t, inner_lip_gap(head.landmarks(values)) * 1000.0, label=name, **style)
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
    plot_metrics(results["held_out_all"], out / "metrics.png")
    if example:
        plot_example(example, results["fps"], out / "example_curves.png", head)
