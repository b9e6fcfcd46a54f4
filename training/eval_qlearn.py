"""`mouthpiece-train eval-qlearn --runs RUN[,RUN...]`: the Q-learning agents against the lazy, random and
greedy agents, in the paper's figures and on held-out voices.

Writes OUT/qlearn_eval.md (+ .json) and PNG + CSV figures:
  reward_per_episode   each run's mean reward per frame per training episode, with the lazy, random and
                       greedy agents on the same frames (the paper's Fig. 4)
  loss_per_episode     mean TD loss per episode (Fig. 5)
  episode1_tail        cumulative reward over the last steps of the first episode, agent and lazy (Fig. 6)
  heldout              mean reward per frame on held-out voices, every run and baseline
  heldout_trace        one held-out utterance: the speaker's u, l, c against the best agent's and the greedy's
The agents' lips are also solved onto the default head (backend.solver) and scored on the LibriVox clips
with DESIGN §5's sync score, next to the other models' figures from assets/eval/cnn_gru_eval.json.
"""
from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.lip_actions import reward

from .args import option, parse, split_list

REPO = Path(__file__).resolve().parents[1]
BASELINES = ("lazy", "random", "greedy")
MEAN_MOUTH = "mean mouth (constant)"
TAIL_EVERY = 10  # the first episode's cumulative rewards are kept every this many steps


@dataclass
class Args:
    runs: str = option(help="Q-learning run folders (each with model.json and episodes.csv), comma-separated")
    data: str = option("runs/corpus-default", "corpus the runs trained on (its test split holds the held-out voices)")
    heldout_languages: str = option("es,en", "languages of the held-out rows, comma-separated (the first is the "
                                              "training language)")
    max_items: int = option(60, "held-out utterances per language at most")
    librivox: str = option(str(REPO.parent / "shared" / "data" / "librivox"), "real-speech clips with phone timings")
    other_models: str = option(str(REPO / "assets" / "eval" / "cnn_gru_eval.json"),
                               "the main evaluation's JSON, whose LibriVox rows are shown beside these")
    out: str = option(str(REPO / "assets" / "eval" / "qlearn"), "folder for the report and figures")
    seed: int = option(0, "seed of the random agent")


@dataclass
class Run:
    folder: Path
    label: str
    config: dict
    about: dict
    runtime: object


def load_run(folder: Path) -> Run:
    from backend.runtime.qlearn import QLearnRuntime

    runtime = QLearnRuntime.from_checkpoint(folder / "model")
    config = runtime.record["config"]
    model = config["model"]
    lips = "lip state" if model["observe_lips"] else "audio only"
    pooling = f"last pool {model['pools'][-1]}" if model["pools"][-1] else "global max"
    label = f"DQN, {lips}, α={config['train']['lr']:g}, γ={model['gamma']:g}, {pooling}"
    return Run(folder, label, config, config.get("about", {}), runtime)


# -- held-out voices ----------------------------------------------------------------------------------
def score(lips: np.ndarray, targets: np.ndarray) -> dict:
    return {"reward": float(reward(lips, targets).sum()), "abs_error": np.abs(lips - targets).sum(axis=0),
            "frames": len(targets)}


def heldout_rows(runs: list[Run], data: str, language: str, max_items: int, seed: int) -> dict[str, dict]:
    from .qlearn_env import LipEnvironment, baseline_lips

    space = runs[0].runtime.space
    env = LipEnvironment([data], "test", languages=(language,), space=space)
    picked = np.linspace(0, len(env) - 1, min(max_items, len(env))).round().astype(int)
    totals: dict[str, list[dict]] = {}
    for index in picked:
        utterance = env.utterances[index]
        audio = utterance.audio[env.window:]
        for run in runs:
            totals.setdefault(run.label, []).append(score(run.runtime.predict_measures(audio), utterance.targets))
        for name in BASELINES:
            lips = baseline_lips(name, space, utterance.targets, seed + int(index))
            totals.setdefault(name, []).append(score(lips, utterance.targets))
        mean_mouth = np.repeat(runs[0].runtime.t["lip_mean"][None], len(utterance.targets), axis=0)
        totals.setdefault(MEAN_MOUTH, []).append(score(mean_mouth, utterance.targets))
    voices = sorted({env.utterances[i].voice for i in picked})
    rows = {name: summarise(parts) for name, parts in totals.items()}
    lazy, greedy = rows["lazy"]["reward_per_frame"], rows["greedy"]["reward_per_frame"]
    for row in rows.values():
        row["vs_lazy"] = row["reward_per_frame"] / lazy if lazy else math.nan
        row["gap_closed"] = (row["reward_per_frame"] - lazy) / (greedy - lazy) if greedy != lazy else math.nan
        row["voices"] = voices
        row["utterances"] = len(picked)
    return rows


