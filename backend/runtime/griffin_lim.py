"""Log-mel spectrograms and their inversion to speech by Griffin-Lim, in numpy only (no librosa in Blender).

The mel is the one the Tacotron family trains on (training/dataset.py `log_mel`): centred frames of a
periodic Hann window, zero padding at the ends, power spectra through librosa's Slaney-style mel filters,
natural log. Inversion undoes each step: the mel back to a linear spectrogram by non-negative least
squares, then phases by (fast) Griffin-Lim.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..features import hann_window

LOG_FLOOR = 1e-5  # training's floor on the mel power before the log
LOG_CEILING = 20.0  # far above full-scale speech (about 6): a wild model's mel cannot overflow exp
NNLS_ITERATIONS = 30
GRIFFIN_LIM_ITERATIONS = 60
MOMENTUM = 0.99  # librosa's fast Griffin-Lim


@dataclass(frozen=True)
class MelSpec:
    sample_rate: int = 16000
    n_fft: int = 800
    hop: int = 200
    n_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    power: float = 2.0  # of the spectrogram under the mel: 2 (power, this project) or 1 (NVIDIA's magnitudes)

    @property
    def fps(self) -> float:
        return self.sample_rate / self.hop


def hz_to_mel(hz) -> np.ndarray:
    """The Slaney mel scale: linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def mel_to_hz(mel) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


@lru_cache(maxsize=8)
def mel_filters(spec: MelSpec) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters with Slaney's area normalisation (librosa's default)."""
    edges = mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(spec.fmax), spec.n_mels + 2))
    bins = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sample_rate)
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def stft(audio: np.ndarray, spec: MelSpec, n_frames: int | None = None) -> np.ndarray:
    """(frames, n_fft // 2 + 1) complex spectra of centred frames (frame t centred on sample t * hop)."""
    half = spec.n_fft // 2
    padded = np.pad(np.asarray(audio, np.float64), (half, half))
    frames = np.lib.stride_tricks.sliding_window_view(padded, spec.n_fft)[::spec.hop]
    if n_frames is not None:
        frames = frames[:n_frames]
    return np.fft.rfft(frames * hann_window(spec.n_fft), axis=1)


def istft(spectra: np.ndarray, spec: MelSpec, length: int) -> np.ndarray:
    """The least-squares signal of `length` samples whose centred frames have these spectra."""
    frames = np.fft.irfft(spectra, n=spec.n_fft, axis=1) * hann_window(spec.n_fft)
    signal = overlap_add(frames, spec.hop, length + spec.n_fft)[spec.n_fft // 2:][:length]
    return signal / np.maximum(window_sum(spec, len(spectra), length), 1e-8)


def overlap_add(frames: np.ndarray, hop: int, length: int) -> np.ndarray:
    """Frames (T, N) added at t * hop into a signal of at least `length` samples."""
    n_frames, size = frames.shape
    chunks = -(-size // hop)
    padded = np.zeros((n_frames, chunks * hop))
    padded[:, :size] = frames
    pieces = padded.reshape(n_frames, chunks, hop)
    out = np.zeros((max(n_frames + chunks - 1, -(-length // hop)), hop))
    for c in range(chunks):
        out[c:c + n_frames] += pieces[:, c]
    return out.reshape(-1)


@lru_cache(maxsize=8)
def window_sum(spec: MelSpec, n_frames: int, length: int) -> np.ndarray:
    """The overlap-added squared window that `istft` divides by."""
    squared = np.tile(hann_window(spec.n_fft).astype(np.float64) ** 2, (n_frames, 1))
    return overlap_add(squared, spec.hop, length + spec.n_fft)[spec.n_fft // 2:][:length]


def log_mel(audio: np.ndarray, spec: MelSpec = MelSpec()) -> np.ndarray:
    """(1 + len(audio) // hop, n_mels) natural-log mel (of the power spectrogram unless `spec.power` says
    otherwise), as training computes it with librosa."""
    spectra = stft(audio, spec)
    linear = np.abs(spectra) ** spec.power
    return np.log(np.maximum(linear @ mel_filters(spec).T.astype(np.float64), LOG_FLOOR)).astype(np.float32)


def mel_to_linear(log_mel_frames: np.ndarray, spec: MelSpec, iterations: int = NNLS_ITERATIONS) -> np.ndarray:
    """(T, n_fft // 2 + 1) non-negative linear spectrogram (at `spec.power`) whose mel is closest to
    exp(log mel) (multiplicative least-squares updates, which keep every bin non-negative)."""
    filters = mel_filters(spec).astype(np.float64)
    clipped = np.clip(np.asarray(log_mel_frames, np.float64), np.log(LOG_FLOOR), LOG_CEILING)
    target = np.exp(clipped) @ filters  # (T, bins)
    linear = target.copy()
    for _ in range(iterations):
        linear *= target / np.maximum((linear @ filters.T) @ filters, 1e-12)
    return linear


def griffin_lim(magnitude: np.ndarray, spec: MelSpec, length: int, iterations: int = GRIFFIN_LIM_ITERATIONS,
                seed: int = 0) -> np.ndarray:
    """Float audio of `length` samples whose STFT magnitude is close to `magnitude` (T, bins)."""
    rng = np.random.default_rng(seed)
    angles = np.exp(2j * np.pi * rng.random(magnitude.shape))
    rebuilt = np.zeros_like(angles)
    for _ in range(iterations):
        previous = rebuilt
        rebuilt = stft(istft(magnitude * angles, spec, length), spec, len(magnitude))
        angles = rebuilt - (MOMENTUM / (1 + MOMENTUM)) * previous
        angles /= np.abs(angles) + 1e-16
    return istft(magnitude * angles, spec, length)


def mel_to_audio(log_mel_frames: np.ndarray, spec: MelSpec = MelSpec(), seed: int = 0) -> np.ndarray:
    """16-bit-safe float32 speech for (T, n_mels) log-mel frames: T * hop samples, so it lasts T / fps."""
    n_frames = len(log_mel_frames)
    magnitude = mel_to_linear(log_mel_frames, spec) ** (1.0 / spec.power)
    audio = griffin_lim(magnitude, spec, n_frames * spec.hop, seed=seed)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:
        audio *= 0.99 / peak
    return audio.astype(np.float32)
