"""Post-processing of an Animation: resample, smooth, strength, time offset, blink layer."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .animation import BLINK_CHANNELS, Animation
from .errors import InputError

# The accepted range of each option, checked once here for the CLI, the add-on and batch alike.
FPS_RANGE = (1.0, 240.0)
STRENGTH_RANGE = (0.0, 10.0)
SMOOTHING_RANGE_S = (0.0, 1.0)
OFFSET_RANGE_S = (-600.0, 600.0)


def check_range(name: str, value: object, bounds: tuple[float, float], unit: str = "") -> None:
    """Raise InputError unless `value` is a finite number within `bounds` (inclusive)."""
    low, high = bounds
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and low <= number <= high):
        raise InputError(None, f"{name} must be a number from {low:g} to {high:g}{unit}, not {value!r}")


@dataclass(frozen=True)
class PostOptions:
    fps: float | None = None  # resample to this rate; None keeps the source rate
    smoothing_s: float = 0.0  # Gaussian sigma in seconds; 0 disables
    strength: float = 1.0  # gain on every channel, clipped to [0, 1] for blendshapes
    offset_s: float = 0.0  # positive delays the animation, negative advances it
    blinks: bool = True  # add a procedural blink layer (blendshape animations with eye channels)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.fps is not None:
            check_range("fps", self.fps, FPS_RANGE)
        check_range("smoothing", self.smoothing_s, SMOOTHING_RANGE_S, " s")
        check_range("strength", self.strength, STRENGTH_RANGE)
        check_range("offset", self.offset_s, OFFSET_RANGE_S, " s")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**63:
            raise InputError(None, f"seed must be a whole number from 0 up, not {self.seed!r}")


def resample(anim: Animation, fps: float) -> Animation:
    if fps == anim.fps or anim.n_frames == 0:
        return Animation(fps, anim.channels, anim.values.copy(), anim.kind, dict(anim.meta))
    n_out = max(1, int(round(anim.duration_s * fps)))
    t_out = np.arange(n_out) / fps
    t_in = np.arange(anim.n_frames) / anim.fps
    values = np.stack([np.interp(t_out, t_in, col) for col in anim.values.T], axis=1)
    return Animation(fps, anim.channels, values, anim.kind, dict(anim.meta))


def smooth(anim: Animation, sigma_s: float) -> Animation:
    if sigma_s <= 0 or anim.n_frames < 2:
        return anim
    values = gaussian_filter_frames(anim.values, sigma_s * anim.fps)
    return Animation(anim.fps, anim.channels, values, anim.kind, dict(anim.meta))


def gaussian_filter_frames(values: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian blur along axis 0 with edge frames repeated (scipy.ndimage.gaussian_filter1d, mode
    "nearest"), in numpy so post-processing runs in any Blender."""
    radius = int(truncate * sigma + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(values[:1], radius, axis=0), values, np.repeat(values[-1:], radius, axis=0)])
    if len(kernel) > 64:  # wide kernels (long smoothing at a high frame rate) through the FFT
        size = len(padded) + len(kernel) - 1
        spectrum = np.fft.rfft(padded.astype(np.float64), size, axis=0) * np.fft.rfft(kernel, size)[:, None]
        full = np.fft.irfft(spectrum, size, axis=0)
        return full[2 * radius:2 * radius + len(values)].astype(values.dtype)
    out = np.zeros(values.shape, dtype=np.float64)
    for offset, weight in enumerate(kernel):
        out += weight * padded[offset:offset + len(values)]
    return out.astype(values.dtype)


def scale(anim: Animation, strength: float) -> Animation:
    values = anim.values * strength
    if anim.kind == "blendshape":
        values = np.clip(values, 0.0, 1.0)
    else:  # a landmark animation's blink channels are weights too
        columns = [i for i, name in enumerate(anim.channels) if name in BLINK_CHANNELS]
        values[:, columns] = np.clip(values[:, columns], 0.0, 1.0)
    return Animation(anim.fps, anim.channels, values, anim.kind, dict(anim.meta))


