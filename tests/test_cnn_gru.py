"""The CNN+GRU family: features, variants, the numpy runtime against torch, and `mouthpiece animate`."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from backend import checkpoints
from backend.animation import load_json
from backend.checkpoints import Checkpoint
from backend.features import N_BINS, N_STEPS, frame_count, spectrogram_windows
from backend.rig import FACEWAREHOUSE_46
from backend.runtime.cnn_gru import CnnGruRuntime
from training.families.cnn_gru import VARIANTS, CnnGru, CnnGruConfig

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(freq_channels=(4, 8, 8, 8, 8), time_channels=(8, 8, 8, 8), hidden=24, static_hidden=32)


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts and vowel-like harmonics at 16 kHz, so every layer sees varied input."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 3.1 * t), 0, None)
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    return (0.2 * envelope * voiced + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def random_model(variant: str, seed: int = 0, delay_frames: int = 0) -> CnnGru:
    torch.manual_seed(seed)
    model = CnnGru(CnnGruConfig(variant=variant, delay_frames=delay_frames, **SMALL)).eval()
    with torch.no_grad():
        windows = torch.from_numpy(spectrogram_windows(speech_like(2.0, seed), 16000, 30.0))[:, None]
        model.input_mean.copy_(windows.mean(dim=(0, 1, 3)))
        model.input_std.copy_(windows.std(dim=(0, 1, 3)))
        model.head.bias.normal_(0, 1)
    return model


def export(model: CnnGru, stem: Path) -> Path:
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    record = {"family": "cnn-gru", "model": dataclasses.asdict(model.config)}
    checkpoints.save(stem, Checkpoint(tensors, "cnn-gru", record, step=1))
    return stem


def test_spectrogram_windows_shape_and_causality():
    audio = speech_like(2.0)
    windows = spectrogram_windows(audio, 16000, 30.0)
    assert windows.shape == (frame_count(len(audio), 16000, 30.0), N_BINS, N_STEPS) == (60, 128, 32)
    assert windows.dtype == np.float32
    changed = audio.copy()
    changed[16000:] = 0.0  # silence everything after t = 1 s
    after = spectrogram_windows(changed, 16000, 30.0)
    np.testing.assert_array_equal(after[:31], windows[:31])  # frames up to t = 1 s heard nothing new
    assert not np.allclose(after[32:], windows[32:])


def test_a_tone_lands_in_its_frequency_bin():
    t = np.arange(16000) / 16000
    windows = spectrogram_windows(0.5 * np.sin(2 * np.pi * 1000 * t).astype(np.float32), 16000, 30.0)
    assert int(windows[20, :, -1].argmax()) == 16  # 1000 Hz / 62.5 Hz per bin


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_outputs_46_weights_per_frame(variant):
    model = random_model(variant)
    windows = torch.randn(2, 7, 1, 128, 32)
    with torch.no_grad():
        weights, state = model(windows)
    assert weights.shape == (2, 7, 46)
    assert float(weights.min()) >= 0.0 and float(weights.max()) <= 1.0
    assert (state is None) == (variant == "static")


@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_runtime_matches_torch(variant, tmp_path):
    model = random_model(variant, seed=1)
    audio = speech_like(3.0, seed=2)
    windows = spectrogram_windows(audio, 16000, 30.0)
    with torch.no_grad():
        expected = model(torch.from_numpy(windows)[None, :, None])[0][0].numpy()
    runtime = CnnGruRuntime.from_checkpoint(export(model, tmp_path / "model"))
    from_windows = runtime.predict_windows(windows)
    from_audio = runtime.predict_audio(audio, 16000)
    assert expected.std() > 1e-3  # the outputs vary, so agreement means something
    np.testing.assert_allclose(from_windows, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(from_audio, expected, atol=1e-4, rtol=0)


def test_runtime_undoes_the_lookahead_delay(tmp_path):
    model = random_model("gru", seed=4, delay_frames=3)
    audio = speech_like(2.0, seed=5)
    windows = spectrogram_windows(audio, 16000, 30.0, n_frames=60 + 3)  # 3 frames past the end
    with torch.no_grad():
        expected = model(torch.from_numpy(windows)[None, :, None])[0][0, 3:].numpy()
    runtime = CnnGruRuntime.from_checkpoint(export(model, tmp_path / "model"))
    predicted = runtime.predict_audio(audio, 16000)
    assert predicted.shape == (60, 46)
    np.testing.assert_allclose(predicted, expected, atol=1e-4, rtol=0)


def test_causal_model_output_does_not_depend_on_future_audio(tmp_path):
    runtime = CnnGruRuntime.from_checkpoint(export(random_model("gru", seed=3), tmp_path / "model"))
    audio = speech_like(2.0)
    cut = audio.copy()
    cut[16000:] = 0.0
    np.testing.assert_allclose(runtime.predict_audio(cut)[:31], runtime.predict_audio(audio)[:31], atol=1e-6)


def animate(wav: Path, out: Path, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "backend.cli", "animate", "--audio", str(wav), "--model", "cnn-gru",
               "--fps", "24", "--no-blinks", "--out", str(out)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)


def check_animation(path: Path, seconds: float) -> None:
    anim = load_json(path)
    assert anim.kind == "blendshape" and anim.channels == list(FACEWAREHOUSE_46) and anim.fps == 24.0
    assert abs(anim.n_frames - seconds * 24) <= 1
    assert anim.values.min() >= 0.0 and anim.values.max() <= 1.0
    assert anim.meta["model"] == "cnn-gru"


def test_animate_cli_with_an_exported_checkpoint(tmp_path, monkeypatch):
    import os

    import soundfile

    wav = tmp_path / "line.wav"
    soundfile.write(wav, speech_like(1.5), 16000)
    stem = export(random_model("gru"), tmp_path / "ck" / "model")
    result = animate(wav, tmp_path / "out.json", {**os.environ, "MOUTHPIECE_CNN_GRU": str(stem)})
    assert result.returncode == 0, result.stderr
    check_animation(tmp_path / "out.json", 1.5)


def test_default_checkpoint_animates_speech(tmp_path):
    import os

    import soundfile

    from backend.models.cnn_gru import candidate_stems

    default = REPO / "assets" / "models" / "cnn_gru" / "model"
    if not checkpoints.paths(default)[1].is_file():
        pytest.skip(f"no default checkpoint at {default}.json yet")
    assert candidate_stems()[0] == default
    wav = tmp_path / "line.wav"
    soundfile.write(wav, speech_like(2.0), 16000)
    env = {k: v for k, v in os.environ.items() if k != "MOUTHPIECE_CNN_GRU"}
    result = animate(wav, tmp_path / "out.json", env)
    assert result.returncode == 0, result.stderr
    check_animation(tmp_path / "out.json", 2.0)


def test_availability_names_the_missing_checkpoint(tmp_path, monkeypatch):
    from backend.models.cnn_gru import load

    monkeypatch.setenv("MOUTHPIECE_CNN_GRU", str(tmp_path / "nothing"))
    usable, why = load().availability()
    assert not usable and str(tmp_path / "nothing.json") in why


def test_sync_score_counts_closures_and_open_vowels():
    from training.eval_metrics import sync_counts

    fps = 30.0
    gap = np.full(60, 0.5)
    gap[10:13] = 0.02  # closed around 0.33-0.43 s
    gap[40:45] = 1.0  # wide open around 1.33-1.5 s
    phones = [("M", 0.38, 0.45), ("B", 0.9, 1.0), ("AA", 1.3, 1.55), ("AE", 0.5, 0.8), ("S", 0.0, 0.3)]
    counts = sync_counts(gap, fps, phones)
    assert (counts.bilabials, counts.closed, counts.vowels, counts.opened) == (2, 1, 2, 2)
    assert counts.score == 0.5 * (0.5 + 1.0)
    lazy = sync_counts(np.zeros(60), fps, phones)
    assert lazy.score == 0.5  # a closed mouth closes every bilabial and opens no vowel


def test_lip_gap_loss_measures_the_default_heads_inner_lips():
    from backend import headmodel
    from training.families.cnn_gru import gap_loss, lip_gap, speech_closures

    weights = np.random.default_rng(3).uniform(0, 0.6, (1, 8, 46)).astype(np.float32)
    expected = headmodel.inner_lip_gap(headmodel.load().landmarks(weights[0]))
    np.testing.assert_allclose(lip_gap(torch.from_numpy(weights))[0].numpy(), expected, rtol=1e-4, atol=1e-7)
    mask = torch.ones(1, 8)
    target = torch.from_numpy(weights)
    assert float(gap_loss(target, target, mask, 4.0, 30.0)) == 0.0
    assert float(gap_loss(target * 0.5, target, mask, 4.0, 30.0)) > 0.0
    gap = torch.tensor([[0.001] * 10 + [0.008] * 5 + [0.001] * 3 + [0.008] * 5 + [0.001] * 12])
    closed_in_speech = speech_closures(gap, 30.0)[0]
    assert closed_in_speech[15:18].tolist() == [1.0, 1.0, 1.0] and closed_in_speech[:5].sum() == 0
    assert closed_in_speech[-5:].sum() == 0
