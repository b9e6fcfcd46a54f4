"""The shared trainer on a tiny tone corpus: checkpoints, resume after a kill, determinism, torchrun DDP."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backend import checkpoints
from backend.checkpoints import Checkpoint
from backend.errors import InputError
from tiny_corpus import write_tiny_corpus

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SMALL_MODEL = ["--freq-channels", "4,4,8,8,8", "--time-channels", "8,8,8,8", "--hidden", "16",
               "--batch-size", "4", "--crop-s", "1.0", "--threads", "1", "--val-items", "4"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_tiny_corpus(tmp_path_factory.mktemp("tiny") / "corpus")


def train_command(corpus: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "training.cli", "cnn-gru", "--data", str(corpus), "--out", str(out),
            "--steps", str(steps), "--eval-every", "2", *SMALL_MODEL, *extra]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, **kwargs)


def test_checkpoint_pair_round_trips_and_detects_a_replaced_tensor_file(tmp_path):
    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.array(3, dtype=np.int64)}
    checkpoints.save(tmp_path / "ck", Checkpoint(tensors, "cnn-gru", {"model": {"hidden": 4}}, 7, {"mse": 0.5}))
    loaded = checkpoints.load(tmp_path / "ck")
    assert loaded.step == 7 and loaded.config == {"model": {"hidden": 4}} and loaded.metrics == {"mse": 0.5}
    np.testing.assert_array_equal(loaded.tensors["w"], tensors["w"])
    numpy_only = checkpoints.read_tensors_numpy(tmp_path / "ck.safetensors")
    np.testing.assert_array_equal(numpy_only["w"], tensors["w"])
    assert int(numpy_only["step"]) == 3
    other = tmp_path / "other"
    checkpoints.save(other, Checkpoint({"w": np.zeros(2, np.float32)}, "cnn-gru", {}))
    os.replace(tmp_path / "other.safetensors", tmp_path / "ck.safetensors")
    with pytest.raises(InputError, match="ck.safetensors"):
        checkpoints.load(tmp_path / "ck")


def test_training_resumes_after_being_killed_and_exports_a_loadable_model(corpus, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(train_command(corpus, out, 100000), cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list((out / "checkpoints").glob("step-*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    saved = sorted((out / "checkpoints").glob("step-*.json"))
    assert saved, "the first run wrote no checkpoint before it was killed"
    killed_at = max(json.loads(p.read_text())["step"] for p in saved)
    assert not (out / "model.json").exists()  # the run never finished

    result = run(train_command(corpus, out, killed_at + 4))
    assert result.returncode == 0, result.stderr
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    steps = [int(float(row.split(",")[0])) for row in rows]
    assert steps == sorted(set(steps)) and steps[-1] == killed_at + 4
    last = checkpoints.load(out / "checkpoints" / f"step-{killed_at + 4:07d}")
    assert last.step == killed_at + 4 and last.extra["epoch"] >= 1
    model = checkpoints.load(out / "model")
    assert model.family == "cnn-gru" and model.config["model"]["hidden"] == 16
    assert np.isfinite(model.metrics["val_loss"])
    assert (out / "loss.png").stat().st_size > 1000


def test_same_seed_gives_the_same_weights(corpus, tmp_path):
    results = []
    for name in ("a", "b"):
        result = run(train_command(corpus, tmp_path / name, 3))
        assert result.returncode == 0, result.stderr
        results.append(checkpoints.load(tmp_path / name / "model").tensors)
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)


def test_a_resumed_run_ends_with_the_weights_of_an_unbroken_one(corpus, tmp_path):
    unbroken = tmp_path / "unbroken"
    result = run(train_command(corpus, unbroken, 6, "--tensorboard"))
    assert result.returncode == 0, result.stderr
    resumed = tmp_path / "resumed"
    shutil.copytree(unbroken, resumed)
    for path in [*(resumed / "checkpoints").glob("*0000006.*"), *resumed.glob("model.*")]:
        path.unlink()  # as if killed right after the step-4 checkpoint
    result = run(train_command(corpus, resumed, 6, "--tensorboard"))
    assert result.returncode == 0, result.stderr
    expected = checkpoints.load(unbroken / "checkpoints" / "step-0000006")
    assert expected.extra["epoch"] >= 1  # the run crossed an epoch, whose crops and noise are drawn anew
    got = checkpoints.load(resumed / "checkpoints" / "step-0000006")
    assert set(got.tensors) == set(expected.tensors)
    for key, value in expected.tensors.items():
        np.testing.assert_array_equal(got.tensors[key], value, err_msg=key)
    assert tensorboard_steps(resumed, "val_loss") == [2, 4, 6]  # steps 5-6 written once, though run twice


def tensorboard_steps(run_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def test_torchrun_two_processes_on_cpu(corpus, tmp_path):
    out = tmp_path / "ddp"
    command = [str(VENV_BIN / "torchrun"), "--nproc_per_node=2", "--master_port=29517", "-m",
               "training.train_cnn_gru", "--data", str(corpus), "--out", str(out), "--steps", "3",
               "--eval-every", "2", "--device", "cpu", *SMALL_MODEL]
    result = run(command, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    model = checkpoints.load(out / "model")
    assert model.config["world_size"] == 2
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and len(rows) == 3  # steps 2 and 3, written once (rank 0 only)


def test_evaluation_writes_tables_and_plots(corpus, tmp_path):
    train = run(train_command(corpus, tmp_path / "gru", 2))
    assert train.returncode == 0, train.stderr
    out = tmp_path / "eval"
    result = run([sys.executable, "-m", "training.cli", "eval", "--data", str(corpus), "--out", str(out),
                  "--gru", str(tmp_path / "gru" / "model"), "--lstm", str(tmp_path / "none"),
                  "--static", str(tmp_path / "none"), "--no-phonemes"])
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "cnn_gru_eval.json").read_text())
    rows = results["held_out_all"]
    assert set(rows) == {"CNN+GRU", "Lazy (closed mouth)", "Ground truth"}
    assert rows["CNN+GRU"]["utterances"] == 4 and rows["Ground truth"]["weight_mse"] == 0.0
    assert rows["Lazy (closed mouth)"]["self_smoothness"] == 0.0
    assert any("CNN-static: no checkpoint" in note for note in results["notes"])
    table = (out / "cnn_gru_eval.md").read_text()
    assert "| CNN+GRU |" in table and "Lazy (closed mouth)" in table
    assert (out / "metrics.png").stat().st_size > 1000 and (out / "example_curves.png").stat().st_size > 1000


def test_a_folder_without_a_manifest_is_a_clear_error(tmp_path):
    result = run([sys.executable, "-m", "training.cli", "cnn-gru", "--data", str(tmp_path), "--out",
                  str(tmp_path / "run")])
    assert result.returncode == 2
    assert str(tmp_path) in result.stderr and "manifest.jsonl" in result.stderr


def test_a_second_stage_starts_from_the_first_stages_weights(corpus, tmp_path):
    first = run(train_command(corpus, tmp_path / "stage1", 2))
    assert first.returncode == 0, first.stderr
    start = checkpoints.load(tmp_path / "stage1" / "model").tensors
    second = run(train_command(corpus, tmp_path / "stage2", 2, "--init-from", str(tmp_path / "stage1" / "model"),
                               "--gap-weight", "1.0", "--lr", "1e-9"))
    assert second.returncode == 0, second.stderr
    after = checkpoints.load(tmp_path / "stage2" / "model")
    for key, value in start.items():
        np.testing.assert_allclose(after.tensors[key], value, atol=1e-5, err_msg=key)
    assert after.config["model"]["gap_weight"] == 1.0
    assert after.config["train"]["init_from"] == str(tmp_path / "stage1" / "model")


def test_a_second_stage_refuses_weights_of_another_shape(corpus, tmp_path):
    assert run(train_command(corpus, tmp_path / "stage1", 2)).returncode == 0
    other = [a if a != "16" else "24" for a in train_command(corpus, tmp_path / "wide", 2)]
    result = run(other + ["--init-from", str(tmp_path / "stage1" / "model")])
    assert result.returncode == 2 and "do not fit this model" in result.stderr
