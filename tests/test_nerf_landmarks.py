"""The NeRF landmark side: blink labels in the corpus, the model's shapes, training that resumes exactly,
the numpy runtime against torch, and `mouthpiece animate --model nerf-landmarks` with blink channels."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from backend.phones import Phone, PhoneTimeline
from tiny_corpus import write_tiny_corpus
from training.corpus.blinks import blink_onsets, blink_seed, onset_frames, silence_mask

SMALL = ["--layers", "1", "--d-model", "32", "--ffn", "64", "--heads", "2", "--blink-hidden", "8"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("tiny"), per_voice=2)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from training.corpus.cli import main as corpus_main

    root = tmp_path_factory.mktemp("corpus")
    assert corpus_main(["--out", str(root), "--minutes", "1.0", "--languages", "en",
                        "--voices", "espeak:en-us,flite:slt", "--workers", "1", "--quiet"]) == 0
    return root


def train(corpus, out, steps, *extra) -> int:
    from training.cli import main

    return main(["nerf-landmarks", "--data", str(corpus), "--out", str(out), "--steps", str(steps),
                 "--batch-size", "2", "--eval-every", "1", "--val-items", "2", "--threads", "1", *SMALL, *extra])


def test_built_corpus_blinks_at_a_plausible_rate_through_the_head(built):
    from backend import headmodel

    records = [json.loads(line) for line in (built / "manifest.jsonl").read_text().splitlines()]
    config = json.loads((built / "corpus.json").read_text())
    assert config["blinks"] is True
    head = headmodel.load()
    left, right = head.channels.index("EyeBlink_L"), head.channels.index("EyeBlink_R")
    blinks, seconds, lengths = 0, 0.0, []
    for record in records:
        with np.load(built / record["labels"]) as labels:
            blink, weights, landmarks = labels["blink"], labels["weights"], labels["landmarks3d"]
            assert int(labels["blink_seed"]) >= 0 and blink.shape == (len(weights),)
        assert 0.0 <= blink.min() and blink.max() <= 1.0
        assert np.all(weights[:, left] >= blink) and np.all(weights[:, right] >= blink)
        np.testing.assert_allclose(landmarks, head.landmarks(weights), atol=1e-6)  # the eyes follow
        shut = np.flatnonzero(onset_frames(blink, 0.01))
        blinks += len(shut)
        seconds += record["duration_s"]
        lengths += [np.argmax(blink[s:] < 0.01) / 100.0 for s in shut if (blink[s:] < 0.01).any()]
    per_minute = blinks / seconds * 60.0
    assert 6.0 <= per_minute <= 35.0, per_minute
    assert lengths and 0.08 <= min(lengths) and max(lengths) <= 0.41


def test_blinks_gather_at_pauses_and_repeat_from_their_seed():
    phones, t = [], 0.35
    while t < 120.0:
        phones += [Phone("AA", t, t + 1.5), Phone("SIL", t + 1.5, t + 1.8)]
        t += 1.8
    timeline = PhoneTimeline(tuple(phones))
    starts = np.array([s for s, _ in blink_onsets(timeline, 120.0, blink_seed(4))])
    silent_time = silence_mask(timeline, np.arange(0, 120.0, 0.01)).mean()
    assert silence_mask(timeline, starts).mean() > 2 * silent_time  # pauses get more than their share
    assert 15 <= len(starts) / 2 <= 35  # a minute with 17% pauses
    assert blink_onsets(timeline, 120.0, blink_seed(4)) == blink_onsets(timeline, 120.0, blink_seed(4))


def test_old_corpus_reads_as_never_blinking_and_view_shapes(tiny):
    from training.dataset import CorpusDataset

    item = CorpusDataset(tiny, "train", "nerf_landmarks", fps=25.0)[0]
    n = item["x"].shape[0]
    assert n == 50 and item["x"].shape == (n, 16, 80) and item["offsets"].shape == (n, 68, 3)
    assert not item["blink"].any() and not item["onset"].any()
    assert item["since_blink"][0] == pytest.approx(2.0) and item["since_blink"][-1] == pytest.approx(2.0 + 49 / 25)


def test_transformer_and_blink_model_shapes():
    from training.families.nerf_landmarks import NerfLandmarks, NerfLandmarksConfig, batch_loss

    model = NerfLandmarks(NerfLandmarksConfig())
    smoothed = model.smooth(model.audio_features(torch.randn(2, 40, 16, 80)), torch.tensor([40, 30]))
    assert smoothed.shape == (2, 40, 32)
    z, mu, logvar, reconstruction = model.vae(smoothed)
    assert z.shape == mu.shape == logvar.shape == (2, 40, 16) and reconstruction.shape == (2, 40, 32)
    offsets = model.landmark_offsets(z[:, :32], smoothed[:, :32], torch.rand(2, 32))
    assert offsets.shape == (2, 32, 68, 3)
    assert model.blink_logits(smoothed, torch.rand(2, 40)).shape == (2, 40)
    batch = {"x": torch.randn(2, 40, 16, 80), "x_length": torch.tensor([40, 20]), "offsets": torch.randn(2, 40, 68, 3),
             "blink": torch.rand(2, 40), "onset": torch.zeros(2, 40), "since_blink": torch.rand(2, 40)}
    loss, metrics = batch_loss(model, batch)
    loss.backward()
    assert metrics["frames"] == 32 + 20 and np.isfinite(float(loss))
    assert model.input.weight.grad is not None and model.blink_gru.weight_ih_l0.grad is not None


def test_training_resumes_bit_identically_after_a_kill(tiny, tmp_path):
    from backend import checkpoints

    assert train(tiny, tmp_path / "whole", 3) == 0
    shutil.copytree(tmp_path / "whole", tmp_path / "parts")  # then lose what came after step 2, as in a kill
    for path in [*(tmp_path / "parts" / "checkpoints").glob("*0000003.*"), *(tmp_path / "parts").glob("model.*")]:
        path.unlink()
    assert train(tiny, tmp_path / "parts", 3) == 0
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000003")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000003")
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name
    rows = (tmp_path / "whole" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch") and len(rows) == 4
    assert whole.config["model"]["beta"] == 0.5 and whole.config["family"] == "nerf-landmarks"


def test_training_refuses_a_folder_that_is_no_corpus(tmp_path, capsys):
    assert train(tmp_path, tmp_path / "run", 1) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a corpus" in err[0]


@pytest.fixture(scope="module")
def tiny_run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert train(tiny, out, 2) == 0
    return out / "model"


def torch_model(stem):
    from backend import checkpoints
    from training.families.nerf_landmarks import NerfLandmarks, NerfLandmarksConfig

    saved = checkpoints.load(stem)
    model = NerfLandmarks(NerfLandmarksConfig.from_dict(saved.config["model"]))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in saved.tensors.items()})
    return model.eval()


def test_numpy_runtime_matches_torch(tiny_run):
    from backend.runtime import nerf_landmarks as rt

    runtime, model = rt.NerfLandmarksRuntime.from_checkpoint(tiny_run), torch_model(tiny_run)
    audio = (0.1 * np.random.default_rng(0).standard_normal(16000 * 3)).astype(np.float32)
    windows = rt.mel_windows(audio, runtime.spec)
    frames, size = len(windows), runtime.spec.window_frames
    smoothed = runtime.smooth(runtime.audio_features(windows))
    blink, onsets = runtime.sample_blinks(smoothed, seed=3)
    mu = runtime.latent_mean(smoothed)
    with torch.no_grad():
        smoothed_t = model.smooth(model.audio_features(torch.from_numpy(windows)[None]), torch.tensor([frames]))[0]
        mu_t = model.vae(smoothed_t[None])[1][0]
        since = torch.from_numpy(rt.since_blink(onsets, runtime.spec.fps))[None]
        hazards_t = torch.sigmoid(model.blink_logits(smoothed_t[None], since))[0]
        starts = rt.window_plan(frames, size)
        outputs = [model.landmark_offsets(mu_t[None, s:s + size], smoothed_t[None, s:s + size],
                                          torch.from_numpy(blink)[None, s:s + size])[0].reshape(-1, 204).numpy()
                   for s in starts]
    np.testing.assert_allclose(smoothed, smoothed_t.numpy(), atol=1e-4)
    np.testing.assert_allclose(mu, mu_t.numpy(), atol=1e-4)
    np.testing.assert_allclose(runtime.blink_hazards(smoothed, onsets), hazards_t.numpy(), atol=1e-4)
    assert len(starts) > 1  # overlapping windows blended
    expected = rt.blend_windows(outputs, starts, frames).reshape(-1, 68, 3)
    np.testing.assert_allclose(runtime.offsets_mm(smoothed, mu, blink), expected, atol=1e-4)


def test_animate_gives_landmarks_with_blink_channels(tiny_run, tone_wav, tmp_path, monkeypatch):
    from backend.animation import load_json
    from backend.cli import main
    from backend.models.nerf_landmarks import CHANNELS

    monkeypatch.setenv("MOUTHPIECE_NERF_LANDMARKS", str(tiny_run))
    out = tmp_path / "a.json"
    assert main(["animate", "--audio", str(tone_wav), "--model", "nerf-landmarks", "--fps", "25", "--seed", "2",
                 "--quiet", "--out", str(out)]) == 0
    anim = load_json(out)
    assert anim.kind == "landmarks" and anim.channels == CHANNELS and anim.fps == 25.0 and anim.n_frames == 25
    assert anim.channels[-2:] == ["EyeBlink_L", "EyeBlink_R"] and anim.meta["blinks"] == "model"
    blink = anim.channel("EyeBlink_L")
    assert np.array_equal(blink, anim.channel("EyeBlink_R")) and 0.0 <= blink.min() and blink.max() <= 1.0
    assert np.abs(anim.values[:, :204]).max() < 0.05  # metres
    again = tmp_path / "b.json"
    assert main(["animate", "--audio", str(tone_wav), "--model", "nerf-landmarks", "--fps", "25", "--seed", "2",
                 "--quiet", "--out", str(again)]) == 0
    assert out.read_bytes() == again.read_bytes()


def test_landmark_animation_splits_off_its_blink_channels():
    from backend.animation import Animation, split_weight_channels

    values = np.arange(8, dtype=np.float32).reshape(2, 4)
    anim = Animation(25.0, ["lm00_x", "EyeBlink_L", "lm00_y", "EyeBlink_R"], values, kind="landmarks")
    landmarks, names, direct = split_weight_channels(anim)
    assert landmarks.channels == ["lm00_x", "lm00_y"] and names == ["EyeBlink_L", "EyeBlink_R"]
    np.testing.assert_array_equal(landmarks.values, values[:, [0, 2]])
    np.testing.assert_array_equal(direct, values[:, [1, 3]])


def test_corpora_from_before_blinks_resume_only_without_them(tmp_path):
    from backend.articulation import ArticulationStyle
    from backend.errors import InputError
    from training.corpus.build import check_config
    from training.corpus.labels import blink_labels, make_labels

    (tmp_path / "corpus.json").write_text(json.dumps({"seed": 0, "languages": ["en"], "voices": ["espeak:en"],
                                                      "render": False, "label_fps": 100.0}))
    config = {"seed": 0, "languages": ["en"], "voices": ["espeak:en"], "render": False, "label_fps": 100.0}
    check_config(tmp_path, config | {"blinks": False})
    with pytest.raises(InputError, match="blinks=False, not True"):
        check_config(tmp_path, config | {"blinks": True})
    timeline = PhoneTimeline((Phone("SIL", 0.0, 0.3), Phone("AA", 0.3, 9.0), Phone("SIL", 9.0, 10.0)))
    plain = make_labels(timeline, 10.0, ArticulationStyle(seed=5), blinks=False)
    assert "blink" not in plain and not blink_labels(plain).any() and len(blink_labels(plain)) == 1000
    blinking = make_labels(timeline, 10.0, ArticulationStyle(seed=5))
    assert blinking["blink"].max() == 1.0 and np.array_equal(blinking["phones"], plain["phones"])


class CountingBlinker:
    """A stand-in runtime whose drawn blink rate is 2.5 * sigmoid(bias) a second, whatever the seed."""

    class spec:
        fps = 25.0

    def sample_blinks(self, smoothed, seed, bias):
        onsets = np.zeros(len(smoothed), np.float32)
        onsets[:int(round(len(smoothed) * 0.1 / (1 + np.exp(-bias))))] = 1.0
        return onsets, onsets


def test_blink_calibration_finds_the_bias_of_the_labels_rate():
    from training.blink_calibration import calibrate_bias, drawn_rate

    clips = [np.zeros((500, 4)), np.zeros((250, 4))]
    for target in (0.05, 0.3, 1.0):
        bias = calibrate_bias(CountingBlinker(), clips, target)
        assert drawn_rate(CountingBlinker(), clips, bias) == pytest.approx(target, abs=0.05)
        assert 2.5 / (1 + np.exp(-bias)) == pytest.approx(target, rel=0.1)


def test_training_calibrates_the_drawn_blinks_to_the_labels(tiny, built, tmp_path):
    from backend import checkpoints
    from backend.runtime.nerf_landmarks import NerfLandmarksRuntime

    assert train(f"{built},{tiny}", tmp_path / "run", 2) == 0  # the tiny corpus gives the val split
    saved = checkpoints.load(tmp_path / "run" / "model")
    calibration = saved.config["about"]["blink_calibration"]
    assert saved.config["model"]["blink_bias"] == calibration["blink_bias"] != 0.0
    assert calibration["calibrated_per_10s"] == pytest.approx(calibration["labels_per_10s"], rel=0.2, abs=0.3)
    assert NerfLandmarksRuntime.from_checkpoint(tmp_path / "run" / "model").spec.blink_bias == calibration["blink_bias"]
