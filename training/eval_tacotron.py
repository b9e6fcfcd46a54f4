"""`mouthpiece-train eval-tacotron --runs NAME=RUN,...`: Tacotron lips in the shape of Han et al.'s Table I,
and free-running, which the paper never measures.

Writes OUT/README.md, OUT/tacotron_eval.json and two PNG plots:
  Table I       each ablation run's teacher-forced, padded SmoothL1 validation loss at epoch 50 (its
                metrics.csv) with its post-net, pre-net and pretrained-encoder ticks, beside the paper's
  free-running  on English utterances of the corpus's test split (voices and sentences no run trained on):
                the text alone goes in; the generated log-mel is warped onto the recording's by DTW and the
                generated lips follow that warp; lip-landmark error (mm) against the labels and the closed
                mouth's, the inner-lip gap's spread, the gate's length error, attention monotonicity and the
                word error rate of the Griffin-Lim speech (pocketsphinx); the phoneme path (espeak-ng speech
                of the same text, warped the same way), the closed mouth and the recording itself as rows
  LibriVox      DESIGN §5's sync score, each clip's transcript generated and warped onto the real clip
"""
from __future__ import annotations

import dataclasses
import json
import math
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .args import option, parse, split_list
from .eval_tacotron_measures import (LAZY, LENGTH_CAP, PHONEMES, TRUTH, attention_reach, epoch_row, gap_mm,
                                     length_error_pct, lip_error_per_frame, mel_path, monotonic_steps, read_metrics,
                                     steps_per_epoch, summary_rows, table1_ticks, word_errors)

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Args:
    runs: str = option(help="trained Tacotron runs as NAME=RUN_DIR, comma-separated (each with model.json and "
                            "metrics.csv)")
    table1: str = option("", "the Table I rows as ROW=NAME, ROW 1-4 in the paper's order: 1 post-net, pre-net "
                             "and pretrained encoder; 2 pre-net and pretrained; 3 pretrained; 4 none")
    full: str = option("", "NAME of the full run (the shipped model)")
    test: str = option("runs/corpus-default", "corpus whose test split (held-out voices and sentences) is scored")
    items: int = option(24, "English test utterances, evenly spaced through the split")
    librivox: str = option(str(REPO.parent / "shared" / "data" / "librivox"),
                           "real clips (WAV + .txt transcript + .phone.json timings) for the sync score")
    other_models: str = option(f"{REPO / 'assets/eval/cnn_gru_eval.json'},"
                               f"{REPO / 'assets/eval/qlearn/qlearn_eval.json'}",
                               "published evaluations whose LibriVox rows are shown beside these")
    out: str = option("assets/eval/tacotron", "folder for README.md, tacotron_eval.json and the plots")
    seed: int = option(0, "seed of the pre-net dropout, which stays on while generating")
    threads: int = option(2, "torch CPU threads")


# -- runs and utterances ------------------------------------------------------------------------------
@dataclass
class Run:
    name: str
    folder: Path
    record: dict  # the checkpoint's config: model, train, about
    model: object  # a Tacotron in eval mode
    step: int = 0

    @property
    def config(self):
        return self.model.config


def parse_pairs(text: str, what: str) -> dict[str, str]:
    pairs = {}
    for item in split_list(text):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{what}: {item!r} is not KEY=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


def load_run(name: str, folder: Path) -> Run:
    import torch

    from backend import checkpoints

    from .families.tacotron import Tacotron, TacotronConfig

    saved = checkpoints.load(folder / "model", family="tacotron")
    known = {f.name for f in dataclasses.fields(TacotronConfig)}
    model = Tacotron(TacotronConfig.from_dict({k: v for k, v in saved.config["model"].items() if k in known}))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in saved.tensors.items()})
    return Run(name, folder, saved.config, model.eval(), saved.step)


@dataclass(frozen=True)
class Utterance:
    id: str
    voice: str
    text: str
    audio: np.ndarray
    mel: np.ndarray  # (F, 80) log-mel at 80 fps
    lips: np.ndarray  # (F, 60) displacements in mm, as the "tacotron" dataset view gives them
    neutral: np.ndarray  # (68, 3) metres


