"""Voice and channel augmentation that makes synthetic voices sound less synthetic.

  WORLD resynthesis  dio + stonemask F0, cheaptrick envelope, d4c aperiodicity (5 ms frames), then
                     synthesis with the F0 shifted, a slow random F0 wobble, and the spectral envelope
                     stretched along frequency (a shorter or longer vocal tract: formants move by `warp`)
  telephone band     300-3400 Hz band-pass, optionally through 8 kHz and 8-bit mu-law
  codec round trip   low-bitrate mp3 or opus through ffmpeg (pipes, no files), re-aligned to the input

Every effect keeps the clip's length and timing, so labels stay aligned: the codecs' delay is measured
once per codec and bitrate on a fixed probe signal and taken off the decoded audio.
"""
from __future__ import annotations

import math
import subprocess
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from backend.errors import ToolError

FRAME_PERIOD_MS = 5.0
MIN_WORLD_SAMPLES = 1024  # shorter clips pass through WORLD unchanged
F0_WOBBLE_STEP_FRAMES = 10  # one random F0 control point per 50 ms
PHONE_PASS_HZ = (300.0, 3400.0)
PHONE_STOP_HZ = (250.0, 3600.0)
PHONE_RATE = 8000
MU = 255
CODEC_PROBE_S = 2.0
CODEC_MAX_DELAY_S = 0.25


@dataclass(frozen=True)
class WorldParams:
    semitones: float = 0.0  # F0 shift
    jitter_cents: float = 0.0  # standard deviation of the random F0 wobble
    warp: float = 1.0  # spectral envelope stretch: > 1 moves formants up (a shorter vocal tract)


@dataclass(frozen=True)
class Codec:
    encoder: str  # ffmpeg encoder
    container: str  # ffmpeg muxer and demuxer
    options: tuple[str, ...] = ()


CODECS = {"mp3": Codec("libmp3lame", "mp3"), "opus": Codec("libopus", "ogg", ("-application", "voip"))}


# -- WORLD ------------------------------------------------------------------------------------------------
def import_pyworld():
    with warnings.catch_warnings():  # pyworld 0.3.5 imports the deprecated pkg_resources for its version
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import pyworld
    return pyworld


def world_resynthesize(audio: np.ndarray, sample_rate: int, params: WorldParams,
                       rng: np.random.Generator) -> np.ndarray:
    """`audio` analysed and resynthesized by WORLD with `params`; same length, same active level."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < MIN_WORLD_SAMPLES:
        return audio.copy()
    pw = import_pyworld()
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pw.dio(x, sample_rate, frame_period=FRAME_PERIOD_MS)
    f0 = pw.stonemask(x, f0, times, sample_rate)
    envelope = pw.cheaptrick(x, f0, times, sample_rate)
    aperiodicity = pw.d4c(x, f0, times, sample_rate)
    f0 = f0 * 2 ** (params.semitones / 12) * f0_wobble(len(f0), params.jitter_cents, rng)
    envelope = warp_envelope(envelope, params.warp)
    out = pw.synthesize(np.ascontiguousarray(f0), envelope, aperiodicity, sample_rate, FRAME_PERIOD_MS)
    out = fit_length(out, len(audio))
    assert len(out) == len(audio)
    return match_level(out, audio)


def f0_wobble(n_frames: int, cents: float, rng: np.random.Generator) -> np.ndarray:
    """Per-frame F0 factors: a slow random contour (control points every 50 ms) plus a quarter as much
    frame-to-frame jitter, `cents` being the slow part's standard deviation."""
    n_points = n_frames // F0_WOBBLE_STEP_FRAMES + 2
    points = rng.standard_normal(n_points) * cents
    slow = np.interp(np.arange(n_frames) / F0_WOBBLE_STEP_FRAMES, np.arange(n_points), points)
    fast = rng.standard_normal(n_frames) * cents / 4
    return 2 ** ((slow + fast) / 1200)


