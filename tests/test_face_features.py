"""Face features trained here and the perceptual distance over them: shapes, frames labelled from the source
corpus, a training run that resumes bit-identically, the distance on hand-made images, and the lip-sync
generator taking a step with `perceptual="features"`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from tiny_expert import save_tiny_expert

FPS = 25.0
LABEL_FPS = 100.0
JAW = 7  # the weight column that opens the drawn mouth
TINY = ["--width", "0.125", "--batch-size", "4", "--threads", "1", "--val-items", "8", "--score-items", "16",
        "--eval-every", "2", "--identity-holdout", "3"]


def label_weights(n_label_rows: int, phase: float) -> np.ndarray:
    weights = np.zeros((n_label_rows, 46), np.float32)
    weights[:, JAW] = 0.5 + 0.5 * np.sin(np.arange(n_label_rows) / 8.0 + phase)
    return weights


def draw_faces(weights: np.ndarray, identity: int) -> np.ndarray:
    """uint8 (T, 96, 96, 3): a face of the identity's skin whose mouth opens with the weight column JAW."""
    y, x = np.mgrid[0:96, 0:96]
    skin = np.array([200, 150, 120]) - 40 * identity
    frames = np.empty((len(weights), 96, 96, 3), np.uint8)
    for i, row in enumerate(weights):
        mouth = ((x - 48) / 20.0) ** 2 + ((y - 68) / (1.0 + 10.0 * row[JAW])) ** 2 <= 1.0
        eyes = ((np.abs(x - 48) - 18) / 6.0) ** 2 + ((y - 36) / 3.0) ** 2 <= 1.0
        frames[i] = np.where((mouth | eyes)[..., None], [60, 20, 30], skin)
    return frames