def load_utterances(corpus: str, count: int) -> tuple[list[Utterance], int]:
    """`count` English test utterances, evenly spaced, and how many there are."""
    import soundfile

    from .corpus.labels import load_labels
    from .dataset import Clip, lip_displacements, log_mel
    from .eval_corpus import evenly_spaced, select_items

    items, _ = select_items([corpus], "test", 10 ** 9)
    english = [item for item in items if item.language == "en"]
    if not english:
        raise ValueError(f"{corpus}: no English utterances in the test split")
    utterances = []
    for item in evenly_spaced(english, count):
        audio, _ = soundfile.read(item.audio_path, dtype="float32", always_2d=False)
        labels = load_labels(item.root / item.record["labels"])
        mel = log_mel(audio)
        lips = lip_displacements(Clip(audio, labels, 0.0, 1.0), len(mel)).reshape(len(mel), -1) * 1000.0
        neutral = labels["neutral3d"] if "neutral3d" in labels else labels["landmarks3d"][0]
        utterances.append(Utterance(item.record["id"], item.record["voice"], item.record["text"], audio, mel,
                                    lips.astype(np.float32), np.asarray(neutral, np.float64)))
    return utterances, len(english)


# -- generating -----------------------------------------------------------------------------------------
@dataclass
class Generated:
    mel: np.ndarray  # (T, 80)
    lips: np.ndarray  # (T, 60) mm
    mel_alignments: np.ndarray  # (S, N)
    lip_alignments: np.ndarray
    stopped: bool


def generate(run: Run, text: str, true_frames: int, seed: int) -> Generated:
    """Free-running from the text (pre-net dropout on, as at inference), at most LENGTH_CAP x `true_frames`."""
    import torch

    from .dataset import encode_text

    torch.manual_seed(seed)
    steps = min(run.config.max_decoder_steps, math.ceil(LENGTH_CAP * true_frames / run.config.frames_per_step))
    out = run.model.infer(torch.from_numpy(encode_text(text)), max_steps=max(1, steps))
    return Generated(out["mel"].numpy(), out["lips"].numpy(), out["mel_alignments"].numpy(),
                     out["lip_alignments"].numpy(), bool(out["stopped"]))


def speech_of(mel: np.ndarray, config) -> np.ndarray:
    """The Griffin-Lim speech `animate --text --model tacotron` writes for this mel (60 iterations)."""
    from backend.runtime.griffin_lim import MelSpec, mel_to_audio

    return mel_to_audio(mel, MelSpec(config.sample_rate, config.n_fft, config.hop, config.n_mels, config.fmin,
                                     config.fmax))


def recognised_words(audio: np.ndarray, sample_rate: int, notes: list[str], what: str) -> str:
    """pocketsphinx's words (it adds -60 dBFS noise over digital silence itself); '' when it fails."""
    from backend.align import AlignOptions, recognize
    from backend.errors import MouthpieceError

    try:
        return recognize(audio, sample_rate, options=AlignOptions(workers=1))
    except MouthpieceError as err:
        notes.append(f"{what}: recognition failed ({err}); every word counted wrong")
        return ""


def phoneme_path(text: str, head) -> tuple[np.ndarray, np.ndarray]:
    """espeak-ng's 16 kHz speech of `text` and the phoneme path's (F, 60) lip displacements (mm) on its mel frames."""
    from backend.articulation import articulate
    from backend.audio import resample
    from backend.post import PostOptions, postprocess
    from backend.text import synthesize

    from .dataset import MEL_FPS, SAMPLE_RATE, log_mel
    from .evaluate import fit_length

    speech = synthesize(text, "en")
    audio = speech.audio if speech.sample_rate == SAMPLE_RATE else resample(speech.audio, speech.sample_rate,
                                                                            SAMPLE_RATE)
    animation = postprocess(articulate(speech.timeline, fps=MEL_FPS, duration_s=speech.duration),
                            PostOptions(blinks=False))
    landmarks = head.landmarks(head.channel_weights(animation.channels, animation.values))
    lips = (landmarks[:, 48:68] - head.neutral[48:68]).reshape(len(landmarks), -1) * 1000.0
    return audio, fit_length(lips.astype(np.float32), len(log_mel(audio)))


# -- free-running on the test utterances ----------------------------------------------------------------
def utterance_scores(lips_on_truth: np.ndarray, own_lips: np.ndarray, utterance: Utterance) -> dict:
    """The lip measures of one row on one utterance: warped lips against the labels, its own gap's spread."""
    errors = lip_error_per_frame(lips_on_truth, utterance.lips)
    return {"frames": len(errors), "lip_error_sum": float(errors.sum()),
            "gap_std_mm": float(np.std(gap_mm(own_lips, utterance.neutral)))}


def speech_scores(audio: np.ndarray, sample_rate: int, text: str, notes: list[str], what: str) -> dict:
    edits, words = word_errors(text, recognised_words(audio, sample_rate, notes, what))
    return {"word_errors": edits, "words": words}