def summarise(parts: list[dict]) -> dict:
    frames = sum(p["frames"] for p in parts)
    error = sum(p["abs_error"] for p in parts) / frames
    return {"reward_per_frame": sum(p["reward"] for p in parts) / frames, "frames": frames,
            "mean_abs_u_px": float(error[0]), "mean_abs_l_px": float(error[1]), "mean_abs_c_px": float(error[2])}


# -- LibriVox, after the solver -----------------------------------------------------------------------
def default_head_weights(offsets: np.ndarray, head) -> np.ndarray:
    """(T, 46) default-head weights whose lip landmarks best match (T, 20, 3) offsets (bounded least squares)."""
    from backend.solver import SolveOptions, solve_weights

    basis = head.deltas[:, 48:68, :]
    return solve_weights(basis, offsets, SolveOptions(temporal=0.05))


def librivox_rows(runs: list[Run], folder: str) -> dict[str, dict]:
    from backend import headmodel
    from backend.audio import load_audio
    from backend.headmodel import inner_lip_gap

    from .eval_metrics import SyncCounts, read_phones, sync_counts, sync_phone_classes

    head, classes = headmodel.load(), sync_phone_classes("arpabet")
    totals: dict[str, SyncCounts] = {}
    clips = [wav for wav in sorted(Path(folder).glob("*.wav")) if wav.with_suffix(".phone.json").is_file()]
    for wav in clips:
        audio, phones = load_audio(wav), read_phones(wav.with_suffix(".phone.json"))
        for run in runs:
            measures = run.runtime.predict_measures(audio)
            weights = default_head_weights(run.runtime.lip_displacements(measures), head)
            gap = inner_lip_gap(head.landmarks(weights))
            totals[run.label] = totals.get(run.label, SyncCounts()) + sync_counts(gap, run.runtime.spec.fps, phones,
                                                                                  classes)
    return {name: {"clips": len(clips), **counts.row()} for name, counts in totals.items()}


def other_librivox_rows(path: str) -> dict[str, dict]:
    if not Path(path).is_file():
        return {}
    return json.loads(Path(path).read_text("utf-8")).get("real_speech", {})


# -- the training figures -----------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: float(v) if v not in ("", "nan") else math.nan for k, v in row.items()}
                for row in csv.DictReader(handle)]


def episode1_tail(run: Run, data: str) -> list[dict]:
    """The first episode's last steps: the agent's cumulative reward as recorded, and the lazy agent's on the
    same frames, every TAIL_EVERY steps."""
    from .qlearn_env import LipEnvironment
    from .qlearn_source import EpisodeStream

    recorded = read_csv(run.folder / "episode1_tail.csv")
    if not recorded:
        return []
    env = LipEnvironment([data], "train", languages=split_list(run.about.get("languages", "")),
                         voices=split_list(run.about.get("voices", "")), space=run.runtime.space)
    stream = EpisodeStream.of(env.lengths, int(run.config["train"]["seed"]), 0)
    lazy_total, agent_total, rows = 0.0, 0.0, []
    for row in recorded:
        utterance, frame = stream.locate(int(row["step"]))
        target = env.utterances[utterance].targets[frame]
        lazy_total += float(reward(env.space.neutral, target))
        agent_total += row["reward"]
        if int(row["step"]) % TAIL_EVERY == TAIL_EVERY - 1:
            rows.append({"step": int(row["step"]), "agent": round(agent_total, 1), "lazy": round(lazy_total, 1)})
    return rows