def warp_envelope(envelope: np.ndarray, factor: float) -> np.ndarray:
    """Each frame's envelope resampled along frequency: bin b takes the value at b / factor (log domain)."""
    if factor == 1.0:
        return envelope
    bins = envelope.shape[1]
    source = np.minimum(np.arange(bins) / factor, bins - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, bins - 1)
    frac = source - low
    log_envelope = np.log(np.maximum(envelope, 1e-16))
    warped = log_envelope[:, low] * (1 - frac) + log_envelope[:, high] * frac
    return np.ascontiguousarray(np.exp(warped))


# -- telephone --------------------------------------------------------------------------------------------
def telephone_band(audio: np.ndarray, sample_rate: int, narrowband: bool = False,
                   mu_law: bool = False) -> np.ndarray:
    """The 300-3400 Hz telephone band (zero-phase, so nothing shifts in time), optionally sampled at
    8 kHz and quantised to 8-bit mu-law on the way."""
    from scipy.signal import sosfiltfilt

    out = np.asarray(audio, dtype=np.float64)
    if narrowband:
        out = resample(out, sample_rate, PHONE_RATE)
    if mu_law:
        out = mu_law_round_trip(out)
    if narrowband:
        out = fit_length(resample(out, PHONE_RATE, sample_rate), len(audio))
    sos = phone_filter(sample_rate)
    if len(out) > 3 * (2 * len(sos) + 1):
        out = sosfiltfilt(sos, out)
    return out.astype(np.float32)


