"""Landmark -> shape-key solver: the weights in [0, 1] whose landmark offsets best match a target.

Each clip solves
    min_w  sum_t ||A w_t - b_t||^2 + l2 * sum_t ||w_t||^2 + temporal * sum_t ||D (w_t - w_{t-1})||^2,
    0 <= w <= 1,
where column k of A is shape key k's landmark offsets and D = diag(||A_k||), so the temporal penalty is on
the change of each key's landmark motion. All frames are solved together by ADMM with a Jacobi-scaled
penalty: a generalized eigen-decomposition of (A^T A, D^2) makes the key coupling diagonal and a DCT makes
the first-difference penalty diagonal in time, so an iteration is two small matrix products (and two FFTs
with a temporal penalty) over the whole clip, and the box step is a clip. Without a temporal penalty the
frames are independent and each stops as soon as it has converged.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class SolveOptions:
    l2: float = 0.0  # pull toward 0, relative to the mean squared landmark motion of one key
    temporal: float = 0.0  # penalty on frame-to-frame change of each key's landmark motion
    tolerance: float = 1e-7  # stop when an iteration moves the fitted landmarks by less than this (basis units)
    max_iterations: int = 5000
    over_relaxation: float = 1.6


@dataclass(frozen=True)
class _Problem:
    scale: np.ndarray  # [K] landmark-motion norm of each used key
    metric: np.ndarray  # [K, K] A^T A + l2: weight differences -> squared landmark (and penalty) change
    eigvecs: np.ndarray  # [K, K], V^T D^2 V = I
    eigvals: np.ndarray  # [K]
    linear: np.ndarray  # [K, T] A^T b_t
    time_eigvals: np.ndarray | None  # [T] eigenvalues of the first-difference penalty, None without one
    temporal: float


def solve_weights(basis, targets, options: SolveOptions = SolveOptions()) -> np.ndarray:
    """[T, K] weights in [0, 1] for a [K, L, D] basis of landmark offsets and [T, L, D] target offsets.

    Keys that move none of the landmarks get weight 0.
    """
    basis = np.asarray(basis, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim == 2:
        targets = targets[None]
    if basis.ndim != 3 or targets.ndim != 3 or basis.shape[1:] != targets.shape[1:]:
        raise ValueError(f"basis [K, L, D] and targets [T, L, D] disagree: {basis.shape} vs {targets.shape}")
    n_keys, n_frames = basis.shape[0], targets.shape[0]
    weights = np.zeros((n_frames, n_keys), dtype=np.float32)
    design = basis.reshape(n_keys, -1).T  # [L*D, K]
    norms = np.linalg.norm(design, axis=0)
    used = norms > 1e-9 * max(float(norms.max()), 1e-300)
    if n_frames == 0 or not used.any():
        return weights
    problem = _setup(design[:, used], targets.reshape(n_frames, -1).T, options)
    weights[:, used] = _admm(problem, options).T
    return weights


def _setup(design: np.ndarray, stacked_targets: np.ndarray, options: SolveOptions) -> _Problem:
    n_keys, n_frames = design.shape[1], stacked_targets.shape[1]
    scale = np.linalg.norm(design, axis=0)
    gram = design.T @ design
    unit = float(np.trace(gram)) / n_keys  # makes l2 and temporal scale-free
    metric = gram + options.l2 * unit * np.eye(n_keys)
    # The generalized problem metric v = lambda D^2 v, as an ordinary one in D v (D = diag(scale) > 0).
    eigvals, unit_vectors = np.linalg.eigh(metric / np.outer(scale, scale))
    eigvecs = unit_vectors / scale[:, None]
    time_eigvals = None
    if options.temporal > 0:
        time_eigvals = 2.0 - 2.0 * np.cos(np.pi * np.arange(n_frames) / n_frames)
    return _Problem(scale, metric, eigvecs, np.maximum(eigvals, 0.0), design.T @ stacked_targets, time_eigvals,
                    options.temporal)


def _solve_quadratic(problem: _Problem, rhs: np.ndarray, rho: float) -> np.ndarray:
    """X [K, T] with (A^T A + l2 + (temporal * Laplacian + rho) D^2) X = rhs."""
    projected = problem.eigvecs.T @ rhs
    if problem.time_eigvals is None:
        return problem.eigvecs @ (projected / (problem.eigvals + rho)[:, None])
    spectral = dct_ortho(projected)
    denominator = problem.eigvals[:, None] + problem.temporal * problem.time_eigvals[None] + rho
    return problem.eigvecs @ idct_ortho(spectral / denominator)


def _dct_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(phase twiddles exp(-i pi k / 2n), orthonormal scale) of a length-n DCT-II."""
    k = np.arange(n)
    scale = np.full(n, np.sqrt(1.0 / (2 * n)))
    scale[0] = np.sqrt(1.0 / (4 * n))
    return np.exp(-1j * np.pi * k / (2 * n)), scale


