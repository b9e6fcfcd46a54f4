"""The Tacotron evaluation's files: README.md (tables and notes), tacotron_eval.json, attention.png, lip_gap.png."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from backend.fileio import write_text_atomic

from .eval_report import save_figure
from .eval_tacotron_measures import LAZY, LENGTH_CAP, PHONEMES, TABLE1_EPOCH, TRUTH

# The paper's Table I (validation loss at epoch 50) and its best run, quoted in ../shared/specs/models-spec.md §4.3.
PAPER_TABLE1 = {"1": (1.7127e-1, True, True, True), "2": (7.1896e-2, False, True, True),
                "3": (1.5066e-2, False, False, True), "4": (8.9430e-3, False, False, False)}
PAPER_BEST = (7.466e-3, 458)
REPO_ROOT = Path(__file__).resolve().parents[1]
MONOTONIC_TARGET = 0.95
LAZY_RATIO_TARGET = 0.6


def other_librivox_rows(paths) -> list[dict]:
    """The LibriVox rows of earlier evaluations (`mouthpiece-train eval`, `eval-qlearn`), each with its source."""
    rows = []
    for path in map(Path, paths):
        if not path.is_file():
            continue
        data = json.loads(path.read_text("utf-8"))
        labels = {name: model.get("label", name) for name, model in data.get("models", {}).items()}
        source = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        for name, row in (data.get("real_speech") or data.get("librivox") or {}).items():
            rows.append({"model": labels.get(name, name), "source": str(source), **row})
    return rows



def number(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return fmt.format(value)


def tick(flag: bool) -> str:
    return "✓" if flag else ""


def run_label(name: str, results: dict) -> str:
    rows = [row["row"] for row in results["table1"] if row["run"] == name]
    tags = ["full" if row == "full" else f"Table I row {row}" for row in rows]
    if name == results.get("full") and "full" not in tags:
        tags.insert(0, "full")
    return f"{name} ({', '.join(tags)})" if tags else name


def table1_section(results: dict) -> list[str]:
    if not results["table1"]:
        return []
    lines = [f"## Table I: teacher-forced validation loss at epoch {TABLE1_EPOCH}", "",
             "The padded SmoothL1 (β = 1, mm) of each run's own validation utterances, read from its `metrics.csv` "
             f"at the first validation after {TABLE1_EPOCH} epochs; ticks from the run's config (pretrained: the "
             "encoder frozen at, or started from, the TTS stage).", "",
             "| Row | Run | Val loss | Epoch (step) | Post-Net | Pre-Net | pre-trained | Paper's val loss | "
             "Paper's ticks |", "|---|---|---:|---:|:-:|:-:|:-:|---:|:-:|"]
    notes = []
    for row in results["table1"]:
        if row["row"] == "full":
            paper, paper_ticks = f"{PAPER_BEST[0]:.4g} (best, epoch {PAPER_BEST[1]})", "full run"
            extra = f"; best {row['best_val_loss']:.4g} at epoch {row['best_epoch']:g}"
        else:
            loss, *flags = PAPER_TABLE1[row["row"]]
            paper, paper_ticks = f"{loss:.4e}", " / ".join("✓" if f else "–" for f in flags)
            extra = ""
            if tuple(flags) != (row["postnet"], row["prenet"], row["pretrained"]):
                notes.append(f"row {row['row']} ({row['run']}): its ticks differ from the paper's row")
        ticks = " | ".join(tick(row[key]) for key in ("postnet", "prenet", "pretrained"))
        lines.append(f"| {row['row']} | {row['run']} | {row['val_loss']:.4e} | {row['epoch']:g} ({row['step']}){extra} "
                     f"| {ticks} | {paper} | {paper_ticks} |")
        if row["note"]:
            notes.append(f"{row['run']}: {row['note']}; its last validation is shown")
        if row["stage"] != "landmarks":
            notes.append(f"{row['run']}: a `{row['stage']}` stage run, so its loss is the speech loss, not comparable")
        if row["guided_attention"] > 0:
            notes.append(f"{row['run']}: trained with the guided-attention term (weight {row['guided_attention']:g}), "
                         "which the paper does not use; its validation loss leaves it out")
    return lines + [""] + [f"- {note}" for note in dict.fromkeys(notes)] + ([""] if notes else [])


def free_running_section(results: dict) -> list[str]:
    test = results["test"]
    lines = ["## Free-running on held-out voices and sentences", "",
             f"{test['utterances']} English utterances of the test split of `{test['corpus']}` (evenly spaced of "
             f"{test['available']}; voices {', '.join(test['voices'])}). Each model gets the text only. Its "
             "log-mel is warped onto the recording's by DTW and its lips follow the same warp; the lip error is the "
             "mean Euclidean distance per lip landmark (iBUG 48–67) per frame against the labels' displacements. "
             "The gap spread is the standard deviation over each utterance's own frames (before any warp) of the "
             "inner-lip gap, 62 over 66: a mouth that never moves scores 0. Length error: generated frames against "
             f"the recording's (mean signed, mean absolute); generation stops at {LENGTH_CAP:g}× the true length when "
             "the gate never fires. Attention monotonicity: the share of decoder steps whose attention peak stays or "
             "advances; the reach: the furthest character the peak gets to, as a share of the text (a peak stuck on "
             "one character is monotonic but reaches nowhere). WER: pocketsphinx on the model's Griffin-Lim speech "
             "(60 iterations, as `animate --text --model tacotron` writes it), against the text.", "",
             "| Model | Lip error (mm) | ÷ lazy | Gap std (mm) | Length error % (abs) | Gate stopped | "
             "Attention monotonic, mel / lips | Attention reach, mel / lips | WER |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = results["free_running"]
    for name, row in rows.items():
        label = run_label(name, results) if name not in (PHONEMES, LAZY, TRUTH) else name
        length = (f"{row['length_error_pct']:+.1f} ({row['abs_length_error_pct']:.1f})"
                  if "length_error_pct" in row else "n/a")
        stopped = f"{row['gate_stopped']} of {row['utterances']}" if "gate_stopped" in row else "n/a"
        mono, reach = (" / ".join(number(row[k], "{:.1%}") for k in keys) if keys[0] in row else "n/a"
                       for keys in (("mel_monotonic", "lip_monotonic"), ("mel_reach", "lip_reach")))
        error = "0" if name == TRUTH else f"{row['lip_error_mm']:.2f}"
        ratio = "0" if name == TRUTH else number(row["vs_lazy"], "{:.2f}")
        lines.append(f"| {label} | {error} | {ratio} | {row['gap_std_mm']:.2f} | {length} | {stopped} | {mono} | "
                     f"{reach} | {number(row.get('wer'), '{:.3f}')} |")
    return lines + ["", "The phoneme path's length error is espeak-ng's speech against the recording (it has no "
                        "gate); its WER is that of espeak-ng's speech, and the recording's WER is the recogniser's "
                        "own floor on these sentences.", ""]


def checks(results: dict) -> list[str]:
    """The issue's targets, for the full run (or the first run) on the held-out utterances."""
    rows = results["free_running"]
    name = results.get("full") or next(iter(results["runs"]), None)
    if name not in rows:
        return []
    row = rows[name]
    mono = min(row["mel_monotonic"], row["lip_monotonic"])
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    return [f"{name}: attention monotonic on {row['mel_monotonic']:.1%} (mel) and {row['lip_monotonic']:.1%} "
            f"(lips) of decoder steps (target ≥ {MONOTONIC_TARGET:.0%}): {met(mono >= MONOTONIC_TARGET)}; the peak "
            f"reaches {row['mel_reach']:.0%} (mel) and {row['lip_reach']:.0%} (lips) of the text",
            f"{name}: free-running lip error {row['vs_lazy']:.2f} × the closed mouth's (target ≤ "
            f"{LAZY_RATIO_TARGET}): {met(row['vs_lazy'] <= LAZY_RATIO_TARGET)}",
            f"{name}: the gate stopped on {row['gate_stopped']} of {row['utterances']} utterances; "
            f"gap spread {row['gap_std_mm']:.2f} mm against the recording's {rows[TRUTH]['gap_std_mm']:.2f} mm"]


