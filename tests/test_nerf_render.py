"""The NeRF renderer core: hash-grid tri-plane, rays and compositing, the conditioned field, fitting a tiny
clip, and `mouthpiece-train nerf` resuming after a kill."""
from __future__ import annotations

import json
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from training.families.nerf import PAPER_SIZE, NerfConfig, prepare, ray_loss
from training.nerf.field import TalkingHead
from training.nerf.frames import FrameClip, read_frame_folder, write_frame_folder
from training.nerf.hashgrid import HashGrid2D, TriPlane, level_resolutions
from training.nerf.render import composite, image_rays, pixel_rays, ray_box, sample_depths
from training.nerf.source import RaySource

TINY = dict(levels=3, features=2, log2_table=12, base_resolution=4, finest_resolution=16, hidden=32, geometry_dim=16,
            condition_dim=16, audio_dim=4, samples=16, frames_per_step=3)
TINY_OPTIONS = ["--levels", "2", "--base-resolution", "4", "--finest-resolution", "8", "--log2-table", "8",
                "--hidden", "16", "--geometry-dim", "8", "--condition-dim", "8", "--samples", "8", "--rays", "64",
                "--frames-per-step", "2", "--threads", "1", "--device", "cpu", "--eval-every", "1"]


def sphere_clip(n: int = 6, size: int = 32, radius: float = 0.6) -> FrameClip:
    """A sphere seen from z = 2.5 on white, its colour (blink, 0.4, 1 - blink) changing with the frame's blink."""
    focal = size * 1.2
    intrinsics = np.array([focal, focal, size / 2, size / 2], np.float32)
    camera = np.eye(4, dtype=np.float32)
    camera[2, 3] = 2.5
    origins, directions = image_rays(torch.from_numpy(intrinsics), torch.from_numpy(camera), size, size)
    half_b, c = (origins * directions).sum(-1), (origins * origins).sum(-1) - radius ** 2
    on_sphere = (half_b ** 2 - c > 0).numpy().reshape(size, size)
    blinks = np.linspace(0, 1, n).astype(np.float32)
    images = np.ones((n, size, size, 3), np.float32)
    for i, blink in enumerate(blinks):
        images[i][on_sphere] = (blink, 0.4, 1 - blink)
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(-0.4, 0.4, (68, 3)) + rng.normal(0, 0.01, (n, 68, 3))
    return FrameClip(np.round(images * 255).astype(np.uint8), np.tile(intrinsics, (n, 1)), np.tile(camera, (n, 1, 1)),
                     landmarks.astype(np.float32), blinks, rng.normal(size=(n, 4)).astype(np.float32))


def test_hash_grid_levels_shapes_and_gradients():
    assert level_resolutions(4, 4, 64) == [4, 10, 25, 64]
    grid = HashGrid2D(levels=4, features=2, log2_table=8, base=4, finest=64)
    assert grid.dense == [True, True, False, False]  # 5^2 and 11^2 vertices fit in 256 entries; 26^2 do not
    assert grid.offsets == [0, 25, 146, 402, 658]
    points = torch.rand(5, 7, 2)
    encoded = grid(points)
    assert encoded.shape == (5, 7, 8) and grid.output_dim == 8
    encoded.square().sum().backward()
    for level in range(4):
        rows = grid.tables.grad[grid.offsets[level]:grid.offsets[level + 1]]
        assert rows.abs().sum() > 0, level


def test_hash_grid_interpolates_its_table():
    grid = HashGrid2D(levels=1, features=1, log2_table=8, base=4, finest=4)
    with torch.no_grad():
        grid.tables.copy_(torch.arange(25, dtype=torch.float32)[:, None])  # entry = x + 5 y on a 5 x 5 vertex grid
    assert float(grid(torch.tensor([[0.5, 0.25]]))) == pytest.approx(2 + 5 * 1)  # a vertex
    assert float(grid(torch.tensor([[0.125, 0.125]]))) == pytest.approx((0 + 1 + 5 + 6) / 4)  # a cell's centre
    assert float(grid(torch.tensor([[2.0, -1.0]]))) == pytest.approx(4)  # clamped into the square


