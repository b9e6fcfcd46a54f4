"""The Tacotron evaluation: its measures on hand-made arrays, and the command end to end on a tiny model."""
from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest

from training.eval_tacotron_measures import (LAZY, TRUTH, attention_reach, epoch_row, gap_mm, length_error_pct,
                                             lip_error_per_frame, mel_path, monotonic_share, read_metrics,
                                             steps_per_epoch, table1_ticks, word_error_rate)


def one_hot_attention(peaks: list[int], n: int = 6) -> np.ndarray:
    alignments = np.full((len(peaks), n), 0.01)
    alignments[np.arange(len(peaks)), peaks] = 1.0
    return alignments / alignments.sum(axis=1, keepdims=True)


def test_monotonic_share_counts_steps_that_keep_or_advance_the_peak():
    assert monotonic_share(one_hot_attention([0, 1, 1, 2, 1, 3])) == pytest.approx(4 / 5)
    assert monotonic_share(one_hot_attention([0, 0, 1, 2, 3, 5])) == 1.0
    assert math.isnan(monotonic_share(one_hot_attention([2])))


def test_attention_stuck_on_one_character_is_monotonic_but_reaches_nowhere():
    stuck = one_hot_attention([0] * 10, n=11)
    assert monotonic_share(stuck) == 1.0 and attention_reach(stuck) == 0.0
    assert attention_reach(one_hot_attention([0, 3, 5, 10], n=11)) == 1.0
    assert attention_reach(one_hot_attention([0, 2, 5], n=11)) == pytest.approx(0.5)


def test_lip_error_is_the_mean_euclidean_distance_per_landmark():
    truth = np.zeros((4, 60))
    predicted = np.zeros((4, 60))
    predicted[:, 0:3] = [3.0, 4.0, 0.0]  # landmark 48 off by 5 mm, the other 19 exact
    np.testing.assert_allclose(lip_error_per_frame(predicted, truth), 5.0 / 20)


def test_gap_follows_the_inner_lips_in_mm_and_its_spread_measures_movement():
    neutral = np.zeros((68, 3))
    neutral[62, 2], neutral[66, 2] = 0.002, 0.0  # the inner lips 2 mm apart at rest
    opening = 3.0 * np.sin(np.linspace(0, 4 * np.pi, 200, endpoint=False))  # the lower lip moves +-3 mm
    lips = np.zeros((200, 60))
    lips[:, (66 - 48) * 3 + 2] = -(opening + 1.0)  # never closer than 0 mm: the gap is 3 + sin
    gap = gap_mm(lips, neutral)
    np.testing.assert_allclose(gap, 3.0 + opening, atol=1e-9)
    assert np.std(gap) == pytest.approx(3.0 / math.sqrt(2), rel=1e-6)
    assert np.std(gap_mm(np.zeros((50, 60)), neutral)) == 0.0


def test_length_error_in_percent():
    assert length_error_pct(120, 100) == pytest.approx(20.0)
    assert length_error_pct(75, 100) == pytest.approx(-25.0)


def test_word_error_rate_normalises_case_and_punctuation():
    assert word_error_rate("Bob made a map.", "bob made a map") == 0.0
    assert word_error_rate("Hello, world!", "hello there world") == pytest.approx(0.5)  # one insertion
    assert word_error_rate("one two three four", "one too three") == pytest.approx(0.5)  # a substitution, a deletion
    assert word_error_rate("one two", "") == 1.0
    assert math.isnan(word_error_rate("", "anything"))


