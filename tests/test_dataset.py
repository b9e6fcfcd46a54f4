"""CorpusDataset: every feature view with its documented shapes, values that match the stored labels,
augmentation, cropping, and the padding collate."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from backend.errors import InputError
from backend.features import spectrogram_windows
from training.augment import AugmentOptions, add_noise, augment, colored_noise, room_impulse
from training.corpus.cli import main as corpus_main
from training.corpus.labels import load_labels
from training.dataset import TEXT_VOCABULARY, CorpusDataset, collate, encode_text

FPS = 30.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    assert corpus_main(["--out", str(root), "--minutes", "0.5", "--languages", "en,es", "--voices",
                        "espeak:en-us,espeak:en-gb-x-rp+f3,espeak:en-us+f4,espeak:es,espeak:es-419",
                        "--workers", "1", "--quiet"]) == 0
    return root


def frames_at(duration_s: float, fps: float) -> int:
    return max(1, int(round(duration_s * fps)))


def test_spectrogram_view_shapes_and_values(corpus):
    data = CorpusDataset(corpus, "train", "spectrogram", fps=FPS)
    record = data.records[0]
    item = data[0]
    n = frames_at(record["duration_s"], FPS)
    assert item["x"].shape == (n, 1, 128, 32) and item["x"].dtype == torch.float32
    assert item["y"].shape == (n, 46)
    audio, _ = soundfile.read(corpus / record["audio"], dtype="float32")
    assert np.allclose(item["x"][:, 0].numpy(), spectrogram_windows(audio, 16000, FPS))
    weights = load_labels(corpus / record["labels"])["weights"]
    assert np.allclose(item["y"][3].numpy(), weights[10], atol=1e-6)  # frame 3 at 30 fps = label 10 at 100 fps


def test_raw300_view_windows_are_centred_on_frames(corpus):
    data = CorpusDataset(corpus, "train", "raw300", fps=FPS)
    record = data.records[0]
    item = data[0]
    n = frames_at(record["duration_s"], FPS)
    assert item["x"].shape == (n, 4800) and item["y"].shape == (n, 4, 2) and item["weights"].shape == (n, 46)
    audio, _ = soundfile.read(corpus / record["audio"], dtype="float32")
    centre = int(round(10 * 16000 / FPS))
    assert np.allclose(item["x"][10].numpy(), audio[centre - 2400:centre + 2400])
    assert np.all(item["x"][0, :2400].numpy() == 0)  # before the clip starts
    points = load_labels(corpus / record["labels"])["landmarks2d"][:, [48, 54, 62, 66]]
    assert np.allclose(item["y"][0].numpy(), points[0])


def test_mel80_and_text_views_share_lip_displacements(corpus):
    mel = CorpusDataset(corpus, "train", "mel80")
    text = CorpusDataset(corpus, "train", "text")
    record = mel.records[0]
    m, t = mel[0], text[0]
    frames = 1 + int(round(record["duration_s"] * 16000)) // 200
    assert m["x"].shape == (frames, 80) and m["y"].shape == (frames, 20, 3)
    assert torch.isfinite(m["x"]).all()
    assert t["x"].dtype == torch.int64 and t["x"].shape == (len(record["text"]),)
    assert torch.equal(t["y"], m["y"])
    labels = load_labels(corpus / record["labels"])
    neutral = labels["neutral3d"][48:68]
    assert np.allclose(m["y"][0].numpy(), labels["landmarks3d"][0, 48:68] - neutral, atol=1e-6)
    assert float(m["y"].abs().max()) > 1e-3  # the lips do move


def test_text_vocabulary_round_trip():
    ids = encode_text("Hola, señor!")
    assert ids.dtype == np.int64 and "".join(TEXT_VOCABULARY[i] for i in ids) == "hola, señor!"
    assert encode_text("#")[0] == 1  # unknown


def test_crop_and_augment_keep_views_consistent(corpus):
    options = AugmentOptions(tempo_prob=1.0, pitch_prob=1.0, reverb_prob=1.0, noise_prob=1.0, gain_prob=1.0)
    data = CorpusDataset(corpus, "train", "spectrogram", fps=FPS, augment=options, crop_s=1.0, seed=3)
    item = data[0]
    assert item["x"].shape[0] == item["y"].shape[0]
    assert abs(item["x"].shape[0] - FPS) <= FPS * 0.1  # 1 s crop, tempo within +-8%
    assert torch.isfinite(item["x"]).all() and float(item["y"].min()) >= 0


def test_augment_effects():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.5)).astype(np.float32)
    noise = colored_noise(len(speech), 1.0, rng)
    noisy = add_noise(speech, noise, snr_db=10.0)
    loud = speech[8000:]
    measured = 10 * np.log10(np.mean(loud ** 2) / np.mean((noisy - speech)[8000:] ** 2))
    assert measured == pytest.approx(10.0, abs=1.5)
    impulse = room_impulse(16000, 0.4, rng)
    assert impulse[0] == 1.0 and np.abs(impulse[-200:]).max() < 0.01
    faster = augment(speech, 16000, AugmentOptions(tempo_prob=1.0, tempo=(1.25, 1.25), pitch_prob=0,
                                                   reverb_prob=0, noise_prob=0, gain_prob=0), rng)
    assert faster.time_scale == 1.25 and len(faster.audio) == pytest.approx(len(speech) / 1.25, rel=0.01)


def test_collate_pads_and_reports_lengths(corpus):
    data = CorpusDataset(corpus, "train", "raw300", fps=FPS)
    items = [data[0], data[1]]
    batch = collate(items)
    lengths = [item["x"].shape[0] for item in items]
    assert batch["x"].shape == (2, max(lengths), 4800)
    assert batch["x_length"].tolist() == lengths and batch["weights_length"].tolist() == lengths
    short = int(np.argmin(lengths))
    assert torch.all(batch["y"][short, lengths[short]:] == 0)


def test_splits_and_bad_arguments(corpus):
    voices = {split: {r["voice"] for r in CorpusDataset(corpus, split, "text").records} for split in ("train", "test")}
    assert not voices["train"] & voices["test"]
    with pytest.raises(ValueError, match="view"):
        CorpusDataset(corpus, "train", "video")
    with pytest.raises(InputError, match="manifest"):
        CorpusDataset(corpus / "missing", "train", "mel80")