def shift(anim: Animation, offset_s: float) -> Animation:
    """Delay (pad with the first frame) or advance (drop leading frames) by whole frames."""
    frames = int(round(offset_s * anim.fps))
    if frames == 0 or anim.n_frames == 0:
        return anim
    if frames > 0:
        values = np.concatenate([np.repeat(anim.values[:1], frames, axis=0), anim.values])
    else:
        values = anim.values[min(-frames, anim.n_frames - 1):]
    meta = dict(anim.meta, offset_s=offset_s)
    return Animation(anim.fps, anim.channels, values, anim.kind, meta)


def blink_curve(n_frames: int, fps: float, seed: int = 0, mean_interval_s: float = 3.5) -> np.ndarray:
    """A 0..1 blink track: ~150 ms close-open blinks at irregular intervals (2-6 s apart)."""
    rng = np.random.default_rng(seed)
    curve = np.zeros(n_frames, dtype=np.float32)
    t = rng.uniform(0.8, 2.0)
    duration = n_frames / fps
    while t < duration:
        curve = np.maximum(curve, blink_pulse(np.arange(n_frames) / fps - t))
        t += float(np.clip(rng.gamma(4.0, mean_interval_s / 4.0), 2.0, 6.0))
    return curve


BLINK_SHAPE_S = (0.06, 0.03, 0.10)  # close, hold, reopen of the procedural blink


def blink_pulse(times: np.ndarray, close: float = BLINK_SHAPE_S[0], hold: float = BLINK_SHAPE_S[1],
                reopen: float = BLINK_SHAPE_S[2]) -> np.ndarray:
    """One blink's 0..1 eyelid closure at `times` (seconds from the moment the lids meet): closing over
    `close`, shut for `hold`, reopening over `reopen`."""
    rise = np.clip((times + close) / close, 0, 1) * (times < 0)
    top = ((times >= 0) & (times < hold)).astype(np.float32)
    fall = np.clip(1 - (times - hold) / reopen, 0, 1) * (times >= hold)
    return np.maximum(rise, np.maximum(top, fall))


def blink_track(blinks, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames,) float32 closure at frame times i / fps of blinks given as (start_s, length_s): each the
    shape of `blink_pulse` stretched to its length, starting to close at start_s."""
    curve = np.zeros(n_frames, dtype=np.float32)
    times = np.arange(n_frames) / fps
    close, hold, reopen = BLINK_SHAPE_S
    for start, length in blinks:
        stretch = length / sum(BLINK_SHAPE_S)
        pulse = blink_pulse(times - start - close * stretch, close * stretch, hold * stretch, reopen * stretch)
        curve = np.maximum(curve, pulse.astype(np.float32))
    return curve


def blink_start(half_shut_s: float, length_s: float) -> float:
    """When a blink_track blink of `length_s` must start for its lids to be half shut at `half_shut_s`."""
    return half_shut_s - 0.5 * BLINK_SHAPE_S[0] * length_s / sum(BLINK_SHAPE_S)


def add_blinks(anim: Animation, seed: int = 0) -> Animation:
    present = [c for c in BLINK_CHANNELS if c in anim.channels]
    if anim.kind != "blendshape" or not present:
        return anim
    curve = blink_curve(anim.n_frames, anim.fps, seed)
    values = anim.values.copy()
    for name in present:
        column = anim.channels.index(name)
        values[:, column] = np.maximum(values[:, column], curve)
    return Animation(anim.fps, anim.channels, values, anim.kind, dict(anim.meta, blinks=True))


def postprocess(anim: Animation, options: PostOptions) -> Animation:
    out = anim
    if options.fps:
        out = resample(out, options.fps)
    out = smooth(out, options.smoothing_s)
    if options.strength != 1.0:
        out = scale(out, options.strength)
    out = shift(out, options.offset_s)
    if options.blinks:
        out = add_blinks(out, options.seed)
    return out
