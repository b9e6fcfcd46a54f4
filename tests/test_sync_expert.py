"""The lip-sync expert: shapes, the faces-set dataset's pairs, training that resumes after a kill, and the numpy
runtime against torch."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from backend import wav2lip_mel
from backend.errors import InputError

FPS = 25.0
TINY = ["--width", "0.125", "--embedding", "16"]


def envelope(n_frames: int, seed: int) -> np.ndarray:
    """A syllable-like loudness per frame, in [0, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / FPS
    return np.clip(np.sin(2 * np.pi * rng.uniform(2.0, 4.0) * t + rng.uniform(0, 6.28)), 0, None) ** 2


def lower_faces(loudness: np.ndarray, identity: int) -> np.ndarray:
    """uint8 (T, 48, 96, 3): a skin-coloured lower face whose dark mouth opens with the loudness."""
    skin = np.array([200, 150, 120]) - 25 * identity
    y, x = np.mgrid[0:48, 0:96]
    frames = np.empty((len(loudness), 48, 96, 3), np.uint8)
    for i, level in enumerate(loudness):
        mouth = ((x - 48) / 22.0) ** 2 + ((y - 16) / (1.0 + 10.0 * level)) ** 2 <= 1.0
        frames[i] = np.where(mouth[..., None], [60, 20, 30], skin)
        frames[i, 0, 0, 0] = i  # a stamp that tells every frame apart
    return frames


def write_clip(root: Path, clip_id: str, split: str, n_frames: int, seed: int, identity: int = 0) -> dict:
    loudness = envelope(n_frames, seed)
    samples = int(n_frames / FPS * 16000)
    frame_of_sample = np.minimum((np.arange(samples) / 16000 * FPS).astype(int), n_frames - 1)
    t = np.arange(samples) / 16000
    audio = (0.5 * loudness[frame_of_sample] * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    (root / "audio").mkdir(exist_ok=True)
    (root / "frames").mkdir(exist_ok=True)
    soundfile.write(root / "audio" / f"{clip_id}.wav", audio, 16000)
    np.savez_compressed(root / "frames" / f"{clip_id}.npz", lower=lower_faces(loudness, identity))
    return {"id": clip_id, "split": split, "voice": f"tone:{seed % 3}", "identity": identity,
            "audio": f"audio/{clip_id}.wav", "frames": f"frames/{clip_id}.npz", "n_frames": n_frames}


def write_faces_set(root: Path, clips: list[tuple[str, str, int]], seed: int = 0, absolute_audio: bool = False) -> Path:
    """A faces set of (id, split, n_frames) clips."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "faces.json").write_text(json.dumps({"format": "mouthpiece.faces", "version": 1, "fps": FPS,
                                                 "crop": [48, 96]}))
    records = [write_clip(root, cid, split, n, seed + i, identity=i % 2) for i, (cid, split, n) in enumerate(clips)]
    for record in records if absolute_audio else []:
        record["audio"] = str((root / record["audio"]).resolve())
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    return write_faces_set(tmp_path_factory.mktemp("faces"), [
        ("a", "train", 40), ("b", "train", 36), ("short", "train", 8), ("c", "val", 30), ("d", "test", 30)])


@pytest.fixture(scope="module")
def more_faces(tmp_path_factory) -> Path:
    return write_faces_set(tmp_path_factory.mktemp("more"), [("e", "train", 32), ("f", "val", 30)], seed=10,
                           absolute_audio=True)


def train(out: Path, steps: int, *folders: Path, extra: tuple = ()) -> int:
    from training.cli import main

    faces_options = [option for folder in folders for option in ("--faces", str(folder))]
    return main(["sync-expert", *faces_options, "--out", str(out), "--steps", str(steps), "--batch-size", "4",
                 "--eval-every", "1", "--val-items", "4", "--score-items", "8", "--threads", "1", *TINY, *extra])


# -- the model ------------------------------------------------------------------------------------------------
def test_shapes_loss_and_sizes():
    from training.families.sync_expert import PAPER_SIZE, SyncExpert, SyncExpertConfig, batch_loss

    model = SyncExpert(SyncExpertConfig())
    faces, mel = torch.rand(3, 15, 48, 96), torch.randn(3, 1, 80, 16)
    assert model.embed_faces(faces).shape == model.embed_audio(mel).shape == (3, 128)
    assert torch.allclose(model.embed_faces(faces).norm(dim=1), torch.ones(3))
    d = model(faces, mel)
    assert d.shape == (3,) and bool(((d >= 0) & (d <= 1)).all())
    loss, metrics = batch_loss(model, {"faces": faces, "mel": mel, "label": torch.tensor([1.0, 0.0, 1.0])})
    loss.backward()
    assert set(metrics) >= {"mse", "accuracy", "frames"} and metrics["frames"] == 3
    assert metrics["mse"] == pytest.approx(loss.item()) and 0 <= metrics["accuracy"] <= 1
    assert model.face_encoder[0].conv.weight.grad is not None and model.audio_encoder[0].conv.weight.grad is not None
    small = sum(p.numel() for p in model.parameters())
    paper = sum(p.numel() for p in SyncExpert(SyncExpertConfig(**PAPER_SIZE)).parameters())
    quarter = sum(p.numel() for p in SyncExpert(SyncExpertConfig(width=0.25)).parameters())
    assert 3.9e6 < small < 4.2e6 and 16.0e6 < paper < 16.8e6  # the shipped width 0.5; the paper's 16.4 M
    assert 0.9e6 < quarter < 1.2e6  # spec §2.2's small suggestion: about 1 M


# -- the data -------------------------------------------------------------------------------------------------
def window_index(lower: np.ndarray, faces: np.ndarray) -> int:
    (match,) = [s for s in range(len(lower) - 4) if np.array_equal(lower[s:s + 5], faces)]
    return match


def test_pairs_are_half_in_sync_and_negatives_lie_five_frames_away(faces):
    from training.faces_dataset import FacesDataset, load_lower, load_mel

    data = FacesDataset([faces], "train", seed=1)
    assert data.skipped == 1 and len(data.clips) == 2  # the 8-frame clip has no window with a negative
    assert len(data) == 36 + 32  # every start: the audio covers the video, and each has a negative
    labels = []
    for index in range(len(data)):
        position, start = data.draws[index]
        lower, mel = load_lower(data.clips[position]), load_mel(data.clips[position])
        pixels, window, label = data.pair(index)
        chosen = window_index(lower, pixels)
        assert chosen == start if label == 1.0 else abs(chosen - start) >= 5
        np.testing.assert_array_equal(window, mel[:, wav2lip_mel.window_start(start):][:, :16])
        labels.append(label)
    assert 0.3 < np.mean(labels) < 0.7
    item = data[0]
    assert item["faces"].shape == (15, 48, 96) and item["mel"].shape == (1, 80, 16) and item["label"].shape == ()
    pixels = data.pair(0)[0]
    np.testing.assert_allclose(item["faces"][3:6].numpy(), pixels[1].transpose(2, 0, 1) / 255.0)  # frame-major


def test_a_shifted_window_that_looks_the_same_is_never_a_negative(tmp_path):
    from training.faces_dataset import FacesDataset, load_lower

    root = write_faces_set(tmp_path / "still", [("still", "train", 40)])
    lower = load_lower(FacesDataset([root], "train", min_change=0).clips[0])
    lower[:, :, :, :] = 128  # a face that never moves, but for frames 30..34
    lower[30:35, 10:30] = 0
    np.savez_compressed(root / "frames" / "still.npz", lower=lower)
    data = FacesDataset([root], "train", seed=3)
    negatives = 0
    for index in range(len(data)):
        _, start = data.draws[index]
        pixels, _, label = data.pair(index)
        still_anchor = not 30 - 4 <= start <= 34
        if label == 0.0 and still_anchor:  # a still window's negatives show the moving frames
            assert (pixels != 128).any()
        negatives += label == 0.0
    assert negatives > 0
    anything = FacesDataset([root], "train", seed=3, min_change=0)
    assert any(label == 0.0 and not (pixels != 128).any() for pixels, _, label in map(anything.pair, range(len(anything))))


def test_training_pairs_change_each_epoch_and_validation_pairs_never(faces):
    from training.faces_dataset import Augment, FacesDataset

    train_data = FacesDataset([faces], "train", seed=0, augment=Augment())
    first = [train_data[i]["faces"] for i in range(6)]
    train_data.set_epoch(1)
    assert any(not torch.equal(a, train_data[i]["faces"]) for i, a in enumerate(first))
    val = FacesDataset([faces], "val", seed=0)
    items = [val[i] for i in range(8)]
    val.set_epoch(5)
    again = FacesDataset([faces], "val", seed=0)
    for i, item in enumerate(items):
        for other in (val[i], again[i]):
            assert torch.equal(item["faces"], other["faces"]) and float(item["label"]) == float(other["label"])


def test_bad_faces_sets_are_named_in_one_line(faces, tmp_path):
    from training.faces_dataset import FacesDataset

    broken = tmp_path / "broken"
    shutil.copytree(faces, broken)
    (broken / "frames" / "a.npz").write_bytes(b"not a zip")
    data = FacesDataset([broken], "train")
    with pytest.raises(InputError, match=r"a\.npz: not a readable frames file"):
        [data[i] for i in range(len(data))]
    with open(broken / "manifest.jsonl", "a") as manifest:
        manifest.write('{"id": "torn", "spl')  # a killed build's last line: skipped
    assert len(FacesDataset([broken], "val")) == 26
    (broken / "frames" / "b.npz").unlink()
    with pytest.raises(InputError, match=r"b\.npz: missing \(named on line 2"):
        FacesDataset([broken], "train")
    (broken / "faces.json").write_text(json.dumps({"format": "mouthpiece.faces", "version": 1, "fps": 30.0,
                                                   "crop": [48, 96]}))
    with pytest.raises(InputError, match="faces.json: fps 30"):
        FacesDataset([broken], "train")


def test_the_command_refuses_a_folder_that_is_no_faces_set(tmp_path, capsys):
    assert train(tmp_path / "run", 1, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a faces set" in err[0]


# -- training -------------------------------------------------------------------------------------------------
def test_training_on_two_sets_resumes_bit_identically_after_a_kill(faces, more_faces, tmp_path, capsys):
    from backend import checkpoints

    assert train(tmp_path / "whole", 3, faces, more_faces) == 0
    assert "skipped 1 clip(s)" in capsys.readouterr().err
    shutil.copytree(tmp_path / "whole", tmp_path / "parts")  # then lose what came after step 2, as in a kill
    for path in [*(tmp_path / "parts" / "checkpoints").glob("*0000003.*"), *(tmp_path / "parts").glob("model.*")]:
        path.unlink()
    assert train(tmp_path / "parts", 3, faces, more_faces) == 0
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000003")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000003")
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name
    about = whole.config["about"]
    assert about["train_clips"] == 3 and about["val_clips"] == 2 and about["skipped_short_clips"] == 1
    assert whole.config["family"] == "sync-expert" and whole.config["model"] == {"width": 0.125, "embedding": 16}
    scores = json.loads((tmp_path / "whole" / "sync_accuracy.json").read_text())
    assert scores["val"]["pairs"] == 8 and 0.0 <= scores["val"]["accuracy"] <= 1.0 and scores["test"]["pairs"] == 8
    assert scores["val_any_shift"]["pairs"] == 8 and 0.0 <= scores["test_any_shift"]["accuracy"] <= 1.0


@pytest.fixture(scope="module")
def tiny_run(faces, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert train(out, 2, faces, extra=("--score-items", "0")) == 0
    return out / "model"


def torch_model(stem: Path):
    from backend import checkpoints
    from training.families.sync_expert import SyncExpert, SyncExpertConfig

    saved = checkpoints.load(stem)
    model = SyncExpert(SyncExpertConfig.from_dict(saved.config["model"]))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in saved.tensors.items()})
    return model.eval()


def test_numpy_runtime_equals_torch(faces, tiny_run):
    from backend.runtime.sync_expert import SyncExpert
    from training.faces_dataset import load_lower, load_mel, read_faces_set

    model = torch_model(tiny_run)
    with torch.no_grad():  # batch norm statistics far from their start, so that folding them is exercised
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
    runtime = SyncExpert(SyncExpert.load(tiny_run).spec, {k: v.numpy() for k, v in model.state_dict().items()})
    clip = read_faces_set(faces)[0]
    lower, mel = load_lower(clip), load_mel(clip)
    windows = wav2lip_mel.mel_windows(mel, len(lower) - 4)
    video, audio = runtime.embed_faces(lower), runtime.embed_audio(windows)
    assert video.shape == (len(lower) - 4, 16) and audio.shape == (len(lower) - 4, 16)
    stacked = np.stack([lower[i:i + 5] for i in range(len(lower) - 4)]).astype(np.float32) / 255.0
    stacked = torch.from_numpy(stacked).permute(0, 1, 4, 2, 3).reshape(-1, 15, 48, 96)
    with torch.no_grad():
        np.testing.assert_allclose(video, model.embed_faces(stacked).numpy(), atol=1e-4)
        np.testing.assert_allclose(audio, model.embed_audio(torch.from_numpy(windows)[:, None]).numpy(), atol=1e-4)
        d = model(stacked, torch.from_numpy(windows)[:, None]).numpy()
    np.testing.assert_allclose(runtime.similarity(video, audio), d, atol=1e-4)
    assert runtime.embed_faces(lower[:4]).shape == (0, 16)
    for step in (2, 5, 7):  # windows every step frames: the same rows
        np.testing.assert_allclose(runtime.embed_faces(lower, step), video[::step], atol=1e-6)
    audio_samples, _ = soundfile.read(clip.audio, dtype="float32")
    take_video, take_audio = runtime.embed_take(lower, audio_samples, step=2)
    np.testing.assert_allclose(take_video, video[::2], atol=1e-6)
    np.testing.assert_allclose(take_audio, audio, atol=1e-6)


def test_passes_on_several_threads_give_the_embeddings_of_one(faces, tiny_run, monkeypatch):
    from backend.runtime import sync_expert
    from training.faces_dataset import load_lower, load_mel, read_faces_set

    runtime = sync_expert.SyncExpert.load(tiny_run)
    clip = read_faces_set(faces)[0]
    lower = np.concatenate([load_lower(clip)] * 4)  # several passes of BATCH face windows
    windows = np.concatenate([wav2lip_mel.mel_windows(load_mel(clip), len(lower) // 4 - 4)] * 10)
    assert (len(lower) - 4) // 2 > 2 * sync_expert.BATCH and len(windows) > 2 * 4 * sync_expert.BATCH
    monkeypatch.setattr(sync_expert, "PASS_THREADS", 3)
    video, audio = runtime.embed_faces(lower, 2), runtime.embed_audio(windows)
    monkeypatch.setattr(sync_expert, "PASS_THREADS", 1)
    np.testing.assert_array_equal(video, runtime.embed_faces(lower, 2))
    np.testing.assert_array_equal(audio, runtime.embed_audio(windows))


def test_runtime_loads_only_its_own_checkpoints(tiny_run, tmp_path):
    from backend import checkpoints
    from backend.runtime.sync_expert import SyncExpert

    expert = SyncExpert.load(tiny_run)
    assert expert.embedding_size == 16 and expert.record["config"]["family"] == "sync-expert"
    saved = checkpoints.load(tiny_run)
    del saved.tensors["audio_encoder.0.conv.bias"]
    checkpoints.save(tmp_path / "cut", saved)
    with pytest.raises(InputError, match="lacks the tensor audio_encoder.0.conv.bias"):
        SyncExpert.load(tmp_path / "cut")
    with pytest.raises(InputError, match=r"\(N, 80, 16\)"):
        expert.embed_audio(np.zeros((2, 80, 12), np.float32))


def test_a_trained_expert_is_scored_without_training(faces, tiny_run, tmp_path, capsys):
    from training.train_sync_expert import main

    out = tmp_path / "scores"
    assert main(["--faces", str(faces), "--out", str(out), "--score-model", str(tiny_run), *TINY,
                 "--score-items", "8"]) == 0
    scores = json.loads((out / "sync_accuracy.json").read_text())
    assert scores["model"] == str(tiny_run) and scores["val"]["pairs"] == 8 and "test_any_shift" in scores
    assert sorted(p.name for p in out.iterdir()) == ["sync_accuracy.json"]  # no run, no checkpoints
    assert main(["--faces", str(faces), "--out", str(out), "--score-model", str(tmp_path / "none")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_run_can_start_from_a_trained_expert(faces, more_faces, tiny_run, tmp_path):
    from backend import checkpoints

    out = tmp_path / "more"
    assert train(out, 1, faces, more_faces, extra=("--init-from", str(tiny_run), "--lr", "0", "--score-items",
                                                   "0")) == 0
    start, went_on = checkpoints.load(tiny_run), checkpoints.load(out / "model")
    assert went_on.config["train"]["init_from"] == str(tiny_run)
    for name, value in start.tensors.items():  # no learning rate: only batch norm's running statistics move
        if "running" not in name and "num_batches" not in name:
            assert np.array_equal(value, went_on.tensors[name]), name


def test_grouped_items_hold_windows_of_one_clip_apart_and_mask_lookalikes(faces, tmp_path):
    from training.faces_dataset import GroupedFacesDataset, load_lower

    data = GroupedFacesDataset([faces], seed=0, group=3)
    for index in (0, 5, len(data) - 1):
        item = data[index]
        assert item["faces"].shape == (3, 15, 48, 96) and item["mel"].shape == (3, 1, 80, 16)
        starts = data.group_starts(index)
        assert starts[0] == data.draws[index][1]
        assert all(abs(a - b) >= 5 for a in starts for b in starts if a is not b)
        lower = load_lower(data.clips[data.draws[index][0]])
        for i, start in enumerate(starts):  # each window is its clip's frames (the stamp names the frame)
            assert round(float(item["faces"][i, 0, 0, 0]) * 255) == lower[start, 0, 0, 0]
        assert torch.equal(item["pair_mask"].diagonal(), torch.ones(3))
    still = write_faces_set(tmp_path / "still", [("s", "train", 30)])
    frames = np.load(still / "frames" / "s.npz")["lower"]
    np.savez_compressed(still / "frames" / "s.npz", lower=np.repeat(frames[:1], len(frames), axis=0))
    item = GroupedFacesDataset([still], group=2)[0]  # one still picture: no window is another's negative
    assert torch.equal(item["pair_mask"], torch.eye(2))


def test_grouped_training_runs_and_keeps_the_pairs_per_step(faces, tmp_path, capsys):
    from backend import checkpoints

    assert train(tmp_path / "grouped", 2, faces, extra=("--group", "2", "--score-items", "0")) == 0
    saved = checkpoints.load(tmp_path / "grouped" / "model")
    assert saved.config["train"]["batch_size"] == 2  # 4 windows a step, in groups of 2
    assert train(tmp_path / "odd", 2, faces, extra=("--group", "3")) == 2
    assert "not a whole number of groups of 3" in capsys.readouterr().err
