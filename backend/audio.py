"""Audio decoding: any of wav/flac/ogg/mp3 to mono float32 at the speech models' sample rate."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import InputError

SAMPLE_RATE = 16000  # every speech model and the aligner work at 16 kHz
SUPPORTED_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
SILENCE_DBFS = -50.0  # a clip whose loudest 50 ms stays under this holds no speech
PEAK_CEILING = 0.99


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode `path` to mono float32 at `sample_rate`, DC removed, peaks kept under full scale."""
    path = Path(path)
    _check_file(path)
    samples, native_rate = _decode(path)
    if samples.size == 0:
        raise InputError(path, "audio file holds no samples")
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if native_rate != sample_rate:
        mono = resample(mono, native_rate, sample_rate)
    return make_safe(mono)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "audio file not found")
    if path.is_dir():
        raise InputError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise InputError(path, "audio file is empty (0 bytes)")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(path, f"unsupported audio format {path.suffix or '(no extension)'!r}; "
                               f"use one of {', '.join(SUPPORTED_SUFFIXES)}")


def _decode(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=False)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise InputError(path, f"cannot decode audio, the file is corrupt or not {path.suffix[1:]} ({err})") from None
    return np.asarray(samples, dtype=np.float32), int(rate)


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    import soxr

    return soxr.resample(samples.astype(np.float32), source_rate, target_rate, quality="HQ").astype(np.float32)


def make_safe(samples: np.ndarray) -> np.ndarray:
    """Remove DC and scale down only if peaks exceed the ceiling; never amplify."""
    out = samples.astype(np.float32) - np.float32(samples.mean())
    out[~np.isfinite(out)] = 0.0
    peak = float(np.abs(out).max()) if out.size else 0.0
    if peak > PEAK_CEILING:
        out *= PEAK_CEILING / peak
    return out


def loudest_dbfs(samples: np.ndarray, sample_rate: int, window_s: float = 0.05) -> float:
    """RMS level of the loudest window, in dBFS."""
    hop = max(1, int(window_s * sample_rate))
    usable = samples[: len(samples) // hop * hop]
    if usable.size == 0:
        usable = np.pad(samples, (0, hop - len(samples)))
    rms = np.sqrt(np.mean(usable.reshape(-1, hop).astype(np.float64) ** 2, axis=1))
    return float(20 * np.log10(max(rms.max(), 1e-10)))


def require_speech(samples: np.ndarray, sample_rate: int, source: str | os.PathLike | None) -> None:
    """Raise if the clip is silence only: nothing to animate."""
    level = loudest_dbfs(samples, sample_rate)
    if level < SILENCE_DBFS:
        raise InputError(source, f"audio is silent (loudest passage {level:.0f} dBFS), no speech to animate")


def add_noise_floor(samples: np.ndarray, dbfs: float = -60.0, seed: int = 0) -> np.ndarray:
    """Add faint white noise: digital silence breaks pocketsphinx's feature normalisation."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(samples.shape).astype(np.float32) * np.float32(10 ** (dbfs / 20))
    return samples + noise


def save_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int, overwrite: bool = True) -> None:
    """Write 16-bit PCM WAV atomically."""
    import soundfile

    from .fileio import atomic_path

    with atomic_path(path, overwrite) as tmp:
        soundfile.write(tmp, samples, sample_rate, subtype="PCM_16", format="WAV")
