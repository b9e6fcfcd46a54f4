"""The lip-sync generator: shapes, blur blending, the attention sign, KMeans references outside the target
window, the perceptual term, full-face crops in faces sets, and stage-1 and stage-2 runs that resume."""
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
TINY = ["--width", "0.0625", "--references", "3", "--batch-size", "1", "--threads", "1", "--val-items", "1"]


def face_frames(n_frames: int, identity: int) -> np.ndarray:
    """uint8 (T, 96, 96, 3): a face whose dark mouth opens and closes; frame i carries the stamp i."""
    y, x = np.mgrid[0:96, 0:96]
    frames = np.empty((n_frames, 96, 96, 3), np.uint8)
    for i in range(n_frames):
        opening = 1.0 + 8.0 * (0.5 + 0.5 * np.sin(i / 2.0 + identity))
        mouth = ((x - 48) / 20.0) ** 2 + ((y - 68) / opening) ** 2 <= 1.0
        frames[i] = np.where(mouth[..., None], [60, 20, 30], np.array([200, 150, 120]) - 30 * identity)
        frames[i, 0, 0, 0] = i
    return frames


def write_faces_set(root: Path, clips: list[tuple[str, str, int]]) -> Path:
    (root / "audio").mkdir(parents=True)
    (root / "frames").mkdir()
    (root / "faces.json").write_text(json.dumps({"format": "mouthpiece.faces", "version": 1, "fps": FPS,
                                                 "crop": [48, 96], "full_faces": True}))
    records = []
    for number, (clip_id, split, n_frames) in enumerate(clips):
        t = np.arange(int(n_frames / FPS * 16000)) / 16000
        tone = (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
        soundfile.write(root / "audio" / f"{clip_id}.wav", tone, 16000)
        face = face_frames(n_frames, number % 2)
        np.savez_compressed(root / "frames" / f"{clip_id}.npz", lower=face[:, 48:], face=face)
        records.append({"id": clip_id, "split": split, "voice": "tone", "identity": number % 2,
                        "audio": f"audio/{clip_id}.wav", "frames": f"frames/{clip_id}.npz", "n_frames": n_frames})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    return write_faces_set(tmp_path_factory.mktemp("faces"), [("a", "train", 12), ("b", "train", 11),
                                                              ("c", "val", 12)])


@pytest.fixture(scope="module")
def expert(tmp_path_factory) -> Path:
    return save_tiny_expert(tmp_path_factory.mktemp("expert"))


def tiny_config(**changes):
    from training.families.lipsync_gen import LipsyncGenConfig

    return LipsyncGenConfig(**{"width": 0.0625, "references": 3, "expert_width": 0.125, "expert_embedding": 16,
                               **changes})


# -- the model ------------------------------------------------------------------------------------------------
def test_shapes_of_five_frame_windows_and_every_loss_term():
    from training.families.lipsync_gen import LipsyncGenerator, batch_loss

    torch.manual_seed(0)
    model = LipsyncGenerator(tiny_config(gan=True, adv_weight=0.01)).train()
    batch = {"frames": torch.rand(1, 5, 3, 96, 96), "refs": torch.rand(1, 3, 3, 96, 96),
             "mels": torch.randn(1, 5, 1, 80, 16), "mel": torch.randn(1, 1, 80, 16), "mask": torch.ones(1, 1, 96, 96)}
    with torch.no_grad():
        rgb, mask = model(batch["frames"].flatten(0, 1), batch["refs"], batch["mels"].flatten(0, 1))
    assert rgb.shape == (5, 3, 96, 96) and mask.shape == (5, 1, 96, 96)
    assert 0 <= float(rgb.min()) and float(rgb.max()) <= 1 and 0 <= float(mask.min()) and float(mask.max()) <= 1
    loss, metrics = batch_loss(model, batch)
    assert torch.isfinite(loss) and metrics["frames"] == 5
    assert {"l1", "perceptual", "expert", "mask_bce", "g_adv"} <= set(metrics)
    assert batch["critic_fakes"].shape == batch["critic_reals"].shape == (1, 15, 48, 96)
    loss.backward()
    assert all(p.grad is None for p in model.expert.parameters())  # the expert stays frozen
    without = LipsyncGenerator(tiny_config(mask=False, attention=False, audio_skips=False, resnet=False))
    with torch.no_grad():
        rgb, mask = without(batch["frames"].flatten(0, 1), batch["refs"], batch["mels"].flatten(0, 1))
    assert rgb.shape == (5, 3, 96, 96) and mask is None and without.critic is None


def test_blur_blend_keeps_the_original_where_the_mask_is_off():
    from training.families.lipsync_losses import blend

    generated, original = torch.rand(1, 3, 96, 96, requires_grad=True), torch.rand(1, 3, 96, 96)
    mask = torch.zeros(1, 1, 96, 96)
    mask[..., 60:, 20:76] = 1.0
    mask.requires_grad_(True)
    out = blend(generated, mask, original)
    assert torch.equal(out[..., :57, :], original[..., :57, :])  # 3 px above the mask: the 5-tap blur ends there
    assert torch.equal(out[..., :, :17], original[..., :, :17])
    assert torch.allclose(out[..., 70:, 30:66], generated[..., 70:, 30:66], atol=1e-6)
    out.sum().backward()
    assert generated.grad is not None and mask.grad is None  # stop-gradient on the mask
    assert torch.equal(blend(generated, torch.zeros(1, 1, 96, 96), original), original)


def test_attention_sign_flag():
    from training.families.lipsync_gen import attention_weights

    audio = torch.tensor([[[1.0, 0.0]]])
    refs = torch.tensor([[[0.2, 0.0], [1.5, 0.0], [-1.0, 0.0]]])  # similarities 0.2, 1.5, -1.0
    as_written = attention_weights(audio, refs, -1)[0, 0]
    flipped = attention_weights(audio, refs, 1)[0, 0]
    assert int(as_written.argmax()) == 2 and int(flipped.argmax()) == 1  # least versus most audio-similar
    assert torch.allclose(as_written.sum(), torch.tensor(1.0)) and torch.allclose(flipped.sum(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="attention_sign"):
        tiny_config(attention_sign=0)


def test_perceptual_term_is_zero_for_identical_images_and_grows_with_blur():
    from training.families.lipsync_losses import gaussian_blur, lap_pyramid_l1

    image = torch.from_numpy(face_frames(1, 0).transpose(0, 3, 1, 2).astype(np.float32) / 255)
    image = image + 0.1 * torch.rand_like(image)
    assert float(lap_pyramid_l1(image, image)) == 0.0
    distances = [float(lap_pyramid_l1(image, gaussian_blur(image, 9, sigma))) for sigma in (0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(distances, distances[1:])), distances
    with pytest.raises(ValueError, match="VGG16 weights"):
        tiny_config(perceptual="vgg16")


def test_vgg16_path_reads_torchvision_layout_from_a_local_file(tmp_path):
    from safetensors.torch import save_file

    from training.families.lipsync_losses import VGG16Features

    source = VGG16Features()
    save_file({f"features.{k}": v.contiguous() for k, v in source.features.state_dict().items()},
              str(tmp_path / "vgg16.safetensors"))
    loaded = VGG16Features()
    loaded.load_weights(tmp_path / "vgg16.safetensors")
    image = torch.rand(1, 3, 32, 32)
    assert float(loaded.distance(image, image)) == 0.0 and float(loaded.distance(image, image.flip(-1))) > 0
    with pytest.raises(ValueError, match="no such VGG16 weights file"):
        loaded.load_weights(tmp_path / "missing.pth")


# -- references and data ----------------------------------------------------------------------------------------
def test_kmeans_references_never_come_from_the_target_window(faces):
    from training.lipsync_data import LipsyncFacesDataset, pick_references, reference_images

    data = LipsyncFacesDataset([faces], "train", references=10)
    assert len(data) > 0
    for index in range(len(data)):
        _, start = data.draws[index]
        picks = data.reference_picks(index)
        assert len(picks) == 10
        assert not {p for p in picks if p is not None} & set(range(start, start + 5))
    item = data[0]
    assert item["frames"].shape == (5, 3, 96, 96) and item["refs"].shape == (10, 3, 96, 96)
    assert item["mels"].shape == (5, 1, 80, 16) and item["mel"].shape == (1, 80, 16)
    assert float(item["refs"][:, :, :48].abs().max()) == 0.0  # the references show the lower face only
    labels, distance = np.array([0, 0, 1, 1, 2, 2]), np.array([0.1, 0.2, 0.3, 0.1, 0.5, 0.4])
    assert pick_references(labels, distance, 4, range(2, 4)) == [0, None, 5, None]
    frames = face_frames(6, 0)
    filled = reference_images(frames, [0, None, 5, None], np.random.default_rng(0))
    assert filled.shape == (4, 96, 96, 3) and np.array_equal(filled[0], frames[0])
    assert not any(np.array_equal(filled[1], frame) for frame in frames)  # an affine-jittered copy


def test_a_faces_set_without_full_faces_is_named(tmp_path, expert, capsys):
    from training.cli import main

    root = write_faces_set(tmp_path / "lower", [("a", "train", 12)])
    with np.load(root / "frames" / "a.npz") as data:
        lower = data["lower"]
    np.savez_compressed(root / "frames" / "a.npz", lower=lower)
    assert main(["lipsync-gen", "--faces", str(root), "--expert", str(expert), "--out", str(tmp_path / "run"),
                 "--steps", "1", *TINY]) == 2
    err = capsys.readouterr().err
    assert "a.npz: holds no 'face' array" in err and "--full-faces" in err and len(err.strip().splitlines()) == 1


def test_faces_builder_writes_whole_crops_with_full_faces(tmp_path):
    from backend.audio import save_wav
    from backend.rig import FACEWAREHOUSE_46
    from training.faces_set import FacesArgs, build

    corpus = tmp_path / "corpus"
    (corpus / "labels").mkdir(parents=True)
    weights = np.zeros((20, 46), dtype=np.float32)
    weights[:, FACEWAREHOUSE_46.index("JawOpen")] = np.linspace(0, 1, 20)
    np.savez(corpus / "labels" / "u0.npz", weights=weights, fps=np.float32(25.0))
    save_wav(corpus / "u0.wav", np.zeros(12800, dtype=np.float32), 16000)
    (corpus / "manifest.jsonl").write_text(json.dumps({
        "id": "u0", "split": "train", "voice": "v", "audio": "u0.wav", "language": "en", "engine": "espeak",
        "text": "a line", "sample_rate": 16000, "labels": "labels/u0.npz", "duration_s": 0.8, "frames": None}) + "\n")
    assert build(FacesArgs([str(corpus)], str(tmp_path / "faces"), full_faces=True)) == 1
    with np.load(tmp_path / "faces" / "frames" / "u0-soft.npz") as data:
        lower, face = data["lower"], data["face"]
    assert face.shape == (20, 96, 96, 3) and face.dtype == np.uint8 and lower.shape == (20, 48, 96, 3)
    assert np.abs(face[:, 48:].astype(int) - lower).mean() < 3  # the same lower face
    assert face[:, :48].std() > 5  # and the upper face above it
    assert json.loads((tmp_path / "faces" / "faces.json").read_text())["full_faces"] is True


# -- training ---------------------------------------------------------------------------------------------------
def train(out: Path, faces: Path, expert: Path, stage: int, steps: int, *extra: str) -> int:
    from training.cli import main

    return main(["lipsync-gen", "--faces", str(faces), "--expert", str(expert), "--out", str(out),
                 "--stage", str(stage), "--steps", str(steps), "--eval-every", "1", *TINY, *extra])


def test_stage_one_then_stage_two_resumes_bit_identically_after_a_kill(faces, expert, tmp_path):
    from backend import checkpoints

    assert train(tmp_path / "one", faces, expert, 1, 2) == 0
    stage_one = checkpoints.load(tmp_path / "one" / "model")
    assert not any(k.startswith("critic.") for k in stage_one.tensors)
    assert np.isfinite(stage_one.metrics["val_loss"])
    init = ("--init-from", str(tmp_path / "one" / "model"))
    assert train(tmp_path / "whole", faces, expert, 2, 2, *init) == 0
    shutil.copytree(tmp_path / "whole", tmp_path / "parts")  # then lose what came after step 1, as in a kill
    for path in [*(tmp_path / "parts" / "checkpoints").glob("*0000002.*"), *(tmp_path / "parts").glob("model.*")]:
        path.unlink()
    assert train(tmp_path / "parts", faces, expert, 2, 2, *init) == 0
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000002")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000002")
    assert any(k.startswith("critic_optim.") for k in whole.tensors)
    assert any(k.startswith("model.critic.") for k in whole.tensors)
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name
    assert whole.config["model"]["gan"] and whole.config["model"]["adv_weight"] == 0.01
    first = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000001")
    assert not np.array_equal(first.tensors["model.critic.layers.0.bias"], whole.tensors["model.critic.layers.0.bias"])
