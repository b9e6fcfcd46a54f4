"""`mouthpiece-train nerf-frames`: a corpus rendered in Blender into the renderer's frame folder, with a camera
that agrees with the landmarks, blinks in the frames and the labels, held-out utterances and a resume."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from backend import headmodel
from backend.audio import load_audio
from backend.rig import FACEWAREHOUSE_46
from training.corpus.heads import DEFAULT_BLEND, landmarks_path
from training.nerf.conditions import frame_audio_features
from training.nerf.frames import read_frame_folder
from training.nerf.from_corpus import downsample_rgba, main as frames_main
from training.nerf.render import pixel_rays

SIZE = 48
LABEL_FPS = 100.0


def write_utterance(root: Path, uid: str, split: str, seconds: float, blink_at: float | None) -> dict:
    """Labels like the corpus's: the jaw opens and closes; the eyes close around `blink_at` seconds."""
    n = int(seconds * LABEL_FPS)
    t = np.arange(n) / LABEL_FPS
    weights = np.zeros((n, 46), np.float32)
    weights[:, FACEWAREHOUSE_46.index("JawOpen")] = 0.5 * (1 - np.cos(2 * np.pi * 2.0 * t))
    blink = np.zeros(n, np.float32)
    if blink_at is not None:
        blink[np.abs(t - blink_at) < 0.08] = 1.0
    for name in ("EyeBlink_L", "EyeBlink_R"):
        weights[:, FACEWAREHOUSE_46.index(name)] = blink
    head = headmodel.load(landmarks_path(DEFAULT_BLEND))
    landmarks = head.landmarks(head.channel_weights(FACEWAREHOUSE_46, weights)).astype(np.float32)
    (root / "labels").mkdir(exist_ok=True)
    (root / "audio").mkdir(exist_ok=True)
    np.savez(root / "labels" / f"{uid}.npz", fps=np.float32(LABEL_FPS), weights=weights, landmarks3d=landmarks,
             blink=blink)
    samples = np.arange(int(seconds * 16000)) / 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * samples) * (samples < seconds / 2)  # a tone, then silence
    soundfile.write(root / "audio" / f"{uid}.wav", audio.astype(np.float32), 16000)
    return {"id": uid, "split": split, "duration_s": seconds, "audio": f"audio/{uid}.wav",
            "labels": f"labels/{uid}.npz"}


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> tuple[Path, Path]:
    corpus = tmp_path_factory.mktemp("corpus")
    records = [write_utterance(corpus, "u0", "train", 0.6, 0.3), write_utterance(corpus, "u1", "val", 0.4, None),
               write_utterance(corpus, "u2", "train", 0.4, None)]
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path_factory.mktemp("frames") / "default"
    argv = ["--corpus", str(corpus), "--out", str(out), "--minutes", "0.01", "--val-minutes", "0.005",
            "--size", str(SIZE), "--quiet"]
    assert frames_main(argv) == 0
    return corpus, out


def test_the_folder_holds_the_chosen_utterances_with_held_out_frames(frames):
    corpus, out = frames
    folder = read_frame_folder(out)
    assert (len(folder.train), len(folder.val)) == (15, 10)  # u0 (0.6 s) fills --minutes; u1 is the val one
    assert folder.train.images.shape == (15, SIZE, SIZE, 3) and folder.audio_dim == 80
    assert sorted(p.name for p in (out / "parts").iterdir()) == ["u0.npz", "u1.npz"]
    audio = load_audio(corpus / "audio" / "u0.wav")
    np.testing.assert_allclose(folder.train.audio, frame_audio_features(audio, 15, 25.0), atol=1e-5)
    lo, hi = np.array(folder.box_min), np.array(folder.box_max)
    assert np.all(folder.train.landmarks > lo) and np.all(folder.train.landmarks < hi)


def test_rays_through_the_landmarks_pixels_pass_through_the_landmarks(frames):
    _, out = frames
    clip = read_frame_folder(out).train
    points = clip.landmarks[0]
    camera, intrinsics = clip.cameras[0], clip.intrinsics[0]
    local = np.linalg.inv(camera) @ np.c_[points, np.ones(68)].T  # Blender camera: looks along -Z
    fx, fy, cx, cy = intrinsics
    columns = cx + fx * local[0] / -local[2] - 0.5
    rows = cy - fy * local[1] / -local[2] - 0.5
    assert np.all((columns > 0) & (columns < SIZE) & (rows > 0) & (rows < SIZE))
    origins, directions = pixel_rays(torch.tensor(intrinsics), torch.tensor(camera), torch.tensor(rows),
                                     torch.tensor(columns))
    to_points = torch.tensor(points, dtype=origins.dtype) - origins
    off_ray = (to_points - (to_points * directions).sum(-1, keepdim=True) * directions).norm(dim=-1)
    assert float(off_ray.max()) < 1e-4
    raw = np.asarray(Image.open(out / "images" / "000000.png"))
    assert raw.shape == (SIZE, SIZE, 4)  # the head over a transparent background
    lips = np.round([rows[48:68].mean(), columns[48:68].mean()]).astype(int)
    assert raw[lips[0], lips[1], 3] == 255 and raw[0, 0, 3] == 0


def test_blinks_are_in_the_frames_and_their_values(frames):
    _, out = frames
    clip = read_frame_folder(out).train
    closed = np.flatnonzero(clip.blink > 0.5)
    assert list(closed) == [6, 7, 8, 9]  # frames at 0.24 to 0.36 s of u0
    open_frame = 5
    eyes = clip.landmarks[:, 36:48]
    assert np.all(eyes[closed, 1:3, 2].mean(axis=1) < eyes[open_frame, 1:3, 2].mean())  # upper lids come down
    change = np.abs(clip.images[closed[0]].astype(float) - clip.images[open_frame].astype(float))
    assert change[: SIZE // 2].mean() > 1.0  # the upper face changes when the eyes close


def test_a_second_run_renders_only_what_is_new(frames, monkeypatch):
    corpus, out = frames
    import training.nerf.from_corpus as builder

    def refuse(*_args, **_kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(builder, "render_rgba", refuse)
    before = (out / "frames.json").read_text()
    argv = ["--corpus", str(corpus), "--out", str(out), "--minutes", "0.01", "--val-minutes", "0.005",
            "--size", str(SIZE), "--quiet"]
    assert frames_main(argv) == 0
    assert (out / "frames.json").read_text() == before


def test_a_folder_that_is_not_a_corpus_is_one_clear_error(tmp_path, capsys):
    assert frames_main(["--corpus", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err and "manifest.jsonl" in err


def test_downsampling_keeps_edges_free_of_dark_fringes():
    frames = np.zeros((1, 2, 2, 4), np.uint8)
    frames[0, 0, 0] = [200, 100, 50, 255]  # one opaque pixel among transparent black ones
    small = downsample_rgba(frames, 2)
    np.testing.assert_array_equal(small[0, 0, 0], [200, 100, 50, 64])
