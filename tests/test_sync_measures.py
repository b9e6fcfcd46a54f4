"""Sync measures on hand-made embeddings, and Wav2Lip's log-mel against librosa's equivalent computation."""
from __future__ import annotations

import numpy as np
import pytest

from backend import sync_measures as sm
from backend import wav2lip_mel


def embeddings(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Unit rows that change smoothly over a few frames, like a talking mouth's."""
    rng = np.random.default_rng(seed)
    raw = np.abs(rng.standard_normal((n + 4, size)))
    smooth = (raw[:-4] + raw[1:-3] + raw[2:-2]) / 3
    return smooth / np.linalg.norm(smooth, axis=1, keepdims=True)


def late_audio(video: np.ndarray, k: int, seed: int = 1) -> np.ndarray:
    """Audio rows that show what video row i shows at row i + k (audio k frames late)."""
    filler = embeddings(abs(k), video.shape[1], seed) if k else np.empty((0, video.shape[1]))
    return np.concatenate([filler, video[:len(video) - k]]) if k >= 0 else np.concatenate([video[-k:], filler])


@pytest.mark.parametrize("k", [-7, -3, 0, 2, 5, 12])
def test_a_shifted_copy_gives_its_offset_with_the_sign_of_late_audio(k):
    video = embeddings(200)
    audio = late_audio(video, k)
    means = sm.offset_distances(video, audio, max_shift=15)
    assert means.shape == (31,)
    assert sm.offsets(15)[int(np.argmin(means))] == k
    result = sm.lse(video, audio, 15)
    assert result.offset == k and result.distance == pytest.approx(0.0, abs=1e-9)
    assert result.confidence > 0.3


def test_identical_embeddings_are_at_distance_zero_and_score_the_expert_floor():
    video = embeddings(60)
    assert sm.offset_distances(video, video, 3)[3] == pytest.approx(0.0, abs=1e-12)
    distance, confidence, offset = sm.lse(video, video * 3.0, 3)  # scale does not matter: rows are normalised
    assert (distance, offset) == (pytest.approx(0.0, abs=1e-9), 0) and confidence > 0
    assert sm.expert_bce(video, video) == pytest.approx(0.0, abs=1e-9)


def test_random_embeddings_give_low_confidence():
    rng = np.random.default_rng(3)
    video, audio = rng.standard_normal((300, 64)), rng.standard_normal((300, 64))
    random = sm.lse(video, audio, 15)
    synced = sm.lse(video, video + 0.3 * rng.standard_normal((300, 64)) / 8, 15)
    assert random.confidence < 0.05 < 0.5 < synced.confidence
    assert random.distance == pytest.approx(np.sqrt(2), abs=0.05)  # orthogonal on average


def test_distances_are_euclidean_between_unit_rows():
    video = np.array([[1.0, 0.0], [0.0, 2.0]])
    audio = np.array([[0.0, 5.0], [1.0, 1.0]])
    means = sm.offset_distances(video, audio, max_shift=1)
    # offset -1: V[1]-A[0]; 0: V[0]-A[0], V[1]-A[1]; +1: V[0]-A[1]
    assert means[0] == pytest.approx(0.0)
    assert means[1] == pytest.approx((np.sqrt(2) + np.sqrt(2 - np.sqrt(2))) / 2)
    assert means[2] == pytest.approx(np.sqrt(2 - np.sqrt(2)))


def test_expert_bce_samples_every_fifth_window_and_clips_d():
    video = np.tile([[1.0, 0.0]], (11, 1))
    audio = video.copy()
    audio[[0, 5, 10]] = [[0.0, 1.0]]  # orthogonal exactly where the measure looks: d = 0 -> clipped to 1e-3
    assert sm.expert_bce(video, audio, step=5) == pytest.approx(-np.log(1e-3))
    audio = video.copy()
    audio[[1, 2, 3]] = [[0.0, 1.0]]  # off the sampled windows: unseen
    assert sm.expert_bce(video, audio, step=5) == pytest.approx(0.0, abs=1e-12)
    half = np.array([[np.cos(np.pi / 3), np.sin(np.pi / 3)]])
    assert sm.expert_bce(video[:1], half) == pytest.approx(-np.log(0.5))


def test_confidence_curve_drops_where_the_sync_is_lost():
    fps = 25.0
    video = embeddings(250)
    audio = late_audio(video, 2)
    rng = np.random.default_rng(9)
    audio[125:] = embeddings(125, seed=5)[rng.permutation(125)]  # seconds 5-10: unrelated audio
    curve = sm.confidence_curve(video, audio, fps, window_s=1.0, max_shift=15)
    assert np.allclose(curve.start_s, np.arange(10.0))
    assert np.all(curve.offset[:4] == 2)
    assert curve.confidence[:4].min() > 3 * np.nanmax(curve.confidence[6:])


def test_too_few_rows_are_refused_in_one_line():
    with pytest.raises(ValueError, match="no video row"):
        sm.lse(np.zeros((0, 4)), np.ones((3, 4)))


def wav2lip_reference(audio: np.ndarray) -> np.ndarray:
    """Wav2Lip's audio.melspectrogram written with librosa and scipy (its pinned librosa reflect-padded)."""
    import librosa
    import scipy.signal

    emphasised = scipy.signal.lfilter([1, -0.97], [1], audio)
    spectrum = np.abs(librosa.stft(y=emphasised, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600) @ spectrum
    decibels = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    return np.clip(8 * (decibels + 100) / 100 - 4, -4, 4)


def test_log_mel_matches_wav2lips_librosa_computation():
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 2 + 123) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
             + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
    audio[8000:12000] = 0.0  # silence: the -100 dB floor and the clip at -4
    mel = wav2lip_mel.log_mel(audio)
    assert mel.shape == (80, 1 + len(audio) // 200) and mel.dtype == np.float32
    np.testing.assert_allclose(mel, wav2lip_reference(audio), atol=1e-4)
    assert mel.min() == -4.0 and mel.max() <= 4.0


def test_mel_windows_start_at_int_80_frame_over_fps_and_repeat_the_edge():
    mel = np.arange(80 * 50, dtype=np.float32).reshape(80, 50)
    assert [wav2lip_mel.window_start(i) for i in range(6)] == [0, 3, 6, 9, 12, 16]
    windows = wav2lip_mel.mel_windows(mel, 14, fps=25.0)
    assert windows.shape == (14, 80, 16)
    np.testing.assert_array_equal(windows[5], mel[:, 16:32])
    np.testing.assert_array_equal(wav2lip_mel.mel_window(mel, 5), mel[:, 16:32])
    np.testing.assert_array_equal(windows[13][:, :9], mel[:, 41:50])  # start 41: 9 real columns
    np.testing.assert_array_equal(windows[13][:, 9:], np.repeat(mel[:, 49:], 7, axis=1))
    assert wav2lip_mel.full_windows(50, 14) == 11  # starts 0..32 fit (frame 10 starts at 32)
    assert wav2lip_mel.mel_windows(np.zeros((80, 0)), 2).min() == -4.0


@pytest.mark.parametrize("k", [-5, 0, 3])
def test_video_rows_every_other_frame_keep_every_offset(k):
    video = embeddings(300)
    audio = late_audio(video, k)
    full = sm.offset_distances(video, audio, 15)
    halved = sm.offset_distances(video[::2], audio, 15, video_step=2)
    assert np.isfinite(halved).all() and sm.offsets(15)[int(np.argmin(halved))] == k
    np.testing.assert_allclose(halved, full, atol=0.05)  # the same means, from half the pairs
    assert sm.lse(video[::2], audio, 15, video_step=2).offset == k
    curve = sm.confidence_curve(video[::2], audio, 25.0, 1.0, 15, video_step=2)
    assert len(curve.start_s) == 12 and curve.start_s[1] == 1.0 and curve.offset[0] == k
