"""`mouthpiece-train nerf-frames --video`: a talking video (here the default head rendered in Blender, on a
grey wall, with a soundtrack, at 30 fps) becomes a frame folder: 25 fps square crops, MediaPipe landmarks
lifted onto a static camera, blinks from the eye aspect ratio, the soundtrack's features, held-out seconds."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile
import torch

from backend.rig import FACEWAREHOUSE_46
from training.nerf.conditions import frame_audio_features
from training.nerf.frames import read_frame_folder
from training.nerf.from_corpus import main as frames_main
from training.nerf.from_corpus import render_rgba
from training.nerf.from_video import eye_aspect_ratio, eyelid_closure, resample_indices
from training.nerf.render import image_rays, project_points, ray_box

SOURCE_FPS, N_SOURCE, BLINK = 30.0, 36, range(15, 21)


def write_video(folder, frames: np.ndarray, audio: np.ndarray) -> str:
    from backend.audio import find_ffmpeg

    for i, frame in enumerate(frames):
        from PIL import Image

        Image.fromarray(frame).save(folder / f"{i:04d}.png")
    soundfile.write(folder / "sound.wav", audio, 16000)
    out = folder / "talk.mp4"
    subprocess.run([find_ffmpeg(needed_for="test video"), "-nostdin", "-loglevel", "error", "-framerate",
                    str(SOURCE_FPS), "-i", str(folder / "%04d.png"), "-i", str(folder / "sound.wav"), "-c:v",
                    "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out)], check=True)
    return str(out)


@pytest.fixture(scope="module")
def talking(tmp_path_factory):
    from training.corpus.heads import DEFAULT_BLEND

    folder = tmp_path_factory.mktemp("video")
    weights = np.zeros((N_SOURCE, 46), np.float32)
    weights[:, FACEWAREHOUSE_46.index("JawOpen")] = 0.4 * (1 - np.cos(np.linspace(0, 6 * np.pi, N_SOURCE)))
    for name in ("EyeBlink_L", "EyeBlink_R"):
        weights[list(BLINK), FACEWAREHOUSE_46.index(name)] = 1.0
    rgba = render_rgba(weights, tuple(FACEWAREHOUSE_46), str(DEFAULT_BLEND), 192).astype(np.float32)
    frames = np.round(rgba[..., :3] * rgba[..., 3:] / 255 + 120 * (1 - rgba[..., 3:] / 255)).astype(np.uint8)
    seconds = N_SOURCE / SOURCE_FPS
    t = np.arange(int(seconds * 16000)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 200 * t) * (t > seconds / 2)).astype(np.float32)
    video = write_video(folder, frames, audio)
    out = folder / "frames"
    assert frames_main(["--video", video, "--out", str(out), "--size", "96", "--val-seconds", "0.4"]) == 0
    return video, out


def test_frames_are_resampled_to_25_fps_with_the_last_seconds_held_out(talking):
    video, out = talking
    folder = read_frame_folder(out)
    assert len(folder.train) + len(folder.val) == len(resample_indices(N_SOURCE, SOURCE_FPS)) == 30
    assert len(folder.val) == 10 and folder.train.images.shape == (20, 96, 96, 3)
    from backend.audio import load_audio

    features = frame_audio_features(load_audio(video), 30, 25.0)
    np.testing.assert_allclose(np.r_[folder.train.audio, folder.val.audio], features, atol=1e-4)
    assert folder.neutral is not None and folder.neutral.shape == (68, 3)


def test_landmarks_sit_on_the_face_and_every_ray_meets_the_box(talking):
    _, out = talking
    folder = read_frame_folder(out)
    clip = folder.train
    pixels = project_points(clip.intrinsics[0], clip.cameras[0], clip.landmarks[0])
    assert np.all((pixels > 5) & (pixels < 91))
    lips = np.round(pixels[48:68].mean(axis=0)).astype(int)
    assert clip.images[0, lips[1], lips[0]].astype(int).sum() > 0 and not (clip.images[0, lips[1], lips[0]] == 120).all()
    width = np.linalg.norm(clip.landmarks[:, 16, :2] - clip.landmarks[:, 0, :2], axis=-1)  # across the view
    assert np.median(width) == pytest.approx(0.14, rel=0.1)  # the face put at its real size
    low, high = np.array(folder.box_min), np.array(folder.box_max)
    assert np.all(clip.landmarks > low) and np.all(clip.landmarks < high)
    origins, directions = image_rays(torch.from_numpy(clip.intrinsics[0]), torch.from_numpy(clip.cameras[0]), 96, 96)
    _, _, hit = ray_box(origins, directions, torch.tensor(low, dtype=origins.dtype), torch.tensor(high, dtype=origins.dtype))
    assert bool(hit.all())  # the still background is inside the box too


def test_blinks_come_from_the_eye_aspect_ratio(talking):
    _, out = talking
    folder = read_frame_folder(out)
    blink = np.r_[folder.train.blink, folder.val.blink]
    source = resample_indices(N_SOURCE, SOURCE_FPS)
    closed = np.isin(source, list(BLINK))
    assert blink[closed].min() > 0.5 and blink[~closed].max() < 0.3


def test_eye_aspect_ratio_and_closure_on_hand_made_eyes():
    eye = np.array([[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]], np.float64)  # open: EAR 2/3
    points = np.zeros((3, 68, 2))
    for i, squeeze in enumerate((1.0, 0.75, 0.0)):
        shut = eye * [1, squeeze]
        points[i, 36:42], points[i, 42:48] = shut, shut
    ear = eye_aspect_ratio(points)
    np.testing.assert_allclose(ear, [2 / 3, 1 / 2, 0])
    closure = eyelid_closure(np.r_[np.full(20, 2 / 3), ear])  # closed at half the open eyes' ratio
    np.testing.assert_allclose(closure[-3:], [0, 0.5, 1], atol=1e-6)


def test_a_video_without_a_face_is_one_clear_error(tmp_path, capsys):
    frames = np.full((30, 64, 64, 3), 90, np.uint8)
    video = write_video(tmp_path, frames, np.zeros(16000, np.float32))
    assert frames_main(["--video", video, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "talk.mp4" in err and "a face was found in only 0 of 25 frames" in err
    assert not (tmp_path / "out").exists()


def test_corpus_and_video_are_one_or_the_other(tmp_path, capsys):
    assert frames_main(["--out", str(tmp_path / "out")]) == 2
    assert "give --corpus or --video" in capsys.readouterr().err