def run_scores(run: Run, utterance: Utterance, seed: int, notes: list[str]) -> tuple[dict, dict]:
    generated = generate(run, utterance.text, len(utterance.mel), seed)
    path = mel_path(utterance.mel, generated.mel)
    scores = utterance_scores(generated.lips[path], generated.lips, utterance)
    speech = speech_of(generated.mel, run.config)
    what = f"{run.name} on {utterance.id}"
    scores.update(speech_scores(speech, run.config.sample_rate, utterance.text, notes, what))
    scores.update(length_error_pct=length_error_pct(len(generated.mel), len(utterance.mel)), stopped=generated.stopped,
                  mel_monotonic=monotonic_steps(generated.mel_alignments),
                  lip_monotonic=monotonic_steps(generated.lip_alignments),
                  mel_reach=attention_reach(generated.mel_alignments),
                  lip_reach=attention_reach(generated.lip_alignments))
    return scores, {"generated": generated, "lips_on_truth": generated.lips[path]}


def free_running(runs: list[Run], utterances: list[Utterance], head, args: Args, notes: list[str]):
    """Per-utterance scores of every row, and the first utterance's curves for the plots."""
    from tqdm import tqdm

    from .dataset import SAMPLE_RATE, log_mel

    scores: dict[str, list[dict]] = {}
    example: dict = {}
    for index, utterance in enumerate(tqdm(utterances, desc="free-running", unit="utt")):
        curves = {TRUTH: utterance.lips}
        for run in runs:
            row, extra = run_scores(run, utterance, args.seed + index, notes)
            scores.setdefault(run.name, []).append(row)
            curves[run.name] = extra["lips_on_truth"]
            if not example:
                example["attention"] = {"run": run.name, "mel": extra["generated"].mel_alignments,
                                        "lips": extra["generated"].lip_alignments}
        audio, lips = phoneme_path(utterance.text, head)
        on_truth = lips[mel_path(utterance.mel, log_mel(audio))]
        row = utterance_scores(on_truth, lips, utterance)
        row.update(speech_scores(audio, SAMPLE_RATE, utterance.text, notes, f"espeak-ng on {utterance.id}"),
                   length_error_pct=length_error_pct(len(lips), len(utterance.mel)))
        scores.setdefault(PHONEMES, []).append(row)
        curves[PHONEMES] = on_truth
        lazy = np.zeros_like(utterance.lips)
        scores.setdefault(LAZY, []).append(utterance_scores(lazy, lazy, utterance))
        truth = utterance_scores(utterance.lips, utterance.lips, utterance)
        truth.update(speech_scores(utterance.audio, SAMPLE_RATE, utterance.text, notes, f"recording {utterance.id}"))
        scores.setdefault(TRUTH, []).append(truth)
        if "utterance" not in example:
            example.update(utterance={"id": utterance.id, "voice": utterance.voice, "text": utterance.text},
                           gaps={name: gap_mm(lips_mm, utterance.neutral) for name, lips_mm in curves.items()})
    return scores, example


# -- LibriVox -----------------------------------------------------------------------------------------
def librivox_rows(runs: list[Run], folder: str, head, seed: int, notes: list[str]) -> tuple[dict[str, dict], int]:
    """DESIGN §5's sync score of every run over the clips with a transcript and phone timings, and the word
    error rate of each run's speech of the transcripts (real English words, unlike the corpus's strings),
    beside espeak-ng's speech and the recordings themselves."""
    from backend.audio import load_audio
    from backend.text import synthesize

    from .dataset import MEL_FPS, SAMPLE_RATE, log_mel
    from .eval_metrics import SyncCounts, read_phones, sync_counts, sync_phone_classes

    classes = sync_phone_classes("arpabet")
    clips = [wav for wav in sorted(Path(folder).glob("*.wav"))
             if wav.with_suffix(".phone.json").is_file() and wav.with_suffix(".txt").is_file()]
    totals: dict[str, SyncCounts] = {}
    stopped: dict[str, int] = {}
    errors: dict[str, list[int]] = {}

    def add_words(name: str, audio: np.ndarray, rate: int, text: str) -> None:
        scores = speech_scores(audio, rate, text, notes, f"{name} on {wav.name}")
        counted = errors.setdefault(name, [0, 0])
        counted[0] += scores["word_errors"]
        counted[1] += scores["words"]

    for index, wav in enumerate(clips):
        audio = load_audio(wav)
        mel, phones = log_mel(audio), read_phones(wav.with_suffix(".phone.json"))
        text = wav.with_suffix(".txt").read_text("utf-8").strip()
        for run in runs:
            generated = generate(run, text, len(mel), seed + index)
            gap = gap_mm(generated.lips[mel_path(mel, generated.mel)], head.neutral)
            totals[run.name] = totals.get(run.name, SyncCounts()) + sync_counts(gap, MEL_FPS, phones, classes)
            stopped[run.name] = stopped.get(run.name, 0) + int(generated.stopped)
            add_words(run.name, speech_of(generated.mel, run.config), run.config.sample_rate, text)
        espeak = synthesize(text, "en")
        add_words(PHONEMES, espeak.audio, espeak.sample_rate, text)
        add_words(TRUTH, audio, SAMPLE_RATE, text)
    rows = {name: {"clips": len(clips), "gate_stopped": stopped[name], **counts.row(),
                   "wer": errors[name][0] / max(1, errors[name][1])}
            for name, counts in totals.items()}
    for name in (PHONEMES, TRUTH):
        if name in errors:
            rows[name] = {"clips": len(clips), "wer": errors[name][0] / max(1, errors[name][1])}
    return rows, len(clips)


