"""The coursework's image measures for lip-sync generators (models-spec §2.3), on RGB frames in 0..255.

- `masked_psnr`: MSE = sum M (f - g)^2 / sum M for each RGB channel, averaged over channels;
  PSNR = 20 log10(255 / sqrt(MSE)) (infinite for identical frames).
- `laplacian_variance` (vL): the variance, inside the mask, of the Laplacian of the grayscale frame, the
  Laplacian taken as Sobel applied twice (d2/dx2 = Sobel_x(Sobel_x), the same in y, summed), with no
  Gaussian pre-blur. Higher is sharper.
- `ssim`: Wang et al.'s structural similarity (11-tap Gaussian window, sigma 1.5, K1 0.01, K2 0.03), the
  mean of its map over the mask and the channels; it stands in for the coursework's VGG perceptual number.
The Expert measure is the lip-sync expert's (backend/sync_measures.py).
"""
from __future__ import annotations

import numpy as np

PEAK = 255.0
GRAY = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma
SSIM_SIGMA, SSIM_TRUNCATE = 1.5, 3.5  # an 11-tap window
K1, K2 = 0.01, 0.03


def _region(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    region = np.ones(shape) if mask is None else np.asarray(mask, np.float64)
    if region.shape != shape:
        raise ValueError(f"mask {region.shape} does not match the frame's {shape}")
    if region.sum() <= 0:
        raise ValueError("the mask is empty")
    return region


def masked_psnr(generated: np.ndarray, real: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of two (H, W, 3) frames over the mask (H, W) weights."""
    f, g = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    region = _region(mask, f.shape[:2])
    per_channel = (region[..., None] * (f - g) ** 2).sum(axis=(0, 1)) / region.sum()
    mse = float(per_channel.mean())
    return float("inf") if mse == 0 else 20.0 * np.log10(PEAK / np.sqrt(mse))


def grayscale(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float64)
    return image @ GRAY if image.ndim == 3 else image


def laplacian(gray: np.ndarray) -> np.ndarray:
    """Sobel applied twice along each axis, summed (edges mirrored)."""
    from scipy.ndimage import sobel

    return sobel(sobel(gray, axis=1), axis=1) + sobel(sobel(gray, axis=0), axis=0)


def laplacian_variance(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """vL: the variance of the Laplacian of the grayscale frame over the pixels where mask > 0.5."""
    gray = grayscale(image)
    inside = _region(mask, gray.shape) > 0.5
    return float(laplacian(gray)[inside].var())


def ssim(generated: np.ndarray, real: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM of two (H, W, 3) or (H, W) frames over the mask (H, W) weights and the channels."""
    from scipy.ndimage import gaussian_filter

    x, y = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    region = _region(mask, x.shape[:2])

    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma=(SSIM_SIGMA, SSIM_SIGMA, 0), truncate=SSIM_TRUNCATE)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = (K1 * PEAK) ** 2, (K2 * PEAK) ** 2
    ssim_map = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float((region[..., None] * ssim_map).sum() / (region.sum() * x.shape[2]))
