"""Audio features for the learned models, in numpy only: training and the torch-free runtime share them.

The CNN+GRU input (Pham et al., ICMI 2018) is one power-spectrogram window per video frame:
128 frequency bins x 32 STFT frames, FFT 256 and hop 128. At 16 kHz (the rate of every speech model
here, `backend.audio.SAMPLE_RATE`) a bin is 62.5 Hz wide, so the 128 bins cover 0-8 kHz, the whole
speech band, and 32 hops of 8 ms span 264 ms of audio: about one syllable of context.

Windows are causal: the window of the frame at time t ends at t, so a model never hears the future
and can stream. Audio before the start reads as silence.
"""
from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 256
HOP = 128
N_BINS = 128  # rfft gives N_FFT // 2 + 1 = 129 bins; the Nyquist bin is dropped
N_STEPS = 32  # STFT frames per window
WINDOW_SAMPLES = N_FFT + (N_STEPS - 1) * HOP  # 4224 samples, 264 ms at 16 kHz
# Log floor on the power: about 66 dB under a full-scale sine's peak bin (N_FFT/4 squared = 4096),
# so digital silence and a quiet room's hiss read alike.
POWER_FLOOR = 1e-3


def frame_count(n_samples: int, sample_rate: int, fps: float) -> int:
    """Video frames for a clip: round(duration x fps), at least one (as `backend.post.resample`)."""
    return max(1, int(round(n_samples / sample_rate * fps)))


def hann_window(length: int = N_FFT) -> np.ndarray:
    """The periodic Hann window (the STFT convention)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)).astype(np.float32)


def resample_fft(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling through the FFT, numpy only (the runtime may have no scipy or soxr)."""
    if source_rate == target_rate or audio.size == 0:
        return audio.astype(np.float32)
    n_out = max(1, int(round(audio.size * target_rate / source_rate)))
    spectrum = np.fft.rfft(audio.astype(np.float64))
    keep = min(spectrum.size, n_out // 2 + 1)
    resized = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    resized[:keep] = spectrum[:keep]
    return (np.fft.irfft(resized, n_out) * (n_out / audio.size)).astype(np.float32)


def log_power_stft(audio: np.ndarray) -> np.ndarray:
    """(n_stft_frames, N_BINS) natural-log power; frame j covers samples [j*HOP, j*HOP + N_FFT)."""
    if audio.size < N_FFT:
        audio = np.pad(audio, (0, N_FFT - audio.size))
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * hann_window(), axis=1)[:, :N_BINS]
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return np.log(power + POWER_FLOOR).astype(np.float32)


def window_end_samples(n_frames: int, sample_rate: int, fps: float) -> np.ndarray:
    """The sample index (exclusive) where each video frame's window ends: the frame's own time."""
    return np.round(np.arange(n_frames) * (sample_rate / fps)).astype(np.int64)


def spectrogram_windows(audio: np.ndarray, sample_rate: int, fps: float,
                        n_frames: int | None = None) -> np.ndarray:
    """(T, 128, 32) float32 causal log-power-spectrogram windows, one per video frame at `fps`.

    `x[t, f, s]` is frequency bin f of STFT step s; step 31 is the newest and ends at frame t's time
    t / fps. T is `frame_count(len(audio), sample_rate, fps)` unless `n_frames` is given.
    """
    spec, steps = stft_steps(audio, sample_rate, fps, n_frames)
    return np.ascontiguousarray(spec[steps].transpose(0, 2, 1))


def stft_steps(audio: np.ndarray, sample_rate: int, fps: float,
               n_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The windows in shared form: (J, 128) log-power STFT frames and (T, 32) indices into them.

    Consecutive windows overlap by most of their steps; a model whose first layers work on each STFT
    frame alone computes them once per STFT frame from this form.
    """
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.isfinite(audio).all():
        raise ValueError("audio contains NaN or infinity")
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, not {fps!r}")
    if n_frames is None:
        n_frames = frame_count(audio.size, sample_rate, fps)
    audio = resample_fft(audio, sample_rate, SAMPLE_RATE)
    ends = window_end_samples(n_frames, SAMPLE_RATE, fps)
    # Silence before the clip, so the first frames see a full window (window_steps counts it in).
    tail = max(0, int(ends[-1]) - audio.size)
    padded = np.concatenate([np.zeros(WINDOW_SAMPLES, np.float32), audio, np.zeros(tail, np.float32)])
    return log_power_stft(padded), window_steps(n_frames, fps)


def window_steps(n_frames: int, fps: float) -> np.ndarray:
    """(T, 32) indices of each window's STFT frames in the clip's padded STFT (as `stft_steps`).

    They depend only on the frame times, so a model can find the STFT frames that windows share.
    """
    ends = window_end_samples(n_frames, SAMPLE_RATE, fps)
    # The newest STFT frame of each window is the last one that ends at or before the window's end.
    newest = (ends + WINDOW_SAMPLES - N_FFT) // HOP
    return newest[:, None] + np.arange(-N_STEPS + 1, 1)[None, :]
