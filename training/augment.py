"""On-the-fly audio augmentation for training: tempo, pitch, WORLD voice resynthesis, room reverb, noise
at an SNR, a telephone band, a codec round trip, gain (the voice and channel effects live in
training/voice_augment.py).

Tempo changes the clip's length, so `augment` also returns `time_scale`: output time t corresponds to
input time t * time_scale, and the dataset stretches the labels to match; every other effect keeps the timing.
The same generator state gives byte-identical audio.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .voice_augment import CODECS, channel_effects, ffmpeg_path, voice_effects


@dataclass(frozen=True)
class AugmentOptions:
    """Each effect applies with its probability; values are drawn uniformly from the ranges."""

    tempo_prob: float = 0.3
    tempo: tuple[float, float] = (0.92, 1.08)  # > 1 speaks faster
    pitch_prob: float = 0.3
    pitch_semitones: tuple[float, float] = (-1.0, 1.0)
    reverb_prob: float = 0.3
    rt60_s: tuple[float, float] = (0.15, 0.7)  # time for the room's echo to fall by 60 dB
    reverb_wet: tuple[float, float] = (0.2, 0.7)
    noise_prob: float = 0.6
    snr_db: tuple[float, float] = (5.0, 35.0)
    noise_tilt: tuple[float, float] = (0.0, 2.0)  # spectral slope: 0 white, 1 pink, 2 brown
    gain_prob: float = 0.8
    gain_db: tuple[float, float] = (-12.0, 6.0)
    world_prob: float = 0.3  # WORLD analysis and resynthesis with the three changes below
    world_semitones: tuple[float, float] = (-4.0, 4.0)  # F0 shift
    world_jitter_cents: tuple[float, float] = (0.0, 30.0)  # a slow random F0 wobble's standard deviation
    world_warp: tuple[float, float] = (0.85, 1.18)  # spectral envelope stretch: > 1 a shorter vocal tract
    phone_prob: float = 0.1  # the 300-3400 Hz telephone band
    phone_narrowband_prob: float = 0.5  # with it, through 8 kHz sampling
    phone_mulaw_prob: float = 0.5  # with it, through 8-bit mu-law
    codec_prob: float = 0.15  # an encode-decode round trip through ffmpeg
    codecs: tuple[str, ...] = ("mp3", "opus")
    mp3_kbps: tuple[int, ...] = (16, 24, 32)
    opus_kbps: tuple[int, ...] = (8, 12, 16)

    def __post_init__(self):
        unknown = set(self.codecs) - set(CODECS)
        if unknown:
            raise ValueError(f"unknown codec(s) {', '.join(sorted(unknown))}; choose from {', '.join(CODECS)}")
        if self.codec_prob > 0:
            ffmpeg_path()  # the codec round trips need ffmpeg: fail now, not in a data loader worker


@dataclass(frozen=True)
class Augmented:
    audio: np.ndarray
    time_scale: float = 1.0


def augment(audio: np.ndarray, sample_rate: int, options: AugmentOptions, rng: np.random.Generator) -> Augmented:
    """`rng` draws tempo, pitch, reverb, noise and gain as it always has; the voice and channel effects
    draw from a child stream spawned from it (which consumes none of its numbers)."""
    voice_rng = rng.spawn(1)[0]
    out = np.asarray(audio, dtype=np.float32)
    time_scale = 1.0
    if rng.random() < options.tempo_prob:
        time_scale = float(rng.uniform(*options.tempo))
        out = change_tempo(out, time_scale)
    if rng.random() < options.pitch_prob:
        out = shift_pitch(out, sample_rate, float(rng.uniform(*options.pitch_semitones)))
    out = voice_effects(out, sample_rate, options, voice_rng)
    if rng.random() < options.reverb_prob:
        room = room_impulse(sample_rate, float(rng.uniform(*options.rt60_s)), rng)
        out = add_reverb(out, room, float(rng.uniform(*options.reverb_wet)))
    if rng.random() < options.noise_prob:
        noise = colored_noise(len(out), float(rng.uniform(*options.noise_tilt)), rng)
        out = add_noise(out, noise, float(rng.uniform(*options.snr_db)))
    out = channel_effects(out, sample_rate, options, voice_rng)
    if rng.random() < options.gain_prob:
        out = out * np.float32(10 ** (rng.uniform(*options.gain_db) / 20))
    return Augmented(np.clip(out, -1.0, 1.0).astype(np.float32), time_scale)


def change_tempo(audio: np.ndarray, rate: float) -> np.ndarray:
    import librosa

    return librosa.effects.time_stretch(audio, rate=rate).astype(np.float32)


def shift_pitch(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    import librosa

    return librosa.effects.pitch_shift(audio, sr=sample_rate, n_steps=semitones).astype(np.float32)


def room_impulse(sample_rate: int, rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room: a direct path, then exponentially decaying noise (the late reverb)."""
    n = max(1, int(rt60_s * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s)  # ln(1000): -60 dB at rt60
    tail[: int(0.003 * sample_rate)] = 0.0  # the first reflections arrive a few ms after the direct sound
    tail /= np.sqrt(np.sum(tail ** 2)) + 1e-12
    tail[0] = 1.0
    return tail.astype(np.float32)


def add_reverb(audio: np.ndarray, impulse: np.ndarray, wet: float) -> np.ndarray:
    from scipy.signal import fftconvolve

    reverberant = fftconvolve(audio, impulse)[: len(audio)]
    mixed = (1 - wet) * audio + wet * reverberant
    return (mixed * rms(audio) / max(rms(mixed), 1e-9)).astype(np.float32)


def colored_noise(n: int, tilt: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1 / f**tilt."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / max(n, 1))
    noise = np.fft.irfft(spectrum / freqs ** (tilt / 2), n)
    return (noise / max(rms(noise), 1e-12)).astype(np.float32)


def add_noise(audio: np.ndarray, unit_noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Mix noise in at `snr_db` below the speech's active (non-silent) level."""
    level = active_rms(audio)
    return (audio + unit_noise * np.float32(level / 10 ** (snr_db / 20))).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def active_rms(audio: np.ndarray, frame: int = 400) -> float:
    """RMS over the louder half of 25 ms frames, so leading and trailing silence don't count."""
    usable = audio[: len(audio) // frame * frame]
    if usable.size == 0:
        return rms(audio)
    energies = np.mean(usable.reshape(-1, frame).astype(np.float64) ** 2, axis=1)
    loud = energies[energies >= np.median(energies)]
    return float(np.sqrt(loud.mean()))
