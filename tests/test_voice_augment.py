"""Voice and channel augmentation: WORLD resynthesis, codec round trips, the telephone band; each keeps
the clip's length and timing, and the same seed gives byte-identical audio."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.signal import correlate, correlation_lags, welch

from backend.errors import ToolError
from backend.text.synthesis import synthesize
from training import voice_augment as va
from training.augment import AugmentOptions, augment
from training.train_cnn_gru import Args, augment_options, run_about

SR = 16000
ALL_VOICE_EFFECTS = AugmentOptions(tempo_prob=0, pitch_prob=0, reverb_prob=0, noise_prob=0, gain_prob=0,
                                   world_prob=1, phone_prob=1, codec_prob=1)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """An espeak-ng utterance at 16 kHz (about 2.4 s)."""
    spoken = synthesize("We were away a year ago, when all was well.", "en")
    return va.resample(spoken.audio.astype(np.float64), spoken.sample_rate, SR).astype(np.float32)


def white_noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def median_f0(audio: np.ndarray) -> float:
    pw = va.import_pyworld()
    x = audio.astype(np.float64)
    f0, times = pw.dio(x, SR, frame_period=5.0)
    f0 = pw.stonemask(x, f0, times, SR)
    return float(np.median(f0[f0 > 0]))


def spectral_centroid(audio: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    return float(np.sum(power * np.fft.rfftfreq(len(audio), 1 / SR)) / np.sum(power))


def band_gain_db(before: np.ndarray, after: np.ndarray, low_hz: float, high_hz: float) -> float:
    """How much louder (dB) `after` is than `before` between the two frequencies."""
    freqs, p_before = welch(before, SR, nperseg=1024)
    _, p_after = welch(after, SR, nperseg=1024)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    return float(10 * np.log10(p_after[band].sum() / p_before[band].sum()))


def lag_samples(reference: np.ndarray, delayed: np.ndarray) -> int:
    scores = correlate(delayed.astype(np.float64), reference.astype(np.float64), mode="full", method="fft")
    return int(correlation_lags(len(delayed), len(reference), mode="full")[np.argmax(scores)])


def envelope_lag_samples(reference: np.ndarray, delayed: np.ndarray, hop: int = 16) -> int:
    """The lag of the loudness envelopes (1 ms frames): a pitch-shifted waveform no longer correlates
    sample by sample, but its syllables still sit where they were."""
    def envelope(x):
        frames = np.abs(x[: len(x) // hop * hop]).reshape(-1, hop).mean(axis=1)
        return frames - frames.mean()

    return lag_samples(envelope(reference), envelope(delayed)) * hop


def test_world_shift_raises_f0_and_keeps_length(speech):
    shifted = va.world_resynthesize(speech, SR, va.WorldParams(semitones=4.0), np.random.default_rng(0))
    assert len(shifted) == len(speech) and shifted.dtype == np.float32
    assert median_f0(shifted) / median_f0(speech) == pytest.approx(2 ** (4 / 12), rel=0.05)  # +26 %
    # within 7.5 ms, under a 100 fps label frame: the envelope of pitch-shifted speech can read up to about
    # half a pitch period off (80 samples seen), and espeak-ng's speech varies a little run to run
    assert envelope_lag_samples(speech, shifted) == pytest.approx(0, abs=120)


def test_world_envelope_warp_moves_the_spectrum(speech):
    rng = np.random.default_rng(0)
    centroids = {k: spectral_centroid(va.world_resynthesize(speech, SR, va.WorldParams(warp=k), rng))
                 for k in (0.85, 1.0, 1.18)}
    assert centroids[0.85] < 0.95 * centroids[1.0] and centroids[1.18] > 1.05 * centroids[1.0]
    wobbled = va.world_resynthesize(speech, SR, va.WorldParams(jitter_cents=30.0), rng)
    assert median_f0(wobbled) / median_f0(speech) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("codec,kbps", [("mp3", 16), ("opus", 8)])
def test_codec_round_trip_is_aligned(speech, codec, kbps):
    out = va.codec_round_trip(speech, SR, codec, kbps)
    assert len(out) == len(speech) and out.dtype == np.float32
    assert abs(lag_samples(speech, out)) <= SR // 1000  # within 1 ms
    assert np.corrcoef(speech, out)[0, 1] > 0.8


def test_low_bitrate_mp3_loses_high_frequencies():
    noise = white_noise()
    out = va.codec_round_trip(noise, SR, "mp3", 16)
    assert band_gain_db(noise, out, 6000, 8000) < -20
    assert band_gain_db(noise, out, 300, 2000) > -3


@pytest.mark.parametrize("narrowband,mu_law", [(False, False), (True, True)])
def test_telephone_band(narrowband, mu_law):
    noise = white_noise()
    out = va.telephone_band(noise, SR, narrowband=narrowband, mu_law=mu_law)
    assert len(out) == len(noise) and out.dtype == np.float32
    in_band = band_gain_db(noise, out, 500, 3000)
    assert abs(in_band) < 1.5
    assert band_gain_db(noise, out, 20, 250) < in_band - 20
    assert band_gain_db(noise, out, 3600, 8000) < in_band - 20


def test_mu_law_has_255_levels():
    levels = np.unique(va.mu_law_round_trip(np.linspace(-1, 1, 100_000)))
    assert len(levels) == 255 and 0.0 in levels and levels.max() == pytest.approx(1.0)


def test_each_effect_is_deterministic(speech):
    world = va.WorldParams(semitones=2.0, jitter_cents=20.0, warp=1.1)
    runs = [va.world_resynthesize(speech, SR, world, np.random.default_rng(seed)) for seed in (5, 5, 6)]
    assert runs[0].tobytes() == runs[1].tobytes() and runs[0].tobytes() != runs[2].tobytes()
    for effect in (lambda: va.telephone_band(speech, SR, True, True),
                   lambda: va.codec_round_trip(speech, SR, "mp3", 24),
                   lambda: va.codec_round_trip(speech, SR, "opus", 12)):
        assert effect().tobytes() == effect().tobytes()


def test_augment_is_deterministic_per_seed(speech):
    def item(seed: int, epoch: int, index: int) -> bytes:
        return augment(speech, SR, ALL_VOICE_EFFECTS, np.random.default_rng([seed, epoch, index])).audio.tobytes()

    assert item(0, 1, 2) == item(0, 1, 2)
    assert item(0, 1, 2) != item(1, 1, 2) and item(0, 1, 2) != item(0, 1, 3)
    full = AugmentOptions(tempo_prob=1, pitch_prob=1, reverb_prob=1, noise_prob=1, gain_prob=1,
                          world_prob=1, phone_prob=1, codec_prob=1)
    a, b = (augment(speech, SR, full, np.random.default_rng([3, 0, 7])) for _ in range(2))
    assert a.audio.tobytes() == b.audio.tobytes() and a.time_scale == b.time_scale


def test_voice_effects_leave_the_other_draws_alone(speech):
    plain = AugmentOptions(tempo_prob=1, pitch_prob=0, reverb_prob=0, noise_prob=0, gain_prob=1,
                           world_prob=0, phone_prob=0, codec_prob=0)
    voiced = dataclasses.replace(plain, world_prob=1, phone_prob=1)
    a = augment(speech, SR, plain, np.random.default_rng(4))
    b = augment(speech, SR, voiced, np.random.default_rng(4))
    assert a.time_scale == b.time_scale and len(a.audio) == len(b.audio)
    assert not np.array_equal(a.audio, b.audio)


def test_missing_ffmpeg_fails_at_construction(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolError, match="ffmpeg"):
        AugmentOptions()
    AugmentOptions(codec_prob=0)  # nothing else needs it
    with pytest.raises(ValueError, match="codec"):
        AugmentOptions(codec_prob=0, codecs=("aac",))


def test_run_config_records_the_augmentation():
    class Split(list):
        augment_options = augment_options(Args(data="corpus", out="run"))

    about = run_about(Args(data="corpus", out="run"), ["--data", "corpus"], Split([1, 2]), [1])
    recorded = json.loads(json.dumps(about))["augment"]
    assert recorded["world_prob"] == 0.3 and recorded["codec_prob"] == 0.15 and recorded["phone_prob"] == 0.1
    assert recorded["codecs"] == ["mp3", "opus"] and recorded["world_warp"] == [0.85, 1.18]
    quiet = augment_options(Args(data="corpus", out="run", voice_augment=False))
    assert quiet.world_prob == quiet.codec_prob == quiet.phone_prob == 0
    assert augment_options(Args(data="corpus", out="run", augment=False)) is None