def write_faces_set(root: Path, clips: list[tuple[str, str, int, int]]) -> Path:
    """A corpus (labels at 100 fps) and a --full-faces faces set drawn from it; clips are (utterance, split,
    identity, frames); an utterance named "nolabels" has no label file."""
    corpus, faces = root / "corpus", root / "faces"
    for folder in (corpus / "labels", corpus / "audio", faces / "frames"):
        folder.mkdir(parents=True)
    (faces / "faces.json").write_text(json.dumps({"format": "mouthpiece.faces", "version": 1, "fps": FPS,
                                                  "crop": [48, 96], "full_faces": True}))
    records = []
    for number, (utterance, split, identity, n_frames) in enumerate(clips):
        rows = int(n_frames / FPS * LABEL_FPS)
        weights = label_weights(rows, number)
        if utterance != "nolabels":
            np.savez(corpus / "labels" / f"{utterance}.npz", weights=weights, fps=np.float32(LABEL_FPS))
        audio = corpus / "audio" / f"{utterance}.wav"
        soundfile.write(audio, np.zeros(int(n_frames / FPS * 16000), np.float32), 16000)
        at_frames = weights[np.minimum(np.round(np.arange(n_frames) / FPS * LABEL_FPS).astype(int), rows - 1)]
        face = draw_faces(at_frames, identity)
        clip_id = f"{utterance}-soft"
        np.savez_compressed(faces / "frames" / f"{clip_id}.npz", lower=face[:, 48:], face=face)
        records.append({"id": clip_id, "split": split, "voice": "v", "identity": identity, "audio": str(audio),
                        "frames": f"frames/{clip_id}.npz", "n_frames": n_frames, "source": str(corpus)})
    (faces / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return faces


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    return write_faces_set(tmp_path_factory.mktemp("set"), [
        ("u0", "train", 0, 10), ("u1", "train", 1, 9), ("u2", "train", 0, 8), ("u3", "train", 1, 10),
        ("u4", "val", 5, 8), ("u5", "test", 6, 6), ("nolabels", "train", 0, 6)])


def train(out: Path, steps: int, faces: Path) -> int:
    from training.cli import main

    return main(["face-features", "--faces", str(faces), "--out", str(out), "--steps", str(steps), *TINY])


@pytest.fixture(scope="module")
def tiny_run(faces, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert train(out, 2, faces) == 0
    return out


def test_shapes_and_the_loss_with_unknown_identities():
    from training.families.face_features import FaceFeatures, FaceFeaturesConfig, batch_loss

    torch.manual_seed(0)
    model = FaceFeatures(FaceFeaturesConfig(width=0.25, identities=(3, 7, 9)))
    images = torch.rand(2, 3, 96, 96)
    maps = model.trunk(images)
    assert [tuple(m.shape) for m in maps] == [(2, 4, 96, 96), (2, 8, 48, 48), (2, 16, 24, 24), (2, 24, 12, 12)]
    logits, weights = model(images)
    assert logits.shape == (2, 3) and weights.shape == (2, 46)
    assert 0 <= float(weights.min()) and float(weights.max()) <= 1
    batch = {"face": images, "weights": torch.rand(2, 46), "identity": torch.tensor([1, -1])}
    loss, metrics = batch_loss(model, batch)
    assert torch.isfinite(loss) and metrics["frames"] == 2 and "identity_accuracy" in metrics
    held_out = batch_loss(model, batch | {"identity": torch.tensor([-1, -1])})
    assert "identity_ce" not in held_out[1]
    assert float(held_out[0]) == pytest.approx(100.0 * held_out[1]["mse"], rel=1e-5)  # the weights alone
    assert model.config.identities == ("3", "7", "9")
    default = FaceFeatures(FaceFeaturesConfig(identities=tuple(range(24))))
    assert 300_000 < sum(p.numel() for p in default.parameters()) < 400_000


def test_frames_carry_their_label_weights_and_identity_classes(faces):
    from training.face_features_data import (FaceFramesDataset, labelled_clips, split_every, train_identities,
                                             utterance_id)
    from training.families.face_features import FaceFeatures, FaceFeaturesConfig, prepare

    assert utterance_id("u0-en-soft") == "u0-en" and utterance_id("u0-en") == "u0-en"
    clips, skipped = labelled_clips([faces], "train")
    assert skipped == 1 and [c.clip.id for c in clips] == ["u0-soft", "u1-soft", "u2-soft", "u3-soft"]
    kept, held_back = split_every(clips, 3)
    assert [c.clip.id for c in held_back] == ["u2-soft"] and len(kept) == 3
    assert train_identities(kept) == ("0", "1")
    data = FaceFramesDataset(kept, ("0", "1"))
    assert len(data) == 10 + 9 + 10
    expected = label_weights(36, 1)[12]  # clip u1, frame 3 = 0.12 s = label row 12
    item = data[10 + 3]
    assert np.array_equal(item["weights"].numpy(), expected) and int(item["identity"]) == 1
    assert item["face"].shape == (3, 96, 96) and float(item["face"].max()) <= 1.0
    model = FaceFeatures(FaceFeaturesConfig(width=0.125, identities=("0", "1")))
    prepare(model, data)  # the weights head starts at the frames' mean weights
    mean = np.concatenate([c.weights for c in kept]).mean(axis=0).clip(1e-3, 1 - 1e-3)
    assert np.allclose(torch.sigmoid(model.weights_head.bias).detach().numpy(), mean, atol=1e-5)
    val = FaceFramesDataset(labelled_clips([faces], "val")[0], ("0", "1"), shuffle=True)
    assert len(val) == 8 and all(int(val[i]["identity"]) == -1 for i in range(len(val)))


def test_training_resumes_bit_identically_and_scores_its_model(faces, tmp_path, capsys):
    from backend import checkpoints

    assert train(tmp_path / "whole", 4, faces) == 0
    assert "skipped 1 train clip(s) without label weights" in capsys.readouterr().err
    shutil.copytree(tmp_path / "whole", tmp_path / "parts")  # then lose what came after step 2, as in a kill
    for path in [*(tmp_path / "parts" / "checkpoints").glob("*0000004.*"), *(tmp_path / "parts").glob("model.*")]:
        path.unlink()
    assert train(tmp_path / "parts", 4, faces) == 0
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000004")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000004")
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name
    assert whole.config["family"] == "face-features" and whole.config["model"]["identities"] == ["0", "1"]
    assert whole.config["about"]["train_frames"] == 29 and whole.config["about"]["identity_frames"] == 8
    scores = json.loads((tmp_path / "whole" / "face_features_scores.json").read_text())
    assert scores["val"]["frames"] == 8 and "identity_accuracy" not in scores["val"]
    assert scores["test"]["frames"] == 6 and scores["val"]["weights_mse"] >= 0
    assert 0.0 <= scores["identity"]["identity_accuracy"] <= 1.0 and scores["identity"]["frames"] == 8


def test_distance_is_zero_for_the_same_image_symmetric_and_grows_with_blur_and_shift(tiny_run):
    from training.families.lipsync_losses import gaussian_blur
    from training.perceptual import FaceFeatureDistance

    distance = FaceFeatureDistance.from_checkpoint(tiny_run / "model")
    assert distance.width == 0.125 and not any(p.requires_grad for p in distance.parameters())
    torch.manual_seed(0)
    face = torch.from_numpy(draw_faces(label_weights(1, 0.0), 0).transpose(0, 3, 1, 2) / 255).float()
    image = (face + 0.1 * torch.rand_like(face)).clamp(0, 1)
    assert float(distance(image, image)) == 0.0
    other = torch.rand_like(image)
    assert float(distance(image, other)) == pytest.approx(float(distance(other, image)), rel=1e-6)
    blurred = [float(distance(image, gaussian_blur(image, 9, sigma))) for sigma in (0.5, 1.0, 2.0, 4.0)]
    assert 0 < blurred[0] and all(a < b for a, b in zip(blurred, blurred[1:])), blurred
    shifted = [float(distance(image, torch.roll(image, shift, dims=-1))) for shift in (1, 2, 4, 8)]
    assert 0 < shifted[0] and all(a < b for a, b in zip(shifted, shifted[1:])), shifted
    pair = distance.per_image(torch.cat([image, image]), torch.cat([image, other]))
    assert pair.shape == (2,) and float(pair[0]) == 0.0 and float(pair[1]) > 0


def test_the_generator_takes_a_step_with_the_features_perceptual_term(tiny_run, tmp_path):
    from backend import checkpoints
    from training.families.lipsync_gen import LipsyncGenConfig, LipsyncGenerator, batch_loss, prepare

    expert = save_tiny_expert(tmp_path / "expert")
    config = LipsyncGenConfig(width=0.0625, references=3, expert_width=0.125, expert_embedding=16,
                              expert=str(expert), perceptual="features", features_model=str(tiny_run / "model"),
                              features_width=0.125)
    torch.manual_seed(0)
    model = LipsyncGenerator(config)
    prepare(model, None)
    saved = checkpoints.load(tiny_run / "model")
    assert np.array_equal(model.features.trunk.stages[0][0].weight.numpy(), saved.tensors["trunk.stages.0.0.weight"])
    model.train()
    assert not model.features.training and not model.features.trunk.training
    batch = {"frames": torch.rand(1, 5, 3, 96, 96), "refs": torch.rand(1, 3, 3, 96, 96),
             "mels": torch.randn(1, 5, 1, 80, 16), "mel": torch.randn(1, 1, 80, 16), "mask": torch.ones(1, 1, 96, 96)}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss, metrics = batch_loss(model, batch)
    assert torch.isfinite(loss) and metrics["perceptual"] > 0
    loss.backward()
    optimizer.step()
    assert all(p.grad is None for p in model.features.parameters())  # frozen
    assert np.array_equal(model.features.trunk.stages[0][0].weight.numpy(), saved.tensors["trunk.stages.0.0.weight"])
    with pytest.raises(ValueError, match="--features-model"):
        LipsyncGenConfig(perceptual="features")


@pytest.mark.parametrize("problem", ["missing", "wrong family"])
def test_a_bad_features_model_is_named_in_one_line(tiny_run, faces, tmp_path, capsys, problem):
    from training.cli import main

    expert = save_tiny_expert(tmp_path / "expert")
    model = tmp_path / "nothing" if problem == "missing" else expert
    assert main(["lipsync-gen", "--faces", str(faces), "--expert", str(expert), "--out", str(tmp_path / "run"),
                 "--perceptual", "features", "--features-model", str(model), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert ("nothing.json: checkpoint not found" if problem == "missing" else
            "model.json: holds a 'sync-expert' model, not 'face-features'") in err