def librivox_section(results: dict) -> list[str]:
    if not results["librivox_clips"]:
        return ["## LibriVox (real English speech; DESIGN §5)", "",
                f"No clips with a transcript and phone timings in `{results['librivox_folder']}`.", ""]
    lines = ["## LibriVox (real English speech; DESIGN §5)", "",
             f"{results['librivox_clips']} clip(s) of `{results['librivox_folder']}`. Each model speaks the clip's "
             "transcript; its log-mel is warped onto the clip's by DTW and the warped lips, on the default head's "
             "neutral face, give the inner-lip gap that the sync score reads against the clip's reference phone "
             "timings (bilabial closure and open-vowel rates; the closed mouth scores 0.5). WER: pocketsphinx on "
             "each model's Griffin-Lim speech of the transcripts (real English words), beside espeak-ng's speech of "
             "the same transcripts and the recordings themselves.", "",
             "| Model | Bilabial closure | Open vowels | Sync score | Gate stopped | WER of its speech |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in results["librivox"].items():
        if "sync_score" not in row:
            lines.append(f"| {run_label(name, results)} | | | | | {number(row['wer'], '{:.3f}')} |")
            continue
        lines.append(f"| {run_label(name, results)} | {number(row['closure_rate'], '{:.3f}')} ({row['bilabials']}) | "
                     f"{number(row['open_rate'], '{:.3f}')} ({row['open_vowels']}) | "
                     f"**{number(row['sync_score'], '{:.3f}')}** | {row['gate_stopped']} of {row['clips']} | "
                     f"{number(row['wer'], '{:.3f}')} |")
    if results["other_librivox"]:
        lines += ["", "The other models on the same clips, as published (they hear the audio; the phoneme path's "
                      "transcript row also reads the transcript):", "",
                  "| Model | Bilabial closure | Open vowels | Sync score | Source |", "|---|---:|---:|---:|---|"]
        for row in results["other_librivox"]:
            lines.append(f"| {row['model']} | {number(row['closure_rate'], '{:.3f}')} | "
                         f"{number(row['open_rate'], '{:.3f}')} | {number(row['sync_score'], '{:.3f}')} | "
                         f"`{row['source']}` |")
    return lines + [""]


def config_line(results: dict) -> str:
    name = results.get("full") or next(iter(results["runs"]), "")
    if not name:
        return ""
    model = results["runs"][name]["model"]
    return (f"The {name} run's size: embedding {model['embedding']}, encoder BiLSTM {model['encoder_lstm']}×2, "
            f"attention/decoder LSTM {model['attention_rnn']}/{model['decoder_rnn']}, landmark LSTM "
            f"{model['landmark_rnn']}, attention dimension {model['attention_dim']}, r = {model['frames_per_step']}, "
            f"guided attention {model['guided_attention']:g} (the paper: 512, 256×2, 1024/1024, 1024, 128, r = 1, "
            "none; trained on an A100 where this ran on a 2-core CPU).")


def notes_section(results: dict) -> list[str]:
    notes = [config_line(results),
             "The speech is synthetic: each run learned one espeak-ng voice's speech (its `about.voices`), and "
             "the lips are the corpus's labels, the articulation rules on the default head, not measured faces. "
             "The held-out test voices are other voices and engines than the training voice; the phoneme path "
             "speaks with espeak-ng's en-us voice.",
             "Free-running error is measured after DTW on the mel: timing errors the speech shares with the lips "
             "are forgiven, so this error is a lower bound on what a fixed timeline would show; the gap spread and "
             "the length error are not warped.",
             "The paper's validation set is 13 LRS3 clips; here each run's own held-out sentences of its training "
             "voices. Its \"8 mm average error\" is not defined precisely enough to compare with.",
             "WER uses pocketsphinx's general English model; the corpus sentences are random word strings, so even "
             "the recording's WER is far from 0. Griffin-Lim stands in for WaveGlow.",
             "Image measures (LPIPS, SSIM, FID) do not apply: nothing here renders pixels."]
    notes += results["notes"]
    return ["## Notes", ""] + [f"- {note}" for note in notes if note] + [""]


def markdown(results: dict) -> str:
    parts = ["# Tacotron lips: evaluation", "", "Produced by:", "", "```sh", results["command"], "```", "",
             "Han, Zhao & Lam's Tacotron 2 with a lip-landmark decoder (`training/families/tacotron.py`): the "
             "paper's Table I, then the free-running measures the paper lacks, then the real-speech sync score.", ""]
    parts += table1_section(results)
    parts += free_running_section(results)
    parts += ["## Checks", ""] + [f"- {line}" for line in checks(results)] + [""]
    parts += ["![attention of both decoders on one held-out utterance](attention.png)", "",
              "![inner-lip gap on one held-out utterance](lip_gap.png)", ""]
    parts += librivox_section(results)
    parts += notes_section(results)
    return "\n".join(parts)


def plot_attention(attention: dict, utterance: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in ((axes[0], "mel", "mel decoder"), (axes[1], "lips", "landmark decoder")):
        image = ax.imshow(attention[key].T, aspect="auto", origin="lower", interpolation="none", cmap="viridis")
        ax.set(title=f"{attention['run']}: {title}", xlabel="decoder step", ylabel="character")
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(f"{utterance['voice']}: \u201c{utterance['text'][:80]}\u201d", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def plot_gaps(gaps: dict, utterance: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .dataset import MEL_FPS

    fig, ax = plt.subplots(figsize=(10, 3.8))
    for name, gap in gaps.items():
        style = {"color": "k", "linewidth": 2.0} if name == TRUTH else {"linewidth": 1.2}
        ax.plot(np.arange(len(gap)) / MEL_FPS, gap, label=name, **style)
    ax.set(xlabel="time in the recording (s)", ylabel="inner-lip gap (mm)",
           title=f"{utterance['voice']}: \u201c{utterance['text'][:80]}\u201d (models warped by DTW)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    save_figure(fig, path)


def write_report(out: Path, results: dict, example: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if example:
        plot_attention(example["attention"], example["utterance"], out / "attention.png")
        plot_gaps(example["gaps"], example["utterance"], out / "lip_gap.png")
    clean = json.loads(json.dumps(results, default=float), parse_constant=lambda c: None)
    write_text_atomic(out / "tacotron_eval.json", json.dumps(clean, indent=1, allow_nan=False) + "\n")
    write_text_atomic(out / "README.md", markdown(results))
