"""`corpus report`: speech per voice, language and split; phone coverage; two plots (PNG)."""
from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

from backend.fileio import atomic_path, write_text_atomic

from .labels import load_labels
from .manifest import read_manifest
from .sentences import PHONE_SETS


def summarise(root: Path) -> dict:
    records = read_manifest(root, strict=True)
    minutes: dict[str, dict[str, float]] = {"voice": defaultdict(float), "language": defaultdict(float),
                                            "split": defaultdict(float)}
    split_of_voice: dict[str, str] = {}
    phone_counts: dict[str, Counter] = defaultdict(Counter)
    phone_seconds: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        for key in minutes:
            minutes[key][record[key]] += record["duration_s"] / 60.0
        split_of_voice[record["voice"]] = record["split"]
        labels = load_labels(root / record["labels"])
        for label, (start, end) in zip(labels["phones"], labels["phone_times"]):
            phone_counts[record["language"]][str(label)] += 1
            phone_seconds[record["language"]][str(label)] += float(end - start)
    coverage = {lang: coverage_table(lang, phone_counts[lang], phone_seconds[lang]) for lang in phone_counts}
    return {"utterances": len(records), "hours": sum(r["duration_s"] for r in records) / 3600.0,
            "minutes": {k: dict(sorted(v.items())) for k, v in minutes.items()},
            "split_of_voice": split_of_voice, "phone_coverage": coverage}


def coverage_table(language: str, counts: Counter, seconds: Counter) -> dict:
    """Per phone: occurrences and seconds; phones of the language's set never seen are listed as missing."""
    expected = PHONE_SETS.get(language, ("", ()))[1]
    phones = sorted(set(expected) | set(counts))
    return {"phones": {p: {"count": counts.get(p, 0), "seconds": round(seconds.get(p, 0.0), 3)} for p in phones},
            "missing": [p for p in expected if counts.get(p, 0) == 0]}


def write_report(root: str | os.PathLike, out: str | os.PathLike) -> str:
    root, out = Path(root), Path(out)
    summary = summarise(root)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "report.json", json.dumps(summary, indent=2) + "\n")
    text = format_text(summary)
    write_text_atomic(out / "report.txt", text)
    plot_minutes(summary, out / "minutes_per_voice.png")
    plot_coverage(summary, out / "phone_coverage.png")
    return text


def format_text(summary: dict) -> str:
    lines = [f"{summary['utterances']} utterances, {summary['hours']:.3f} h of speech", ""]
    for key in ("language", "split", "voice"):
        lines.append(f"minutes per {key}:")
        for name, value in summary["minutes"][key].items():
            extra = f"  ({summary['split_of_voice'][name]})" if key == "voice" else ""
            lines.append(f"  {name:<36}{value:8.2f}{extra}")
        lines.append("")
    for language, table in summary["phone_coverage"].items():
        counts = {p: v["count"] for p, v in table["phones"].items()}
        rarest = sorted(counts.items(), key=lambda kv: kv[1])[:5]
        lines.append(f"phone coverage {language}: {sum(c > 0 for c in counts.values())}/{len(counts)} phones seen; "
                     f"rarest {', '.join(f'{p}={c}' for p, c in rarest)}; "
                     f"missing: {', '.join(table['missing']) or 'none'}")
    return "\n".join(lines) + "\n"


def plot_minutes(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    voices = list(summary["minutes"]["voice"])
    colours = {"train": "tab:blue", "val": "tab:orange", "test": "tab:green"}
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(voices) + 1.5))
    ax.barh(voices, [summary["minutes"]["voice"][v] for v in voices],
            color=[colours[summary["split_of_voice"][v]] for v in voices])
    ax.set_xlabel("minutes of speech")
    ax.set_title("Speech per voice (blue train, orange val, green test)")
    ax.invert_yaxis()
    save_figure(fig, path)


def plot_coverage(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = summary["phone_coverage"]
    fig, axes = plt.subplots(len(tables) or 1, 1, figsize=(11, 3 * max(1, len(tables))), squeeze=False)
    for ax, (language, table) in zip(axes[:, 0], tables.items()):
        phones = list(table["phones"])
        ax.bar(phones, [table["phones"][p]["seconds"] for p in phones], color="tab:purple")
        ax.set_ylabel("seconds")
        ax.set_title(f"Phone coverage, {language}")
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def coverage_counts(root: Path) -> dict[str, dict[str, int]]:
    """Phone occurrences per language, as counted by `summarise` (for tests and the bench)."""
    return {lang: {p: v["count"] for p, v in table["phones"].items()}
            for lang, table in summarise(root)["phone_coverage"].items()}

