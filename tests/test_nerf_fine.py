"""The renderer's fine stage: mouth patches of rays around the projected lips, the perceptual term over face
features trained here, and a fine run that starts from a coarse run's field and resumes."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from tests.test_face_features import train as train_features
from tests.test_face_features import write_faces_set
from tests.test_nerf_render import TINY, TINY_OPTIONS, sphere_clip, write_sphere_folder
from training.families.nerf import NerfConfig, build, face_features, ray_loss
from training.nerf.render import pixel_rays, project_points
from training.nerf.source import RaySource
from training.trainer import TrainConfig


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("faces")
    faces = write_faces_set(root / "set", [("u0", "train", 0, 8), ("u1", "train", 1, 8), ("u2", "val", 5, 8)])
    assert train_features(root / "run", 1, faces) == 0
    return str(root / "run" / "model")


def lips_on(clip, column: float, row: float) -> None:
    """Move every frame's lip landmarks (48-67) onto the ray through pixel (row, column), 2 units away."""
    origin, direction = pixel_rays(torch.from_numpy(clip.intrinsics[0]), torch.from_numpy(clip.cameras[0]),
                                   torch.tensor([row]), torch.tensor([column]))
    clip.landmarks[:, 48:68] = (origin + 2.0 * direction).numpy()[0]


def test_landmarks_project_onto_the_pixels_whose_rays_meet_them():
    clip = sphere_clip(n=2)
    lips_on(clip, 20.0, 9.0)
    pixels = project_points(clip.intrinsics[0], clip.cameras[0], clip.landmarks[0, 48:68])
    np.testing.assert_allclose(pixels, np.tile([20.0, 9.0], (20, 1)), atol=1e-4)


def test_patches_are_squares_around_the_lips_inside_the_image():
    clip = sphere_clip(n=4)
    lips_on(clip, 20.0, 9.0)
    config = NerfConfig(**TINY, patch=8, patch_frames=2)
    source = RaySource(None, config, TrainConfig(batch_size=64, seed=3), clip, None, None, True)
    batch = source.draw(0)
    assert batch["patches"] == 2 and len(batch["rgb"]) == 64 + 2 * 64
    slots = batch["slot"][64:].numpy()
    assert (slots[:64] == 0).all() and (slots[64:] == 1).all()
    for draw in range(20):
        rows, columns = source.mouth_patch(0, np.random.default_rng(draw))
        assert rows.reshape(8, 8).ptp(axis=0).max() == 7 and columns.reshape(8, 8).ptp(axis=1).max() == 7
        assert abs(rows.mean() - 9.0) <= 8 / 4 + 1 and abs(columns.mean() - 20.0) <= 8 / 4 + 1
    lips_on(clip, 31.0, 0.0)  # lips at a corner: the patch stays whole, inside the frame
    rows, columns = source.mouth_patch(0, np.random.default_rng(0))
    assert rows.min() >= 0 and columns.max() <= 31 and len(set(zip(rows, columns))) == 64


def test_the_perceptual_term_joins_the_loss_on_the_patches(features):
    clip = sphere_clip(n=4)
    lips_on(clip, 16.0, 16.0)
    config = NerfConfig(**TINY, patch=8, patch_frames=2, perceptual_weight=0.5, features_model=features)
    torch.manual_seed(0)
    model = build(config)
    batch = RaySource(model, config, TrainConfig(batch_size=64, seed=0), clip, None, None, True).draw(0)
    loss, metrics = ray_loss(model, batch)
    assert metrics["perceptual"] > 0
    assert float(loss.detach()) == pytest.approx(metrics["mse"] + 0.5 * metrics["perceptual"], rel=1e-5)
    loss.backward()
    assert all(p.grad is None for p in face_features(features).parameters())
    with pytest.raises(ValueError, match="perceptual weight needs"):
        NerfConfig(**TINY, perceptual_weight=0.5)


def test_the_fine_stage_starts_from_the_coarse_field_and_resumes(features, tmp_path):
    from backend import checkpoints
    from training.train_nerf import main

    frames = write_sphere_folder(tmp_path / "frames")
    assert main(["--frames", str(frames), "--out", str(tmp_path / "coarse"), "--steps", "2", *TINY_OPTIONS]) == 0
    fine = ["--frames", str(frames), "--init-from", str(tmp_path / "coarse" / "model"), "--patch", "8",
            "--features-model", features, "--perceptual-weight", "0.2", *TINY_OPTIONS]
    assert main([*fine, "--out", str(tmp_path / "start"), "--steps", "1", "--lr", "0"]) == 0
    coarse, start = checkpoints.load(tmp_path / "coarse" / "model"), checkpoints.load(tmp_path / "start" / "model")
    for name, value in coarse.tensors.items():
        if name.startswith("field."):
            np.testing.assert_array_equal(value, start.tensors[name], err_msg=name)
    assert not any(name.startswith("trunk.") or "features" in name for name in start.tensors)
    assert start.config["model"]["patch"] == 8 and start.config["model"]["features_model"] == features

    assert main([*fine, "--out", str(tmp_path / "whole"), "--steps", "3"]) == 0
    shutil.copytree(tmp_path / "whole", tmp_path / "parts")
    for path in [*(tmp_path / "parts" / "checkpoints").glob("*0000003.*"), *(tmp_path / "parts").glob("model.*")]:
        path.unlink()
    assert main([*fine, "--out", str(tmp_path / "parts"), "--steps", "3"]) == 0
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000003")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000003")
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name
