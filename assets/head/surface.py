"""The head's surface as a function of direction: polar angle theta (from +Z) and azimuth phi (0 faces -Y,
positive toward +X). The radius blends front, side and back profiles, plus facial features and ears."""
from __future__ import annotations

import numpy as np

from .design import DESIGN, Design, gauss, smoothstep, soft_abs

# Midline profiles as (theta, radius) knots: front (face without nose and lips), side, back.
FRONT_PROFILE = ((0.0, 0.116), (0.52, 0.115), (0.90, 0.1105), (1.13, 0.1055), (1.28, 0.0985),
                 (1.57, 0.0975), (1.91, 0.1035), (2.02, 0.1055), (2.20, 0.1105), (2.31, 0.1215),
                 (2.50, 0.1230), (2.72, 0.1200))
SIDE_PROFILE = ((0.0, 0.116), (0.54, 0.1110), (0.98, 0.0920), (1.57, 0.0805), (1.96, 0.0835),
                (2.30, 0.0925), (2.50, 0.1020), (2.72, 0.1300))
BACK_PROFILE = ((0.0, 0.116), (0.68, 0.1220), (1.28, 0.1060), (1.78, 0.0990), (2.25, 0.0960),
                (2.56, 0.1180), (2.72, 0.1500))


def spaced(count: int, start: float, stop: float, density) -> np.ndarray:
    """`count` values from start to stop, closer together where `density` is high."""
    fine = np.linspace(start, stop, 4096)
    weight = density(fine)
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (weight[1:] + weight[:-1]) * np.diff(fine))])
    return np.interp(np.linspace(0.0, cumulative[-1], count), cumulative, fine)


def column_angles(design: Design) -> np.ndarray:
    """Azimuths of the columns, -pi at j = 0 (the back), 0 at j = columns / 2, mirror-symmetric."""
    half = spaced(design.columns // 2 + 1, 0.0, np.pi,
                  lambda a: 1.0 + 2.6 * (1.0 - smoothstep(0.45, 0.95, a)))
    return np.concatenate([-half[::-1][:-1], half[:-1]])


def row_angles(design: Design) -> np.ndarray:
    def density(t):
        face = smoothstep(0.75, 1.05, t) * (1.0 - smoothstep(2.35, 2.6, t))
        return 1.0 + 1.6 * face + 1.4 * gauss(t - 2.02, 0.14) + 0.6 * gauss(t - 1.27, 0.12)
    return spaced(design.rows + 1, 0.0, design.theta_end, density)[1:]


def pchip(knots, x) -> np.ndarray:
    """Monotone cubic (PCHIP, Fritsch-Carlson slopes as in scipy's PchipInterpolator) through (x, y) knots,
    numpy only so the head builds inside any Blender."""
    xk, yk = np.asarray(knots, dtype=np.float64).T
    h, slope = np.diff(xk), np.diff(yk) / np.diff(xk)
    d = np.zeros_like(yk)
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    same_sign = (slope[:-1] * slope[1:]) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / slope[:-1] + w2 / slope[1:])
    d[1:-1] = np.where(same_sign, harmonic, 0.0)
    d[0] = _pchip_end(h[0], h[1], slope[0], slope[1])
    d[-1] = _pchip_end(h[-1], h[-2], slope[-1], slope[-2])
    x = np.asarray(x, dtype=np.float64)
    k = np.clip(np.searchsorted(xk, x, side="right") - 1, 0, len(h) - 1)
    t = (x - xk[k]) / h[k]
    return ((2 * t ** 3 - 3 * t ** 2 + 1) * yk[k] + (t ** 3 - 2 * t ** 2 + t) * h[k] * d[k]
            + (-2 * t ** 3 + 3 * t ** 2) * yk[k + 1] + (t ** 3 - t ** 2) * h[k] * d[k + 1])


