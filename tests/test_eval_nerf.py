"""`mouthpiece-train eval-nerf`: PSNR/SSIM and LMD on hand-made cases, utterances re-assembled in order from a
frame folder's per-frame clip ids, and the whole command on a tiny held-out utterance with audio."""
from __future__ import annotations

import importlib.util
import json
import shlex

import numpy as np
import pytest

from test_nerf_render import TINY_OPTIONS, sphere_clip
from training.eval_nerf import (first_frames, finite_json, image_numbers, landmark_numbers, mouth_distances,
                                track_mouths, utterance_frames)

TRAIN, HELD = 7, 7  # frames: one training utterance, one held-out utterance long enough for the expert


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_identical_frames_give_infinite_psnr_and_unit_ssim():
    frames = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    numbers = image_numbers(frames, frames.copy())
    assert numbers["psnr"] == float("inf")
    assert numbers["ssim"] == pytest.approx(1.0)
    assert finite_json(numbers) == {"psnr": None, "ssim": pytest.approx(1.0)}


def test_known_noise_level_gives_its_psnr():
    real = np.full((3, 20, 20, 3), 128, np.uint8)
    signs = np.where((np.indices((20, 20)).sum(axis=0) % 2) == 0, 5, -5)
    noisy = (real.astype(int) + signs[None, :, :, None]).astype(np.uint8)  # every pixel off by 5: MSE 25
    numbers = image_numbers(noisy, real)
    assert numbers["psnr"] == pytest.approx(20 * np.log10(255 / 5))
    assert 0.0 < numbers["ssim"] < 1.0


def mouth_circle() -> np.ndarray:
    """68 points whose mouth (48-67) is 20 points evenly round the unit circle (centred on 0)."""
    points = np.zeros((68, 2))
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    points[48:68] = np.c_[np.cos(angles), np.sin(angles)]
    return points


def test_lmd_centres_each_mouth_and_ignores_the_rest_of_the_face():
    a = mouth_circle()
    moved = a + np.array([10.0, -4.0])
    moved[:48] = 1000.0  # jaw, brows, nose and eyes play no part
    assert mouth_distances(a[None], moved[None]) == pytest.approx([0.0])
    scaled = 3 * a + np.array([10.0, -4.0])  # every mouth point 2 px further from the centre
    assert mouth_distances(np.stack([a, a]), np.stack([scaled, moved])) == pytest.approx([2.0, 0.0])
    with_depth = np.c_[scaled, np.full(68, 7.0)]  # a tracker's z is left out
    assert mouth_distances(a[None], with_depth[None]) == pytest.approx([2.0])


def test_frames_without_a_face_are_skipped_and_counted():
    a = np.stack([mouth_circle()] * 3)
    b = 3 * a
    render_found, real_found = np.array([True, False, True]), np.array([True, True, False])
    numbers = landmark_numbers(b, render_found, a, real_found, a)
    assert numbers["lmd"] == pytest.approx(2.0)  # frame 0 only
    assert numbers["lmd_input"] == pytest.approx(2.0)  # frames 0 and 2
    assert (numbers["faces_render"], numbers["faces_real"], numbers["lmd_skipped"]) == (2, 2, 2)
    none = landmark_numbers(b, np.zeros(3, bool), a, real_found, a)
    assert none["lmd"] is None and none["lmd_input"] is None and none["lmd_skipped"] == 3
    points, found = track_mouths(np.zeros((3, 8, 8, 3), np.uint8), {"": np.arange(3)}, tracker=None)
    assert points.shape == (3, 68, 2) and not found.any()