def test_tri_plane_planes_and_paper_width():
    planes = TriPlane(levels=2, features=2, log2_table=8, base=4, finest=8)
    points = torch.rand(10, 3)
    moved = points.clone()
    moved[:, 2] = torch.rand(10)
    a, b = planes(points), planes(moved)
    assert a.shape == (10, 12)
    assert torch.equal(a[:, :4], b[:, :4]) and not torch.equal(a[:, 4:], b[:, 4:])  # (x, y) ignores z
    paper = NerfConfig.from_dict(PAPER_SIZE)
    grid = TriPlane(paper.levels, paper.features, paper.log2_table, paper.base_resolution, paper.finest_resolution)
    assert grid.output_dim == 36  # ER-NeRF's 3 x 12 levels x 1 feature


def test_camera_rays_and_box_intersection():
    camera = torch.eye(4)
    camera[:3, 3] = torch.tensor([0.0, 0.0, 5.0])
    origins, directions = pixel_rays(torch.tensor([10.0, 10.0, 2.0, 2.0]), camera, torch.tensor([1, 0]),
                                     torch.tensor([1, 3]))
    assert torch.allclose(directions[0], torch.tensor([-0.05, 0.05, -1.0]) / math.sqrt(1.005))  # top-left of centre
    assert directions[1, 0] > 0 and directions[1, 1] > 0  # right and up: row 0 is the top
    origins = torch.tensor([[0.0, 0.0, 5.0], [0.0, 0.0, 0.0], [3.0, 0.0, 5.0], [0.0, 0.0, 5.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    near, far, hit = ray_box(origins, directions, -torch.ones(3), torch.ones(3))
    assert hit.tolist() == [True, True, False, False]
    assert near[:2].tolist() == [4.0, 0.0] and far[:2].tolist() == [6.0, 1.0]
    assert torch.equal(near[2:], far[2:])


def test_stratified_samples():
    depths, deltas = sample_depths(torch.tensor([2.0]), torch.tensor([4.0]), 4, jitter=False)
    assert depths.tolist() == [[2.25, 2.75, 3.25, 3.75]] and deltas.tolist() == [[0.5] * 4]
    jittered, _ = sample_depths(torch.full((100,), 2.0), torch.full((100,), 4.0), 4, jitter=True)
    bins = torch.tensor([2.0, 2.5, 3.0, 3.5])
    assert ((jittered >= bins) & (jittered < bins + 0.5)).all() and jittered.std(0).min() > 0.05


def test_compositing_matches_a_hand_computed_ray():
    sigmas, deltas = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, 0.5]])
    colours = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    result = composite(sigmas, colours, torch.tensor([[1.0, 2.0]]), deltas, torch.tensor([0.0, 0.0, 1.0]))
    alpha1, alpha2 = 1 - math.exp(-0.5), 1 - math.exp(-1.0)
    w1, w2 = alpha1, math.exp(-0.5) * alpha2  # 0.393469, 0.383400
    assert result.weights[0].tolist() == pytest.approx([w1, w2], abs=1e-6)
    assert float(result.opacity[0]) == pytest.approx(w1 + w2, abs=1e-6)  # 0.776870
    assert result.rgb[0].tolist() == pytest.approx([w1, w2, 1 - w1 - w2], abs=1e-6)
    assert float(result.depth[0]) == pytest.approx(w1 * 1 + w2 * 2, abs=1e-6)


def test_field_shapes_conditions_and_misses():
    torch.manual_seed(0)
    model = TalkingHead(NerfConfig(**TINY))
    conditions = model.frame_conditions(torch.rand(2, 68, 3), torch.tensor([0.0, 1.0]), torch.randn(2, 4))
    assert conditions.shape == (2, 16 + 4)
    sigma, rgb = model.field(torch.rand(5, 16, 3), torch.randn(5, 3), conditions[[0, 1, 0, 1, 1]])
    assert sigma.shape == (5, 16) and rgb.shape == (5, 16, 3) and (sigma > 0).all() and (rgb > 0).all()
    result = model(torch.tensor([[0.0, 0.0, 5.0], [5.0, 5.0, 5.0]]), torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0]]),
                   torch.rand(2, 68, 3), torch.tensor([0.0, 1.0]), torch.randn(2, 4), torch.tensor([0, 1]))
    assert result.rgb.shape == (2, 3) and 0 < float(result.opacity[0]) < 1
    assert float(result.opacity[1]) == 0 and result.rgb[1].tolist() == [1.0, 1.0, 1.0]  # misses the box: background
    blind = TalkingHead(NerfConfig(**TINY, use_landmarks=False, use_blink=False, use_audio=False))
    assert not blind.frame_conditions(torch.rand(2, 68, 3), torch.ones(2), torch.randn(2, 4)).any()