def features(n: int, seed: int = 0) -> np.ndarray:
    """n frames of 80 bands, each frame distinct and changing smoothly."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(n, 80)), axis=0).astype(np.float32)


def test_dtw_warps_lips_generated_twice_as_slow_back_onto_the_true_timeline():
    true_mel = features(40)
    generated_mel = np.repeat(true_mel, 2, axis=0)  # every frame held twice: 2x slower speech
    generated_lips = np.repeat(np.arange(80, dtype=np.float64)[:, None] // 2, 60, axis=1)  # value = true frame
    path = mel_path(true_mel, generated_mel)
    assert len(path) == 40 and path[0] == 0 and path[-1] == 79 and np.all(np.diff(path) >= 0)
    assert set(np.abs(path - 2 * np.arange(40)).tolist()) <= {0, 1}
    np.testing.assert_array_equal(generated_lips[path][:, 0], np.arange(40))


def test_dtw_warps_faster_speech_onto_the_true_timeline():
    true_mel = features(60, seed=1)
    generated_mel = true_mel[::2]  # every other frame: 2x faster speech
    path = mel_path(true_mel, generated_mel)
    assert len(path) == 60 and path[-1] == 29
    assert np.max(np.abs(path - np.arange(60) // 2)) <= 1


def test_dtw_ignores_a_level_difference_between_the_two_mels():
    true_mel = features(30, seed=2)
    path = mel_path(true_mel, np.repeat(true_mel, 2, axis=0) - 4.0)
    assert set(np.abs(path - 2 * np.arange(30)).tolist()) <= {0, 1}


METRICS = """step,epoch,lr,train_loss,train_mse,val_loss,val_mse,elapsed_s
50,4,0.001,1.0,1.0,,,10
100,9,0.001,0.9,0.9,0.50,0.4,20
{rows}
"""


def write_metrics(path, epochs_and_losses):
    rows = "\n".join(f"{100 * (i + 2)},{epoch},0.001,0.5,0.5,{loss},0.3,{30 + i}"
                     for i, (epoch, loss) in enumerate(epochs_and_losses))
    path.write_text(METRICS.format(rows=rows))
    return path


def test_epoch_row_takes_the_first_validation_after_fifty_epochs(tmp_path):
    path = write_metrics(tmp_path / "metrics.csv", [(30, 0.2), (49, 0.1), (50, 0.05), (51, 0.07), (80, 0.01)])
    row = epoch_row(read_metrics(path))
    assert (row["val_loss"], row["epoch"], row["step"], row["note"]) == (0.05, 50, 400, "")
    assert (row["best_val_loss"], row["best_epoch"]) == (0.01, 80)


def test_epoch_row_counts_epochs_from_steps_when_the_run_says_how_many_make_one(tmp_path):
    # 6 steps an epoch: the validation at step 300 ends the 50th epoch though its epoch column says 49
    path = write_metrics(tmp_path / "metrics.csv", [(33, 0.2), (49, 0.1), (66, 0.05)])
    row = epoch_row(read_metrics(path), steps_per_epoch=6.0)
    assert (row["val_loss"], row["epoch"], row["step"]) == (0.1, 50.0, 300)
    assert steps_per_epoch({"about": {"train_utterances": 85}, "train": {"batch_size": 8}}) == 10.0
    assert steps_per_epoch({"about": {}, "train": {"batch_size": 8}}) is None


def test_epoch_row_of_a_run_that_stopped_early_is_its_last_validation_with_a_note(tmp_path):
    path = write_metrics(tmp_path / "metrics.csv", [(20, 0.3), (30, 0.2)])
    row = epoch_row(read_metrics(path))
    assert (row["val_loss"], row["epoch"]) == (0.2, 30)
    assert row["note"] == "stopped at epoch 30, before 50"


def test_epoch_row_needs_a_validation(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,epoch,lr,train_loss,train_mse,val_loss,val_mse,elapsed_s\n10,0,0.001,1,1,,,1\n")
    with pytest.raises(ValueError, match="no validation rows"):
        epoch_row(read_metrics(path))


def test_table1_ticks_come_from_the_run_config():
    model = {"landmark_postnet": True, "landmark_prenet": False, "freeze": ["embedding", "encoder", "gate"]}
    assert table1_ticks({"model": model}) == {"postnet": True, "prenet": False, "pretrained": True}
    scratch = {**model, "landmark_postnet": False, "freeze": []}
    assert table1_ticks({"model": scratch, "train": {"init_from": ""}})["pretrained"] is False
    started = {"model": scratch, "about": {"command": ["mouthpiece-train", "tacotron", "--init-from", "r/model"]}}
    assert table1_ticks(started)["pretrained"] is True
    decoder_only = {"model": scratch, "train": {"init_from": "r/model", "init_parts": ["mel_decoder"]}}
    assert table1_ticks(decoder_only)["pretrained"] is False


# -- the command --------------------------------------------------------------------------------------
TEXTS = ("Bob made a map.", "We were away a year ago.")


def tiny_run(folder, seed: int = 0) -> None:
    """A randomly initialised, very small Tacotron saved as a run: model.* and metrics.csv."""
    import torch

    from backend import checkpoints
    from backend.checkpoints import Checkpoint
    from training.families.tacotron import Tacotron, TacotronConfig

    torch.manual_seed(seed)
    config = TacotronConfig(stage="landmarks", embedding=16, encoder_lstm=8, attention_rnn=16, decoder_rnn=16,
                            landmark_rnn=16, attention_dim=8, location_filters=4, prenet=(16, 16),
                            postnet_channels=8, frames_per_step=3, freeze=("embedding", "encoder", "gate"),
                            gate_threshold=1.0)  # the gate never stops it: generation runs to the cap
    tensors = {k: v.numpy() for k, v in Tacotron(config).state_dict().items()}
    record = {"family": "tacotron", "model": json.loads(json.dumps(dataclasses.asdict(config))),
              "train": {"init_from": "stage1/model"}, "about": {"voices": "espeak:en-us"}}
    checkpoints.save(folder / "model", Checkpoint(tensors, "tacotron", record, step=12))
    write_metrics(folder / "metrics.csv", [(48, 0.4), (52, 0.3)])


def test_eval_tacotron_writes_its_report_end_to_end(tmp_path, librivox_clips, capsys):
    import soundfile

    from tests.tiny_corpus import write_tiny_corpus
    from training.eval_tacotron import main

    corpus = write_tiny_corpus(tmp_path / "corpus", per_voice=2, seconds=1.5)
    records = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()]
    for i, record in enumerate(records):
        record["text"] = TEXTS[i % 2]
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    clips = tmp_path / "librivox"
    clips.mkdir()
    shortest = min(librivox_clips, key=lambda wav: soundfile.info(wav).duration)
    for suffix in (".wav", ".txt", ".phone.json"):
        shutil.copy(shortest.with_suffix(suffix), clips / shortest.with_suffix(suffix).name)
    tiny_run(tmp_path / "full")
    out = tmp_path / "report"
    argv = ["--runs", f"full={tmp_path / 'full'}", "--table1", "3=full", "--full", "full", "--test", str(corpus),
            "--items", "1", "--librivox", str(clips), "--other-models", "", "--out", str(out),
            "--threads", "1"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "attention.png", "lip_gap.png", "tacotron_eval.json"]
    for png in ("attention.png", "lip_gap.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    readme = (out / "README.md").read_text()
    assert "mouthpiece-train eval-tacotron --runs full=" in readme.split("## ")[0]
    assert "| 3 | full | 3.0000e-01 | 52 (300) |" in readme and "1.5066e-02" in readme
    results = json.loads((out / "tacotron_eval.json").read_text())
    rows = results["free_running"]
    assert list(rows) == ["full", "Phoneme path (espeak-ng)", LAZY, TRUTH]
    assert rows[LAZY]["vs_lazy"] == 1.0 and rows[LAZY]["gap_std_mm"] == 0.0
    assert rows[TRUTH]["gap_std_mm"] > 0.5 and rows["full"]["lip_error_mm"] > 0
    assert rows["full"]["utterances"] == 1 and 0 <= rows["full"]["mel_monotonic"] <= 1
    assert rows["full"]["gate_stopped"] == 0 and rows["full"]["length_error_pct"] == pytest.approx(150, abs=3)
    assert results["table1"][0]["pretrained"] is True and results["librivox_clips"] == 1
    assert 0 <= results["librivox"]["full"]["sync_score"] <= 1


def test_eval_tacotron_refuses_a_table1_run_not_named_in_runs(tmp_path, capsys):
    from training.eval_tacotron import main

    assert main(["--runs", f"a={tmp_path}", "--table1", "1=b", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "mouthpiece-train eval-tacotron: --table1/--full: 'b' is not a NAME given in --runs"
    assert not (tmp_path / "out").exists()


def test_eval_tacotron_names_a_run_folder_without_a_model(tmp_path, capsys):
    from training.eval_tacotron import main

    assert main(["--runs", f"a={tmp_path}", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "model.json") in err
