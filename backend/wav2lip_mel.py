"""Wav2Lip's log-mel spectrogram and its per-frame windows, in numpy only (it also runs inside Blender).

The steps of Wav2Lip's `audio.melspectrogram` (models-spec §2.1): pre-emphasis 0.97, a centred STFT of a
periodic Hann window (FFT 800, hop 200, window 800, reflect-padded ends as in the librosa it was written
for), magnitudes through the Slaney mel filters (80 bands, 55-7600 Hz), decibels floored at -100 dB, minus
the 20 dB reference level, then scaled symmetrically to [-4, 4] and clipped. Rows are mel bands, columns
are frames at 80 per second (column j is centred on sample 200 j).

A video frame i at `fps` gets the 16 columns starting at int(80 i / fps): 0.2 s, the span of the five
frames i..i+4 at 25 fps.
"""
from __future__ import annotations

import numpy as np

from .runtime.griffin_lim import MelSpec, mel_filters

SAMPLE_RATE = 16000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN, FMAX = 55.0, 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB = 20.0
MIN_LEVEL_DB = -100.0
MAX_ABS_VALUE = 4.0
MEL_FPS = SAMPLE_RATE / HOP  # 80 columns a second
WINDOW_STEPS = 16  # columns per window
SPEC = MelSpec(sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop=HOP, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, power=1.0)


def preemphasis(audio: np.ndarray, k: float = PREEMPHASIS) -> np.ndarray:
    """y[n] = x[n] - k x[n-1], with x[-1] = 0."""
    audio = np.asarray(audio, np.float64)
    out = audio.copy()
    out[1:] -= k * audio[:-1]
    return out


def magnitudes(audio: np.ndarray) -> np.ndarray:
    """(N_FFT // 2 + 1, frames) STFT magnitudes of centred, reflect-padded frames."""
    half = N_FFT // 2
    if len(audio) <= half:  # reflection needs more samples than the pad; a clip this short is silence-padded
        audio = np.pad(audio, (0, half + 1 - len(audio)))
    padded = np.pad(audio, (half, half), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WIN) / WIN)
    return np.abs(np.fft.rfft(frames * window, axis=1)).T


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Mono 16 kHz audio -> float32 (80, 1 + len(audio) // 200), Wav2Lip's normalised log-mel in [-4, 4]."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (one axis), got shape {audio.shape}")
    mel = mel_filters(SPEC).astype(np.float64) @ magnitudes(preemphasis(audio))
    floor = 10.0 ** (MIN_LEVEL_DB / 20.0)
    decibels = 20.0 * np.log10(np.maximum(floor, mel)) - REF_LEVEL_DB
    scaled = 2 * MAX_ABS_VALUE * (decibels - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    columns = 1 + len(audio) // HOP
    return np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE)[:, :columns].astype(np.float32)


def window_start(frame_index: int, fps: float = 25.0) -> int:
    """The first mel column of video frame `frame_index`: int(80 * frame / fps)."""
    return int(MEL_FPS * frame_index / fps)  # 80 i is exact, so a whole-number quotient never rounds down


def mel_window(mel: np.ndarray, frame_index: int, fps: float = 25.0) -> np.ndarray:
    """The (80, 16) window of `mel` starting at video frame `frame_index`; past the end, the last column repeats."""
    return windows_at(mel, np.array([window_start(frame_index, fps)]))[0]


def window_starts(n_frames: int, fps: float = 25.0) -> np.ndarray:
    return np.array([window_start(i, fps) for i in range(n_frames)], np.int64)


def mel_windows(mel: np.ndarray, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """float32 (n_frames, 80, 16): the window of every start frame 0..n_frames-1.

    Columns past the end of `mel` repeat its last column (edge padding: the tail of a clip reads as the
    sound it ends on, usually silence, rather than as an invented level); a mel with no columns gives
    silence (-4) throughout."""
    return windows_at(mel, window_starts(n_frames, fps))


def windows_at(mel: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """float32 (len(starts), 80, 16) windows at these first columns, edge-padded as in `mel_windows`."""
    mel = np.asarray(mel, np.float32)
    if mel.shape[1] == 0:
        return np.full((len(starts), mel.shape[0], WINDOW_STEPS), -MAX_ABS_VALUE, np.float32)
    index = np.asarray(starts, np.int64)[:, None] + np.arange(WINDOW_STEPS)[None, :]
    windows = mel[:, np.minimum(index, mel.shape[1] - 1)]  # (80, N, 16)
    return np.ascontiguousarray(windows.transpose(1, 0, 2))


def full_windows(n_columns: int, n_frames: int, fps: float = 25.0) -> int:
    """How many of the first `n_frames` start frames have all 16 columns inside a mel of `n_columns`."""
    starts = window_starts(n_frames, fps)
    return int(np.count_nonzero(starts + WINDOW_STEPS <= n_columns))