def plot_training(runs: list[Run], tails: dict[str, list[dict]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, run in enumerate(runs):
        rows = read_csv(run.folder / "episodes.csv")
        episodes = [r["episode"] + 1 for r in rows]
        ax.plot(episodes, [r["agent_reward"] / r["frames"] for r in rows], marker="o", label=run.label)
        if i == 0:
            for name, style in (("lazy", "k--"), ("random", "k:"), ("greedy", "g--")):
                ax.plot(episodes, [r[f"{name}_reward"] / r["frames"] for r in rows], style, label=f"{name} agent")
    finish(fig, ax, out / "reward_per_episode.png", xlabel="episode", ylabel="mean reward per frame (px²)",
           title="Reward per episode (same frames)")

    fig, ax = plt.subplots(figsize=(8, 4))
    for run in runs:
        rows = read_csv(run.folder / "episodes.csv")
        ax.plot([r["episode"] + 1 for r in rows], [r["mean_loss"] for r in rows], marker="o", label=run.label)
    finish(fig, ax, out / "loss_per_episode.png", xlabel="episode", ylabel="mean TD loss (Huber, scaled reward)",
           title="Loss per episode")

    fig, ax = plt.subplots(figsize=(8, 4))
    for label, rows in tails.items():
        steps = [r["step"] for r in rows]
        ax.plot(steps, [r["agent"] / 1e6 for r in rows], label=label)
        if label == runs[0].label:
            ax.plot(steps, [r["lazy"] / 1e6 for r in rows], "k--", label="lazy agent")
    finish(fig, ax, out / "episode1_tail.png", xlabel="step of episode 1", ylabel="cumulative reward (millions of px²)",
           title="Cumulative reward over the end of the first episode")


def finish(fig, ax, path: Path, **labels) -> None:
    import matplotlib.pyplot as plt

    ax.set(**labels)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heldout(tables: dict[str, dict], trace: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), 4), squeeze=False)
    for ax, (language, rows) in zip(axes[0], tables.items()):
        names = list(rows)
        ax.barh(names, [rows[n]["reward_per_frame"] for n in names], color="tab:blue")
        ax.set(title=f"held-out voices ({language})", xlabel="mean reward per frame (px²)")
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "heldout.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(3, 1, figsize=(9, 6), sharex=True)
    for k, measure in enumerate(("u (upper lip)", "l (lower lip)", "c (corner)")):
        for name, lips in trace["lines"].items():
            axes[k].plot(lips[:, k], label=name)
        axes[k].set_ylabel(measure, fontsize=8)
    axes[0].legend(fontsize=7, ncol=3)
    axes[-1].set_xlabel(f"frame (30 fps), held-out utterance {trace['id']}")
    fig.tight_layout()
    fig.savefig(out / "heldout_trace.png", dpi=110)
    plt.close(fig)


def trace_of(best: Run, data: str, language: str) -> dict:
    from .qlearn_env import LipEnvironment, baseline_lips

    env = LipEnvironment([data], "test", languages=(language,), space=best.runtime.space, max_utterances=1)
    utterance = env.utterances[0]
    return {"id": utterance.id, "lines": {"speaker": utterance.targets,
                                          best.label: best.runtime.predict_measures(utterance.audio[env.window:]),
                                          "greedy oracle": baseline_lips("greedy", env.space, utterance.targets)}}


# -- the report ---------------------------------------------------------------------------------------
def heldout_table(rows: dict[str, dict]) -> list[str]:
    lines = ["| agent | reward / frame (px²) | ÷ lazy | gap lazy→greedy closed | mean abs u, l, c (px) |",
             "|---|---:|---:|---:|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['reward_per_frame']:.1f} | {row['vs_lazy']:.2f} | {row['gap_closed']:.0%} | "
                     f"{row['mean_abs_u_px']:.1f}, {row['mean_abs_l_px']:.1f}, {row['mean_abs_c_px']:.1f} |")
    return lines


def sync_table(rows: dict[str, dict]) -> list[str]:
    lines = ["| model | closure rate | open-vowel rate | sync score |", "|---|---:|---:|---:|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['closure_rate']:.3f} | {row['open_rate']:.3f} | {row['sync_score']:.3f} |")
    return lines