def test_utterances_are_reassembled_in_frame_order():
    spans = utterance_frames(["b", "b", "a", "a", "a", "b"], 6)
    assert list(spans) == ["b", "a"]
    assert spans["b"].tolist() == [0, 1, 5] and spans["a"].tolist() == [2, 3, 4]
    assert utterance_frames(None, 4)[""].tolist() == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    import soundfile

    rate = 16000
    t = np.arange(int(rate * HELD / 25)) / rate
    wave = 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 180 * t)
    path = tmp_path_factory.mktemp("audio") / "held.wav"
    soundfile.write(path, wave.astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def frames(tmp_path_factory, speech):
    """The sphere clip: utterance "train-0" for training, "held-0" held out with its audio file."""
    from training.nerf.conditions import frame_audio_features
    from training.nerf.frames import write_frame_folder

    clip = sphere_clip(n=TRAIN + HELD, size=32)
    audio = frame_audio_features(np.zeros(16000, np.float32), len(clip), 25.0)
    ids = ["train-0"] * TRAIN + ["held-0"] * HELD
    return write_frame_folder(tmp_path_factory.mktemp("frames"), clip.images, clip.intrinsics[0], clip.cameras,
                              clip.landmarks, clip.blink, audio, (-1, -1, -1), (1, 1, 1),
                              val=np.arange(len(clip)) >= TRAIN, audio_features="log-mel", clips=ids,
                              clip_audio={"held-0": str(speech.resolve())})


def test_frame_folder_keeps_each_frames_utterance(frames, speech, tmp_path):
    from backend.errors import InputError
    from training.nerf.frames import INDEX, read_frame_folder

    folder = read_frame_folder(frames)
    assert folder.train.clip_ids == ["train-0"] * TRAIN and folder.val.clip_ids == ["held-0"] * HELD
    assert folder.val.clip_audio == {"held-0": str(speech.resolve())}
    assert first_frames(folder.val, 3).clip_ids == ["held-0"] * 3
    assert len(first_frames(folder.val, 3).images) == 3

    index = json.loads((frames / INDEX).read_text())
    old = tmp_path / "old"
    (old / "images").mkdir(parents=True)
    for frame in index["frames"]:
        (old / frame["image"]).write_bytes((frames / frame["image"]).read_bytes())
        del frame["clip"]
    del index["clip_audio"]
    (old / INDEX).write_text(json.dumps(index))
    before = read_frame_folder(old)  # a folder from before utterances were named still reads
    assert before.val.clip_ids is None and before.val.clip_audio is None

    index["frames"][0]["clip"] = 3
    (old / INDEX).write_text(json.dumps(index))
    with pytest.raises(InputError, match="frame 0: 'clip'"):
        read_frame_folder(old)


@pytest.fixture(scope="module")
def runs(frames, tmp_path_factory):
    """A full run and a no-blink ablation run, a few steps each."""
    from training.train_nerf import main

    out = tmp_path_factory.mktemp("runs")
    assert main(["--frames", str(frames), "--out", str(out / "full"), "--steps", "2", *TINY_OPTIONS]) == 0
    assert main(["--frames", str(frames), "--out", str(out / "blinkless"), "--steps", "2", "--no-blink",
                 *TINY_OPTIONS]) == 0
    return out


def test_eval_nerf_writes_the_table_with_its_command(frames, runs, tmp_path):
    from tiny_expert import save_tiny_expert
    from training.cli import main

    expert = save_tiny_expert(tmp_path / "expert")
    out = tmp_path / "eval"
    argv = ["--frames", str(frames), "--runs", f"full={runs / 'full' / 'model'},no blink={runs / 'blinkless'}",
            "--expert", str(expert), "--out", str(out), "--quiet"]
    assert main(["eval-nerf", *argv]) == 0
    results = json.loads((out / "nerf_eval.json").read_text())
    rows = results["rows"]
    assert results["tracker"] == (importlib.util.find_spec("mediapipe") is not None)
    assert list(rows) == ["full", "no blink", "real frames"]
    assert rows["full"]["conditions"] == "landmarks + blink + audio"
    assert rows["no blink"]["conditions"] == "landmarks + audio"
    for label in ("full", "no blink"):
        row = rows[label]
        assert row["frames"] == HELD and np.isfinite(row["psnr"]) and -1.0 <= row["ssim"] <= 1.0
        # no face in 32 px spheres: every frame skipped and counted, no LMD
        assert row["faces_render"] == 0 and row["lmd"] is None and row["lmd_skipped"] == HELD
        assert row["sync_clips"] == 1 and np.isfinite(row["lse_c"]) and np.isfinite(row["lse_d"])
        assert list(row["per_clip"]) == ["held-0"]
    assert rows["real frames"]["sync_clips"] == 1 and "psnr" not in rows["real frames"]
    readme = (out / "README.md").read_text()
    assert f"`mouthpiece-train eval-nerf {shlex.join(argv)}`" in readme
    assert "| no blink | landmarks + audio | 7 | 0 / 0 |" in readme
    assert "LPIPS and FID: not available offline" in readme and "DeepSpeech" in readme
    assert not list(out.glob("*.tmp*")) and not list(out.glob(".*"))

    fewer = tmp_path / "fewer"
    assert main(["eval-nerf", "--frames", str(frames), "--runs", f"full={runs / 'full'}", "--expert", str(expert),
                 "--max-frames", "3", "--out", str(fewer), "--quiet"]) == 0
    row = json.loads((fewer / "nerf_eval.json").read_text())["rows"]["full"]
    assert row["frames"] == 3 and row["sync_clips"] == 0  # too short for the expert's windows


@pytest.mark.parametrize("runs_option, message", [("full", "LABEL=RUN/model pairs"),
                                                  ("full=/no/such/run", "not a trained NeRF run")])
def test_bad_runs_are_one_line(frames, tmp_path, capsys, runs_option, message):
    from training.eval_nerf import main

    assert main(["--frames", str(frames), "--runs", runs_option, "--out", str(tmp_path / "eval"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("mouthpiece-train eval-nerf: ")
    assert not (tmp_path / "eval").exists()


def test_nerf_frames_names_each_frames_utterance_and_its_audio(tmp_path, monkeypatch):
    import training.nerf.from_corpus as builder
    from test_nerf_frames import write_utterance
    from training.nerf.frames import read_frame_folder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [write_utterance(corpus, "u0", "train", 0.2, None), write_utterance(corpus, "u1", "val", 0.12, None)]
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    camera = np.eye(4)
    camera[2, 3] = 2.5
    # the Blender side stands in: blank frames, a fixed camera and box
    monkeypatch.setattr(builder, "render_rgba", lambda weights, *_: np.zeros((len(weights), 16, 16, 4), np.uint8))
    monkeypatch.setattr(builder, "scene_camera", lambda *_: (np.array([20.0, 20.0, 8.0, 8.0]), camera))
    monkeypatch.setattr(builder, "head_box", lambda *_: (np.full(3, -1.0), np.ones(3)))
    monkeypatch.setattr(builder, "corpus_neutral", lambda *_: None)
    head = tmp_path / "head.blend"
    head.write_bytes(b"")
    out = tmp_path / "frames"
    assert builder.main(["--corpus", str(corpus), "--out", str(out), "--minutes", "0.001", "--val-minutes", "0.001",
                         "--size", "16", "--head", str(head), "--quiet"]) == 0
    folder = read_frame_folder(out)
    assert folder.train.clip_ids == ["u0"] * 5 and folder.val.clip_ids == ["u1"] * 3
    assert folder.val.clip_audio == {uid: str((corpus / "audio" / f"{uid}.wav").resolve()) for uid in ("u0", "u1")}


class ConstantLandmarkSide:
    """A stand-in landmark side: every frame's offsets 1 mm up, the eyes shut from the third frame on."""

    def predict(self, audio, seed=0):
        n = len(audio) * 25 // 16000
        offsets = np.zeros((n, 68, 3), np.float32)
        offsets[..., 2] = 0.001
        return offsets, (np.arange(n) >= 2).astype(np.float32)


def test_driven_rows_take_their_landmarks_and_blinks_from_the_audio(frames):
    from training.eval_nerf import driven_clip, utterance_frames
    from training.nerf.frames import read_frame_folder

    clip = read_frame_folder(frames).val
    spans = utterance_frames(clip.clip_ids, len(clip))
    neutral = np.full((68, 3), 0.25, np.float32)
    driven = driven_clip(clip, spans, {"held-0": np.zeros(16000 * HELD // 25, np.float32)}, neutral,
                         ConstantLandmarkSide())
    np.testing.assert_allclose(driven.landmarks, np.broadcast_to(neutral + [0, 0, 0.001], driven.landmarks.shape))
    np.testing.assert_array_equal(driven.blink, (np.arange(HELD) >= 2).astype(np.float32))
    np.testing.assert_array_equal(driven.images, clip.images)
    untouched = driven_clip(clip, spans, {"held-0": None}, neutral, ConstantLandmarkSide())
    np.testing.assert_array_equal(untouched.landmarks, clip.landmarks)


def test_driven_rows_need_the_rest_face(frames, runs, tmp_path, capsys):
    from tiny_expert import save_tiny_expert
    from training.eval_nerf import main

    expert = save_tiny_expert(tmp_path / "expert")
    assert main(["--frames", str(frames), "--runs", f"full={runs / 'full'}", "--driven", "full", "--expert",
                 str(expert), "--landmarks-model", str(expert), "--out", str(tmp_path / "eval"), "--quiet"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
