"""Tacotron lips: shapes, losses, the gate, two-stage training that resumes, and NVIDIA weights."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from tests.tiny_corpus import write_tiny_corpus
from training.families.tacotron import (LIP_VALUES, Tacotron, TacotronConfig, batch_loss,
                                        guided_attention_loss)

SMALL = dict(embedding=16, encoder_lstm=8, attention_rnn=24, decoder_rnn=24, landmark_rnn=24, attention_dim=8,
             location_filters=4, location_kernel=7, prenet=(16, 16), postnet_channels=8)
SMALL_OPTIONS = ["--embedding", "16", "--encoder-lstm", "8", "--attention-rnn", "24", "--decoder-rnn", "24",
                 "--landmark-rnn", "24", "--attention-dim", "8", "--location-filters", "4", "--prenet", "16,16",
                 "--postnet-channels", "8"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = write_tiny_corpus(tmp_path_factory.mktemp("tacotron-corpus"), per_voice=3, seconds=1.0)
    lines = (root / "manifest.jsonl").read_text().splitlines()
    words = ["ma pa ba", "see the tea", "a bee", "mop the top", "boom", "papa"]
    records = [json.loads(line) | {"text": words[i % len(words)]} for i, line in enumerate(lines)]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


def batch(b=2, n=7, t=11):
    torch.manual_seed(0)
    return {"x": torch.randint(2, 30, (b, n)), "x_length": torch.tensor([n, n - 2][:b]),
            "mel": torch.randn(b, t, 80), "mel_length": torch.tensor([t, t - 3][:b]),
            "lips": torch.randn(b, t, LIP_VALUES), "lips_length": torch.tensor([t, t - 3][:b])}


@pytest.mark.parametrize("r", [1, 3])
def test_teacher_forced_shapes(r):
    model = Tacotron(TacotronConfig(frames_per_step=r, landmark_prenet=True, landmark_postnet=True, **SMALL))
    data = batch()
    memory, pad_mask = model.encode(data["x"], data["x_length"])
    assert memory.shape == (2, 7, 16) and pad_mask[1, -2:].all() and not pad_mask[0].any()
    before, after, gate, align = model.forward_mel(memory, pad_mask, data["mel"])
    steps = -(-11 // r)
    assert before.shape == after.shape == (2, 11, 80) and gate.shape == (2, steps) and align.shape == (2, steps, 7)
    assert torch.allclose(align.sum(2), torch.ones(2, steps), atol=1e-5)
    assert float(align[1, :, 5:].max()) < 1e-6  # padded characters get no attention
    lips, lip_align = model.forward_landmarks(memory, pad_mask, data["lips"])
    assert lips.shape == (2, 11, LIP_VALUES) and lip_align.shape == (2, steps, 7)


def test_landmark_loss_is_the_papers_padded_smooth_l1():
    model = Tacotron(TacotronConfig(stage="landmarks", **SMALL)).eval()
    data = batch()
    loss, metrics = batch_loss(model, data)
    memory, pad_mask = model.encode(data["x"], data["x_length"])
    predicted, _ = model.forward_landmarks(memory, pad_mask, data["lips"])
    predicted[1, 8:] = 0.0  # padded frames count, as exact zeros
    expected = torch.nn.functional.smooth_l1_loss(predicted, data["lips"], beta=1.0)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert metrics["frames"] == 19


def test_guided_attention_penalises_off_diagonal_alignments():
    eye = torch.eye(10)[None]
    flipped = torch.flip(eye, [2])
    lengths = torch.tensor([10])
    diagonal = guided_attention_loss(eye, lengths, lengths, 0.2)
    anti = guided_attention_loss(flipped, lengths, lengths, 0.2)
    assert float(diagonal) < 0.01 < 0.05 < float(anti)


def test_the_gate_stops_generation():
    model = Tacotron(TacotronConfig(frames_per_step=2, **SMALL)).eval()
    text = torch.tensor([5, 6, 7, 8])
    with torch.no_grad():
        model.gate.bias.fill_(20.0)
    out = model.infer(text, max_steps=50)
    assert out["stopped"] and out["mel"].shape == (2, 80) and out["lips"].shape == (2, LIP_VALUES)
    with torch.no_grad():
        model.gate.bias.fill_(-20.0)
    out = model.infer(text, max_steps=50)
    assert not out["stopped"] and out["mel"].shape == (100, 80) and out["mel_alignments"].shape == (50, 4)


def train(corpus, out, steps: int, *extra: str) -> int:
    from training.train_tacotron import main

    return main(["--data", str(corpus), "--out", str(out), "--voices", "", "--val-items", "3", "--batch-size", "2",
                 "--steps", str(steps), "--eval-every", "2", "--threads", "1", "--device", "cpu", *SMALL_OPTIONS,
                 *extra])


def test_two_stages_train_resume_and_freeze(corpus, tmp_path):
    from backend import checkpoints

    assert train(corpus, tmp_path / "whole", 3) == 0
    shutil.copytree(tmp_path / "whole", tmp_path / "parts")  # then lose what came after step 2, as in a kill
    for path in [*(tmp_path / "parts" / "checkpoints").glob("*0000003.*"), *(tmp_path / "parts").glob("model.*")]:
        path.unlink()
    assert train(corpus, tmp_path / "parts", 3) == 0
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000003")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000003")
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name

    stage1 = checkpoints.load(tmp_path / "whole" / "model")
    assert train(corpus, tmp_path / "lips", 2, "--stage", "landmarks", "--init-from", str(tmp_path / "whole" / "model"),
                 "--landmark-prenet") == 0
    stage2 = checkpoints.load(tmp_path / "lips" / "model")
    config = stage2.config["model"]
    assert config["stage"] == "landmarks" and config["freeze"] == ["embedding", "encoder", "gate"]
    for name in ("embedding.weight", "encoder.lstm.weight_ih_l0", "encoder.convs.1.running_mean", "gate.bias",
                 "mel_decoder.projection.weight"):
        assert np.array_equal(stage1.tensors[name], stage2.tensors[name]), name
    assert "landmark_decoder.prenet.layers.0.weight" in stage2.tensors
    rows = (tmp_path / "lips" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch") and len(rows) >= 2


def test_landmarks_stage_needs_the_pretrained_parts(corpus, tmp_path):
    from backend import checkpoints
    from backend.checkpoints import Checkpoint

    checkpoints.save(tmp_path / "empty", Checkpoint({"unrelated": np.zeros(1, np.float32)}, "tacotron",
                                                    {"model": dict(SMALL) | {"prenet": [16, 16]}}, 0, {}))
    assert train(corpus, tmp_path / "run", 1, "--stage", "landmarks", "--init-from", str(tmp_path / "empty")) == 2


def nvidia_state(model: Tacotron) -> dict:
    from training.tacotron_nvidia import name_map

    ours = model.state_dict()
    return {theirs: ours[name].clone() for name, theirs in name_map().items()}


def small_nvidia_file(tmp_path):
    source = Tacotron(TacotronConfig(n_symbols=148, **SMALL))
    path = tmp_path / "tacotron2_statedict.pt"
    torch.save({"state_dict": nvidia_state(source), "iteration": 1}, path)
    return source, path


def test_nvidia_weights_convert_into_a_stage_one_run(tmp_path):
    from backend import checkpoints
    from training.tacotron_nvidia import main

    source, path = small_nvidia_file(tmp_path)
    assert main(["--checkpoint", str(path), "--out", str(tmp_path / "nv")]) == 0
    converted = checkpoints.load(tmp_path / "nv" / "model")
    config = converted.config["model"]
    assert config["symbols"] == "nvidia" and config["sample_rate"] == 22050 and config["hop"] == 256
    assert config["attention_rnn"] == 24 and config["prenet"] == [16, 16] and config["frames_per_step"] == 1
    for name, value in source.state_dict().items():
        if name.startswith(("landmark", "mel_decoder.prenet.layers.0.bias", "mel_decoder.prenet.layers.1.bias")):
            continue
        assert np.array_equal(converted.tensors[name], value.numpy()), name
    assert main(["--checkpoint", str(path), "--out", str(tmp_path / "nv")]) == 2  # no silent overwrite


def test_the_lips_train_on_nvidia_timing_and_symbols(corpus, tmp_path):
    from backend import checkpoints
    from training.dataset import CorpusDataset

    from training.tacotron_nvidia import main

    assert main(["--checkpoint", str(small_nvidia_file(tmp_path)[1]), "--out", str(tmp_path / "nv")]) == 0
    stem = tmp_path / "nv" / "model"
    assert train(corpus, tmp_path / "lips", 1, "--stage", "landmarks", "--init-from", str(stem)) == 0
    config = checkpoints.load(tmp_path / "lips" / "model").config["model"]
    assert config["stage"] == "landmarks" and config["symbols"] == "nvidia" and config["hop"] == 256
    item = CorpusDataset(corpus, "train", "tacotron", fps=22050 / 256, text_symbols="nvidia")[0]
    assert item["lips"].shape == (1 + int(1.0 * 22050 / 256), 60)
    assert item["x"].tolist()[:3] == [50, 38, 11]  # "ma " in NVIDIA's table


def test_nvidia_import_rejects_other_files(tmp_path, capsys):
    from training.tacotron_nvidia import main

    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"embedding.weight": torch.zeros(10, 4)}}, path)
    assert main(["--checkpoint", str(path), "--out", str(tmp_path / "nv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other.pt" in err[0] and "148" in err[0]


def test_export_ships_half_precision_weights_without_overwriting(tmp_path):
    from backend import checkpoints
    from backend.checkpoints import Checkpoint
    from training.export_model import main

    model = Tacotron(TacotronConfig(**SMALL))
    tensors = {name: value.numpy() for name, value in model.state_dict().items()}
    checkpoints.save(tmp_path / "run" / "model", Checkpoint(tensors, "tacotron", {"model": {}}, 9, {"val_loss": 1.0}))
    assert main(["--model", str(tmp_path / "run" / "model"), "--out", str(tmp_path / "ship"), "--float16"]) == 0
    shipped = checkpoints.load(tmp_path / "ship" / "model")
    assert shipped.step == 9 and shipped.metrics == {"val_loss": 1.0}
    assert shipped.tensors["gate.weight"].dtype == np.float16
    assert shipped.tensors["encoder.convs.1.num_batches_tracked"].dtype == np.int64
    np.testing.assert_allclose(shipped.tensors["gate.weight"], tensors["gate.weight"], atol=1e-3)
    assert main(["--model", str(tmp_path / "run" / "model"), "--out", str(tmp_path / "ship")]) == 2
