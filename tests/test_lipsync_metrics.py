"""The coursework's image measures on hand-made frames: masked PSNR, variance of the Laplacian, SSIM."""
from __future__ import annotations

import math

import numpy as np
import pytest

from training.eval_lipsync_metrics import laplacian_variance, masked_psnr, ssim


def lower_mask() -> np.ndarray:
    mask = np.zeros((32, 32))
    mask[16:] = 1.0
    return mask


def checkerboard(size: int = 32, square: int = 2) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] // square
    board = np.where((x + y) % 2, 200.0, 50.0)
    return np.repeat(board[..., None], 3, axis=2)


def test_masked_psnr_counts_only_the_mask_and_averages_channel_errors():
    real = np.full((32, 32, 3), 100.0)
    generated = real.copy()
    generated[:16] = 0.0  # outside the mask: ignored
    assert masked_psnr(generated, real, lower_mask()) == math.inf
    generated[16:] += 10.0  # every channel off by 10 inside: MSE 100
    assert masked_psnr(generated, real, lower_mask()) == pytest.approx(20 * math.log10(255 / 10))
    one_channel = real.copy()
    one_channel[16:, :, 0] += 30.0  # channel MSEs 900, 0, 0 -> mean 300
    assert masked_psnr(one_channel, real, lower_mask()) == pytest.approx(20 * math.log10(255 / math.sqrt(300)))
    with pytest.raises(ValueError, match="empty"):
        masked_psnr(generated, real, np.zeros((32, 32)))


def test_laplacian_variance_is_zero_on_flat_and_linear_frames_and_grows_with_detail():
    from scipy.ndimage import gaussian_filter

    assert laplacian_variance(np.full((32, 32, 3), 90.0)) == 0.0
    ramp = np.repeat(np.tile(np.arange(32.0) * 4, (32, 1))[..., None], 3, axis=2)
    inner = np.zeros((32, 32))
    inner[4:-4, 4:-4] = 1.0
    assert laplacian_variance(ramp, inner) == pytest.approx(0.0, abs=1e-9)  # no curvature away from the edges
    sharp = checkerboard()
    blurred = gaussian_filter(sharp, sigma=(1.0, 1.0, 0))
    assert laplacian_variance(sharp, lower_mask()) > 4 * laplacian_variance(blurred, lower_mask()) > 0
    textured_above = np.full((32, 32, 3), 90.0)
    textured_above[:12] = checkerboard()[:12]
    assert laplacian_variance(textured_above, lower_mask()) == 0.0  # texture outside the mask is not counted


def test_ssim_is_one_for_identical_frames_and_falls_with_noise_and_inversion():
    frame = checkerboard(square=4)
    noisy = np.clip(frame + np.random.default_rng(0).normal(0, 25, frame.shape), 0, 255)
    assert ssim(frame, frame) == pytest.approx(1.0)
    assert 0.0 < ssim(noisy, frame) < 0.99
    c1 = (0.01 * 255) ** 2  # flat frames: only the luminance term is left
    expected = (2 * 100 * 60 + c1) / (100 ** 2 + 60 ** 2 + c1)
    assert ssim(np.full((16, 16), 100.0), np.full((16, 16), 60.0)) == pytest.approx(expected)
    assert ssim(noisy, frame) == pytest.approx(ssim(frame, noisy))
    assert ssim(255 - frame, frame) < 0
    only_below = frame.copy()
    only_below[:16] = noisy[:16]
    assert ssim(only_below, frame, lower_mask()) > ssim(only_below, frame)