def fit(config: NerfConfig, steps: int = 200) -> tuple[float, float]:
    """Whole-clip MSE of a fresh model before and after `steps` Adam steps of 256 rays on the sphere clip."""
    clip = sphere_clip()
    torch.manual_seed(0)
    model = TalkingHead(config)
    prepare(model, clip)
    source = RaySource(model, config, SimpleNamespace(batch_size=256, seed=0, val_items=6), clip, clip, None, True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.eval()
    before, _ = source.validate(model)
    batches = source.batches(model)
    model.train()
    for _ in range(steps):
        loss, _ = ray_loss(model, next(batches))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return before, source.validate(model)[0]


def test_tiny_renderer_fits_a_32px_clip_through_its_conditions():
    before, after = fit(NerfConfig(**TINY))
    assert after * 5 < before, (before, after)  # measured: 0.081 -> 0.00005
    # without conditions one static field must average the frames' colours
    _, blind = fit(NerfConfig(**TINY, use_landmarks=False, use_blink=False, use_audio=False))
    assert blind > 50 * after, (blind, after)


def write_sphere_folder(folder):
    clip = sphere_clip(n=6)
    return write_frame_folder(folder, clip.images, clip.intrinsics[0], clip.cameras, clip.landmarks, clip.blink,
                              clip.audio, (-1, -1, -1), (1, 1, 1), val=np.arange(6) == 5, audio_features="random")


def test_frame_folder_round_trip_and_transparency(tmp_path):
    from PIL import Image

    folder = write_sphere_folder(tmp_path / "frames")
    loaded = read_frame_folder(folder)
    clip = sphere_clip(n=6)
    assert len(loaded.train) == 5 and len(loaded.val) == 1 and loaded.audio_dim == 4
    assert np.array_equal(loaded.train.images, clip.images[:5]) and np.array_equal(loaded.val.blink, clip.blink[5:])
    assert np.allclose(loaded.train.landmarks, clip.landmarks[:5]) and loaded.box_max == (1.0, 1.0, 1.0)
    rgba = np.zeros((32, 32, 4), np.uint8)
    Image.fromarray(rgba).save(folder / "images" / "000000.png")
    assert (read_frame_folder(folder, background=(0.0, 1.0, 0.0)).train.images[0] == [0, 255, 0]).all()


def test_bad_frame_folder_is_one_line(tmp_path, capsys):
    from training.train_nerf import main

    folder = write_sphere_folder(tmp_path / "frames")
    index = json.loads((folder / "frames.json").read_text())
    index["frames"][2]["landmarks"] = index["frames"][2]["landmarks"][:60]
    (folder / "frames.json").write_text(json.dumps(index))
    assert main(["--frames", str(folder), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "frames.json" in error and "frame 2: 'landmarks'" in error
    assert not (tmp_path / "run").exists()


def test_train_command_resumes_bit_identically(tmp_path):
    from backend import checkpoints
    from training.train_nerf import main

    frames = write_sphere_folder(tmp_path / "frames")

    def train(out, steps):
        return main(["--frames", str(frames), "--out", str(out), "--steps", str(steps), *TINY_OPTIONS])

    assert train(tmp_path / "whole", 3) == 0
    shutil.copytree(tmp_path / "whole", tmp_path / "parts")  # then lose what came after step 2, as in a kill
    for path in [*(tmp_path / "parts" / "checkpoints").glob("*0000003.*"), *(tmp_path / "parts").glob("model.*")]:
        path.unlink()
    assert train(tmp_path / "parts", 3) == 0
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000003")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000003")
    assert whole.extra["source"] == parts.extra["source"] == {"draws": 3}
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name
    model = checkpoints.load(tmp_path / "whole" / "model")
    assert model.family == "nerf" and model.config["model"]["box_max"] == [1.0, 1.0, 1.0]
    assert model.config["model"]["audio_dim"] == 4 and "model.field.grid.planes.0.tables" not in model.tensors
    assert "field.grid.planes.0.tables" in model.tensors and np.isfinite(model.metrics["val_mse"])