def _pchip_end(h0: float, h1: float, m0: float, m1: float) -> float:
    """One-sided three-point slope at an end, kept monotone."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3 * m0):
        return 3 * m0
    return d


def base_radius(phi, theta):
    front, side, back = (pchip(p, theta) for p in (FRONT_PROFILE, SIDE_PROFILE, BACK_PROFILE))
    c2, s2 = np.cos(phi) ** 2, np.sin(phi) ** 2
    facing = np.where(np.abs(phi) <= np.pi / 2, front, back)
    return c2 * facing + s2 * side


def direction(phi, theta) -> np.ndarray:
    return np.stack([np.sin(theta) * np.sin(phi), -np.sin(theta) * np.cos(phi), np.cos(theta)], axis=-1)


def feature_offset(x, z, design: Design = DESIGN):
    """Radial offset of the facial features at face-front coordinates (x, z)."""
    ax = soft_abs(x)
    bridge_z = (0.046, 0.030, 0.012, -0.004, -0.010, -0.017, -0.022, -0.026)
    bridge_h = (0.0, 0.003, 0.009, 0.021, 0.025, 0.013, 0.003, 0.0)
    bridge_w = (0.0065, 0.0065, 0.0068, 0.0085, 0.0095, 0.0085, 0.006, 0.006)
    size, width = design.nose_size, design.nose_width
    along = -np.array(bridge_z)
    nose = np.interp(-z, along, bridge_h) * size * gauss(x, np.interp(-z, along, bridge_w) * width)
    alae = 0.0075 * size * gauss(ax - 0.0125 * width, 0.0065 * width) * gauss(z + 0.0135, 0.0065)
    brow = 0.0042 * gauss(z - 0.049 + 0.004 * (ax - 0.03) ** 2 / 0.0009, 0.0065) * (1 - smoothstep(0.045, 0.065, ax))
    ex, _, ez = design.eye_center
    socket = -0.0085 * gauss(np.hypot((ax - ex) / 1.15, z - ez), 0.016)
    cheekbone = 0.0055 * gauss(np.hypot(ax - 0.046, z + 0.004), 0.017)
    mz = design.mouth_z
    muzzle = 0.0050 * gauss(x, 0.032) * gauss(z - mz - 0.004, 0.024)
    upper_lip = 0.0026 * design.upper_lip_fullness * gauss(x, 0.020) * gauss(z - mz - 0.0042, 0.0042)
    lower_lip = 0.0036 * design.lower_lip_fullness * gauss(x, 0.019) * gauss(z - mz + 0.0052, 0.0048)
    philtrum = -0.0009 * gauss(x, 0.0032) * smoothstep(mz + 0.006, mz + 0.010, z) * (1 - smoothstep(-0.028, -0.022, z))
    fold = -0.0028 * gauss(x, 0.022) * gauss(z + 0.066, 0.0055)
    chin = 0.0105 * design.chin_size * gauss(x, 0.018) * gauss(z + 0.084, 0.012)
    nostrils = -0.0032 * size * gauss(np.hypot(ax - 0.0065 * width, (z + 0.0185) * 1.6), 0.0028 * width)
    return nostrils + nose + alae + brow + socket + cheekbone + muzzle + upper_lip + lower_lip + philtrum + fold + chin


def ear_offset(phi, theta):
    """Outward offset of the ears: a rim around a shallow bowl, on each side just behind the jaw hinge."""
    along = np.abs(phi) - 1.78
    across = theta - 1.52
    shell = 0.016 * gauss(np.hypot(along / 0.16, across / 0.26), 1.0)
    bowl = 0.010 * gauss(np.hypot((along + 0.02) / 0.08, (across - 0.02) / 0.15), 1.0)
    lobe = 0.005 * gauss(np.hypot(along / 0.08, (across - 0.25) / 0.07), 1.0)
    return shell - bowl + lobe


def surface_point(phi, theta, design: Design = DESIGN) -> np.ndarray:
    phi, theta = np.broadcast_arrays(np.asarray(phi, float), np.asarray(theta, float))
    unit = direction(phi, theta)
    radius = base_radius(phi, theta)
    base = unit * radius[..., None]
    frontness = smoothstep(0.25, 0.65, -unit[..., 1])
    offset = feature_offset(base[..., 0], base[..., 2], design) * frontness + ear_offset(phi, theta)
    return unit * (radius + offset)[..., None]