def dct_ortho(x: np.ndarray) -> np.ndarray:
    """Orthonormal DCT-II along the last axis through one FFT (scipy.fft.dct type 2, norm "ortho")."""
    n = x.shape[-1]
    twiddle, scale = _dct_weights(n)
    reordered = np.concatenate([x[..., ::2], x[..., 1::2][..., ::-1]], axis=-1)
    return 2.0 * np.real(np.fft.fft(reordered, axis=-1) * twiddle) * scale


def idct_ortho(y: np.ndarray) -> np.ndarray:
    """The inverse of dct_ortho along the last axis."""
    n = y.shape[-1]
    twiddle, scale = _dct_weights(n)
    coefficients = y / scale
    mirrored = np.concatenate([np.zeros(y.shape[:-1] + (1,)), coefficients[..., :0:-1]], axis=-1)
    reordered = np.real(np.fft.ifft(0.5 * (coefficients - 1j * mirrored) / twiddle, axis=-1))
    x = np.empty(y.shape)
    half = (n + 1) // 2
    x[..., ::2] = reordered[..., :half]
    x[..., 1::2] = reordered[..., half:][..., ::-1]
    return x


def _admm(problem: _Problem, options: SolveOptions) -> np.ndarray:
    positive = problem.eigvals[problem.eigvals > problem.eigvals.max() * 1e-9]
    rho = float(np.sqrt(positive.min() * positive.max())) if positive.size else 1.0
    alpha, weight = options.over_relaxation, problem.scale[:, None] ** 2
    box = np.clip(_solve_quadratic(problem, problem.linear, 1e-9 * rho), 0.0, 1.0)
    dual = np.zeros_like(box)
    result = box.copy()
    active = np.arange(box.shape[1])  # frames still iterating (all of them with a temporal penalty)
    independent = problem.time_eigvals is None
    sub = problem
    for iteration in range(1, options.max_iterations + 1):
        free = _solve_quadratic(sub, sub.linear + rho * weight * (box - dual), rho)
        relaxed = alpha * free + (1.0 - alpha) * box
        previous, box = box, np.clip(relaxed + dual, 0.0, 1.0)
        dual += relaxed - box
        if iteration % 10:
            continue
        primal, change = _landmark_norm(problem, free - box), _landmark_norm(problem, box - previous)
        done = (primal < options.tolerance) & (change < options.tolerance)
        if done.all():
            break
        if independent and done.any():
            result[:, active[done]] = box[:, done]
            active, box, dual = active[~done], box[:, ~done], dual[:, ~done]
            sub = replace(problem, linear=problem.linear[:, active])
        rho, dual = _rebalance(rho, dual, float(primal.max()), float(change.max()))
    result[:, active] = box
    return result


def _landmark_norm(problem: _Problem, step: np.ndarray) -> np.ndarray:
    """[T] how far a weight step [K, T] moves the fitted landmarks; directions no landmark sees count 0."""
    return np.sqrt(np.maximum(np.sum(step * (problem.metric @ step), axis=0), 0.0))


def _rebalance(rho: float, scaled_dual: np.ndarray, primal: float, dual: float) -> tuple[float, np.ndarray]:
    """Residual balancing: a larger rho when the constraint lags, a smaller one when the fit does."""
    if primal > 10.0 * dual:
        return rho * 2.0, scaled_dual / 2.0
    if dual > 10.0 * primal:
        return rho / 2.0, scaled_dual * 2.0
    return rho, scaled_dual