@lru_cache(maxsize=8)
def phone_filter(sample_rate: int) -> np.ndarray:
    """An elliptic band-pass: within 0.5 dB over 300-3400 Hz, 30 dB down below 250 and above 3600 Hz
    (doubled by filtering forwards and backwards)."""
    from scipy.signal import iirdesign

    return iirdesign(PHONE_PASS_HZ, PHONE_STOP_HZ, gpass=0.5, gstop=30.0, ftype="ellip", output="sos",
                     fs=sample_rate)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    from scipy.signal import resample_poly

    common = math.gcd(rate_in, rate_out)
    return resample_poly(audio, rate_out // common, rate_in // common)


def mu_law_round_trip(audio: np.ndarray) -> np.ndarray:
    """G.711-style 8-bit mu-law: compress, round to 255 levels, expand."""
    x = np.clip(audio, -1.0, 1.0)
    compressed = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    quantised = np.round(compressed * 127) / 127
    return np.sign(quantised) * ((1 + MU) ** np.abs(quantised) - 1) / MU


# -- codecs -----------------------------------------------------------------------------------------------
def ffmpeg_path() -> str:
    from backend.audio import find_ffmpeg

    return find_ffmpeg(needed_for="the codec augmentation")


def codec_round_trip(audio: np.ndarray, sample_rate: int, codec: str, kbps: int) -> np.ndarray:
    """`audio` encoded with `codec` at `kbps` and decoded, aligned to the input and of the same length."""
    if len(audio) == 0:
        return np.zeros(0, dtype=np.float32)
    decoded = encode_decode(audio, sample_rate, codec, kbps)
    return shift_and_fit(decoded, codec_delay(sample_rate, codec, kbps), len(audio))


def encode_decode(audio: np.ndarray, sample_rate: int, codec: str, kbps: int) -> np.ndarray:
    """The decoder's raw output, encoder and decoder delay included."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    spec = CODECS[codec]
    pcm = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0).tobytes()
    raw = ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1"]
    encoded = run_ffmpeg([*raw, "-i", "pipe:0", "-c:a", spec.encoder, "-b:a", f"{kbps}k", *spec.options,
                          "-f", spec.container, "pipe:1"], pcm, f"encoding {codec} at {kbps} kbps")
    decoded = run_ffmpeg(["-f", spec.container, "-i", "pipe:0", *raw, "pipe:1"], encoded, f"decoding {codec}")
    return np.frombuffer(decoded, dtype=np.float32).copy()


def run_ffmpeg(arguments: list[str], stdin: bytes, doing: str) -> bytes:
    command = [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1", *arguments]
    done = subprocess.run(command, input=stdin, capture_output=True)
    if done.returncode != 0:
        raise ToolError(f"ffmpeg failed {doing}: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return done.stdout


@lru_cache(maxsize=64)
def codec_delay(sample_rate: int, codec: str, kbps: int) -> int:
    """Samples by which the round trip delays the audio (mp3 keeps its encoder priming, ~1105 samples at
    16 kHz, since a piped stream carries no LAME header; opus's pre-skip is removed by the decoder):
    the lag of the cross-correlation peak between a fixed probe and its round trip."""
    probe = codec_probe(sample_rate)
    return correlation_lag(probe, encode_decode(probe, sample_rate, codec, kbps),
                           int(CODEC_MAX_DELAY_S * sample_rate))


def codec_probe(sample_rate: int) -> np.ndarray:
    """Speech-like test signal: noise bursts under 3 kHz at a syllable rate, from a fixed seed."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(1234)
    n = int(CODEC_PROBE_S * sample_rate)
    noise = sosfilt(butter(4, 3000.0, fs=sample_rate, output="sos"), rng.standard_normal(n))
    bursts = np.sin(np.pi * 4.0 * np.arange(n) / sample_rate) ** 2
    return (0.3 * noise / np.std(noise) * bursts).astype(np.float32)


def correlation_lag(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> int:
    """The lag in samples (|lag| <= max_lag) at which `delayed` best matches `reference`."""
    from scipy.signal import correlate, correlation_lags

    scores = correlate(delayed.astype(np.float64), reference.astype(np.float64), mode="full", method="fft")
    lags = correlation_lags(len(delayed), len(reference), mode="full")
    allowed = np.abs(lags) <= max_lag
    return int(lags[allowed][np.argmax(scores[allowed])])


# -- drawing from AugmentOptions ---------------------------------------------------------------------------
def draw_world_params(options, rng: np.random.Generator) -> WorldParams:
    return WorldParams(semitones=float(rng.uniform(*options.world_semitones)),
                       jitter_cents=float(rng.uniform(*options.world_jitter_cents)),
                       warp=float(rng.uniform(*options.world_warp)))


def voice_effects(audio: np.ndarray, sample_rate: int, options, rng: np.random.Generator) -> np.ndarray:
    """WORLD resynthesis with probability `options.world_prob`."""
    if rng.random() < options.world_prob:
        audio = world_resynthesize(audio, sample_rate, draw_world_params(options, rng), rng)
    return audio


def channel_effects(audio: np.ndarray, sample_rate: int, options, rng: np.random.Generator) -> np.ndarray:
    """The telephone band, then a codec round trip, each with its probability in `options`."""
    if rng.random() < options.phone_prob:
        audio = telephone_band(audio, sample_rate, narrowband=bool(rng.random() < options.phone_narrowband_prob),
                               mu_law=bool(rng.random() < options.phone_mulaw_prob))
    if rng.random() < options.codec_prob:
        codec = str(rng.choice(options.codecs))
        kbps = int(rng.choice(options.mp3_kbps if codec == "mp3" else options.opus_kbps))
        audio = codec_round_trip(audio, sample_rate, codec, kbps)
    return audio


# -- shared -----------------------------------------------------------------------------------------------
def shift_and_fit(audio: np.ndarray, delay: int, length: int) -> np.ndarray:
    """Drop the first `delay` samples (or pad that many zeros when negative), then fit to `length`."""
    shifted = audio[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay, audio.dtype), audio])
    return fit_length(shifted, length)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad at the end to `length` samples (float32)."""
    out = np.zeros(length, dtype=np.float32)
    kept = min(length, len(audio))
    out[:kept] = audio[:kept]
    return out


def match_level(audio: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`audio` scaled to `reference`'s RMS."""
    level = np.sqrt(np.mean(np.square(audio, dtype=np.float64)))
    wanted = np.sqrt(np.mean(np.square(reference, dtype=np.float64)))
    return (audio * (wanted / level if level > 1e-9 else 1.0)).astype(np.float32)