# -- the command --------------------------------------------------------------------------------------
def chosen_runs(args: Args) -> tuple[list[Run], dict[int, str]]:
    """The runs (the full run first, then the Table I rows in order, then the rest) and row -> name."""
    folders = parse_pairs(args.runs, "--runs")
    if not folders:
        raise ValueError("--runs names no run")
    table1 = {}
    for row, name in parse_pairs(args.table1, "--table1").items():
        if row not in ("1", "2", "3", "4"):
            raise ValueError(f"--table1: row {row!r} is not one of the paper's rows 1-4")
        table1[int(row)] = name
    for name in [*table1.values(), *([args.full] if args.full else [])]:
        if name not in folders:
            raise ValueError(f"--table1/--full: {name!r} is not a NAME given in --runs")
    order = [*([args.full] if args.full else []), *(table1[row] for row in sorted(table1))]
    order += [name for name in folders if name not in order]
    return [load_run(name, Path(folders[name])) for name in dict.fromkeys(order)], table1


def table1_rows(runs: list[Run], table1: dict[int, str], full: str) -> list[dict]:
    by_name = {run.name: run for run in runs}
    wanted = [(str(row), name) for row, name in sorted(table1.items())] + ([("full", full)] if full else [])
    rows = []
    for row, name in wanted:
        run = by_name[name]
        try:
            read = epoch_row(read_metrics(run.folder / "metrics.csv"), steps_per_epoch=steps_per_epoch(run.record))
        except ValueError as err:
            raise ValueError(f"{run.folder / 'metrics.csv'}: {err}") from None
        rows.append({"row": row, "run": name, "folder": str(run.folder), **read, **table1_ticks(run.record),
                     "stage": run.config.stage, "guided_attention": run.config.guided_attention})
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(Args, argv, "mouthpiece-train eval-tacotron", __doc__.splitlines()[0])
    import torch

    from backend import headmodel
    from backend.errors import MouthpieceError

    from .eval_tacotron_report import other_librivox_rows, write_report

    torch.set_num_threads(args.threads)
    notes: list[str] = []
    try:
        runs, table1 = chosen_runs(args)
        table = table1_rows(runs, table1, args.full)
        head = headmodel.load()
        utterances, available = load_utterances(args.test, args.items)
        scores, example = free_running(runs, utterances, head, args, notes)
        librivox, clips = librivox_rows(runs, args.librivox, head, args.seed, notes)
        others = other_librivox_rows(split_list(args.other_models))
    except (MouthpieceError, ValueError, OSError) as err:
        print(f"mouthpiece-train eval-tacotron: {err}", file=sys.stderr)
        return 2
    results = {"command": shlex.join(["mouthpiece-train", "eval-tacotron", *argv]), "full": args.full,
               "runs": {run.name: {"folder": str(run.folder), "model": run.record["model"],
                                   "step": run.step} for run in runs},
               "test": {"corpus": args.test, "utterances": len(utterances), "available": available,
                        "voices": sorted({u.voice for u in utterances})},
               "table1": table, "free_running": summary_rows(scores), "librivox": librivox,
               "librivox_clips": clips, "librivox_folder": args.librivox, "other_librivox": others,
               "length_cap": LENGTH_CAP, "notes": notes}
    write_report(Path(args.out), results, example)
    print(json.dumps({"table1": table, "free_running": results["free_running"], "librivox": librivox},
                     indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