def report(runs: list[Run], tables: dict[str, dict], sync: dict, others: dict, episodes: dict) -> str:
    lines = ["# Q-learning lips: evaluation", "",
             "Generated by `mouthpiece-train eval-qlearn`. Rewards are the paper's: minus the squared pixel "
             "error of the upper-lip, lower-lip and corner offsets from the mouth centre (512-pixel camera), "
             "summed per frame; 0 is a perfect copy of the speaker. The lazy agent keeps the neutral mouth, "
             "the random agent acts uniformly, the greedy oracle knows the speaker's next lips and takes the "
             "best one-step action (the best any agent limited to these actions can do frame by frame). The "
             "mean mouth holds the training speakers' average lips all the time: the best constant answer, which "
             "an agent must beat to show it follows the speech.", ""]
    lines += ["## Runs", "", "| run | folder | best at update | episodes | training data |", "|---|---|---:|---:|---|"]
    for run in runs:
        rows = episodes[run.label]
        data = f"{run.about.get('data', '?')} ({run.about.get('languages', '')}, {run.about.get('train_frames', '?')} frames)"
        lines.append(f"| {run.label} | `{run.folder}` | {run.runtime.record.get('step')} | {len(rows)} | {data} |")
    for language, rows in tables.items():
        voices = ", ".join(next(iter(rows.values()))["voices"])
        count = next(iter(rows.values()))["utterances"]
        lines += ["", f"## Held-out voices, {language} ({voices}; {count} utterances)", "", *heldout_table(rows)]
    lines += ["", "## Training (the paper's figures)", "",
              "![reward per episode](reward_per_episode.png)", "", "![loss per episode](loss_per_episode.png)", "",
              "![cumulative reward, end of episode 1](episode1_tail.png)", "", "![held-out](heldout.png)", "",
              "![held-out trace](heldout_trace.png)", "",
              "## LibriVox (real English speech), after the solver", "",
              "DESIGN §5's sync score on the five clips; the agents' lips are solved onto the default head's shape "
              "keys. The other rows come from the main evaluation (`assets/eval/cnn_gru_eval.md`).", "",
              *sync_table({**sync, **others})]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train eval-qlearn", __doc__.splitlines()[0])
    from backend.errors import MouthpieceError
    from backend.fileio import write_text_atomic

    from .qlearn_source import EPISODE_COLUMNS, csv_text

    try:
        runs = [load_run(Path(folder)) for folder in split_list(args.runs)]
        if not runs:
            raise ValueError("--runs names no run folder")
        if len({run.label for run in runs}) < len(runs):
            raise ValueError("two --runs have the same configuration; name each run once")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        tables = {language: heldout_rows(runs, args.data, language, args.max_items, args.seed)
                  for language in split_list(args.heldout_languages)}
        first = tables[split_list(args.heldout_languages)[0]]
        best = max(runs, key=lambda run: first[run.label]["reward_per_frame"])
        episodes = {run.label: read_csv(run.folder / "episodes.csv") for run in runs}
        tails = {run.label: episode1_tail(run, args.data) for run in runs}
        plot_training(runs, tails, out)
        plot_heldout(tables, trace_of(best, args.data, split_list(args.heldout_languages)[0]), out)
        sync = librivox_rows(runs, args.librivox)
        others = other_librivox_rows(args.other_models)
    except (MouthpieceError, ValueError, OSError) as err:
        print(f"mouthpiece-train eval-qlearn: {err}", file=sys.stderr)
        return 2
    for language, rows in tables.items():
        write_text_atomic(out / f"heldout_{language}.csv", csv_text(
            ["agent", "reward_per_frame", "vs_lazy", "gap_closed", "mean_abs_u_px", "mean_abs_l_px",
             "mean_abs_c_px", "frames"],
            [{"agent": name, **row} for name, row in rows.items()]))
    write_text_atomic(out / "episodes.csv", csv_text(
        ["run", *EPISODE_COLUMNS], [{"run": label, **row} for label, rows in episodes.items() for row in rows]))
    write_text_atomic(out / "episode1_tail.csv", csv_text(
        ["run", "step", "agent", "lazy"], [{"run": label, **row} for label, rows in tails.items() for row in rows]))
    write_text_atomic(out / "qlearn_eval.json", json.dumps(
        {"runs": {run.label: str(run.folder) for run in runs}, "heldout": tables, "librivox": sync}, indent=1))
    write_text_atomic(out / "qlearn_eval.md", report(runs, tables, sync, others, episodes))
    print(f"wrote {out / 'qlearn_eval.md'}; best on held-out {split_list(args.heldout_languages)[0]}: {best.label} "
          f"({first[best.label]['gap_closed']:.0%} of the lazy-to-greedy gap)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
