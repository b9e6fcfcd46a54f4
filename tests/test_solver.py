"""Landmark -> shape-key solver on the default head's landmark basis."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from backend import headmodel
from backend.rig import FACEWAREHOUSE_46, facewarehouse_table
from backend.solver import SolveOptions, solve_weights

LIPS = list(headmodel.LIP_LANDMARKS)
LIP_KEYS = [c.name for c in facewarehouse_table() if c.region == "lips"] + ["JawOpen"]


@pytest.fixture(scope="module")
def model():
    return headmodel.load()


def key_rows(names) -> list[int]:
    return [FACEWAREHOUSE_46.index(n) for n in names]


def test_recovers_lip_key_weights_from_lip_landmarks(model):
    basis = model.deltas[key_rows(LIP_KEYS)][:, LIPS]  # [K, 20, 3]
    truth = np.random.default_rng(0).uniform(0.0, 1.0, size=(40, len(LIP_KEYS))) ** 2
    targets = np.einsum("tk,kld->tld", truth, basis)
    weights = solve_weights(basis, targets)
    assert weights.shape == truth.shape and weights.dtype == np.float32
    np.testing.assert_allclose(weights, truth, atol=2e-3)
    fitted = np.einsum("tk,kld->tld", weights, basis)
    assert np.sqrt(np.mean((fitted - targets) ** 2)) < 1e-6  # metres


def test_all_keys_reproduce_the_landmarks_of_a_pose(model):
    truth = np.zeros((3, 46), np.float32)
    for row, pose in enumerate(({"JawOpen": 0.6, "LipsPucker": 0.8}, {"MouthSmile_L": 0.7, "EyeBlink_R": 1.0},
                                {"LipsFunnel": 0.5, "BrowsU_C": 0.4, "JawOpen": 0.2})):
        for name, value in pose.items():
            truth[row, FACEWAREHOUSE_46.index(name)] = value
    targets = model.landmarks(truth) - model.neutral
    weights = solve_weights(model.deltas, targets)
    assert weights.min() >= 0.0 and weights.max() <= 1.0
    error = model.landmarks(weights) - model.landmarks(truth)
    assert np.abs(error).max() < 1e-4  # a tenth of a millimetre


def test_matches_bounded_least_squares_when_targets_are_out_of_reach(model):
    basis = model.deltas[key_rows(LIP_KEYS)][:, LIPS]
    rng = np.random.default_rng(1)
    targets = rng.normal(scale=0.006, size=(12, len(LIPS), 3))  # not reachable by any weights
    weights = solve_weights(basis, targets)
    design = basis.reshape(len(LIP_KEYS), -1).T
    for frame, target in zip(weights, targets.reshape(12, -1)):
        reference = lsq_linear(design, target, bounds=(0.0, 1.0), method="bvls").x
        ours = np.sum((design @ frame - target) ** 2)
        best = np.sum((design @ reference - target) ** 2)
        assert ours <= best * (1 + 1e-4) + 1e-14
    assert weights.min() >= 0.0 and weights.max() <= 1.0


def test_temporal_penalty_smooths_noisy_targets(model):
    basis = model.deltas[key_rows(LIP_KEYS)][:, LIPS]
    t = np.linspace(0, 1, 60)
    truth = np.zeros((60, len(LIP_KEYS)))
    truth[:, LIP_KEYS.index("JawOpen")] = 0.5 + 0.4 * np.sin(2 * np.pi * t)
    clean = np.einsum("tk,kld->tld", truth, basis)
    noisy = clean + np.random.default_rng(2).normal(scale=0.0008, size=clean.shape)
    plain = solve_weights(basis, noisy)
    smooth = solve_weights(basis, noisy, SolveOptions(temporal=2.0))

    def roughness(w):
        return np.abs(np.diff(w, axis=0)).mean()

    assert roughness(smooth) < 0.6 * roughness(plain)
    assert np.abs(smooth - truth).mean() < np.abs(plain - truth).mean()


def test_l2_penalty_pulls_weights_toward_zero(model):
    basis = model.deltas[key_rows(LIP_KEYS)][:, LIPS]
    truth = np.full((1, len(LIP_KEYS)), 0.5)
    targets = np.einsum("tk,kld->tld", truth, basis)
    assert solve_weights(basis, targets, SolveOptions(l2=0.5)).sum() < 0.8 * truth.sum()


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="disagree"):
        solve_weights(np.zeros((4, 20, 3)), np.zeros((5, 19, 3)))


def test_empty_clip_gives_no_frames():
    assert solve_weights(np.ones((4, 20, 3)), np.zeros((0, 20, 3))).shape == (0, 4)
