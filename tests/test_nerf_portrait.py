"""`mouthpiece nerf render`: a tiny trained renderer and a tiny landmark model say a second of audio into an
MP4 with its audio and a PNG sequence; outputs are never overwritten unasked; bad input is one line."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from test_nerf_render import TINY_OPTIONS, sphere_clip

SECONDS = 1.0
FRAMES = 25  # a second at 25 fps
SIZE = 32
BPY5_PYTHON = Path(__file__).resolve().parents[1] / ".venv-bpy5" / "bin" / "python"
IMAGE_STRIP = """
import json, sys
from pathlib import Path
import bpy
folder = Path(sys.argv[-1])
names = sorted(p.name for p in folder.glob("*.png"))
editor = bpy.context.scene.sequence_editor_create()
strips = editor.strips if hasattr(editor, "strips") else editor.sequences
strip = strips.new_image("portrait", str(folder / names[0]), channel=1, frame_start=1)
for name in names[1:]:
    strip.elements.append(name)
image = bpy.data.images.load(str(folder / strip.elements[-1].filename))
print(json.dumps({"frames": strip.frame_final_duration, "size": list(image.size)}))
"""


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    import soundfile

    rate = 16000
    t = np.arange(int(rate * SECONDS)) / rate
    wave = 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 180 * t)
    path = tmp_path_factory.mktemp("audio") / "line.wav"
    soundfile.write(path, wave.astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """The sphere clip of test_nerf_render with 80-band log-mel audio features, as the renderer hears them."""
    from training.nerf.conditions import frame_audio_features
    from training.nerf.frames import write_frame_folder

    clip = sphere_clip(n=6, size=SIZE)
    noise = 0.1 * np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    audio = frame_audio_features(noise, len(clip), 25.0)
    neutral = np.median(clip.landmarks, axis=0) + 0.01
    return write_frame_folder(tmp_path_factory.mktemp("frames"), clip.images, clip.intrinsics[0], clip.cameras,
                              clip.landmarks, clip.blink, audio, (-1, -1, -1), (1, 1, 1), val=np.arange(6) == 5,
                              audio_features="log-mel", neutral=neutral)


@pytest.fixture(scope="module")
def run(frames, tmp_path_factory):
    from training.train_nerf import main

    out = tmp_path_factory.mktemp("run")
    assert main(["--frames", str(frames), "--out", str(out), "--steps", "3", *TINY_OPTIONS]) == 0
    return out


@pytest.fixture(scope="module")
def landmarks_model(tmp_path_factory):
    """A freshly initialised small nerf-landmarks model, saved as a checkpoint."""
    from backend import checkpoints
    from training.families.nerf_landmarks import NerfLandmarks, NerfLandmarksConfig

    torch.manual_seed(0)
    config = NerfLandmarksConfig(layers=1, d_model=32, ffn=64, heads=2, blink_hidden=8)
    tensors = {name: value.numpy() for name, value in NerfLandmarks(config).state_dict().items()}
    stem = tmp_path_factory.mktemp("landmarks") / "model"
    checkpoints.save(stem, checkpoints.Checkpoint(tensors, "nerf-landmarks", {"model": asdict(config)}))
    return stem


def render(run, speech, out, *extra, quiet=True):
    from backend.cli import main

    return main(["nerf", "render", "--identity", str(run), "--audio", str(speech), "--out", str(out),
                 *(["--quiet"] if quiet else []), *extra])


def probe(path) -> tuple[int, list[str], tuple[int, int]]:
    """(video frames, stream types, video size) as ffprobe reads them."""
    done = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                           "stream=codec_type,codec_name,nb_read_frames,width,height", "-of", "json", str(path)],
                          capture_output=True, check=True, text=True)
    streams = json.loads(done.stdout)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    assert video["codec_name"] == "h264"
    return int(video["nb_read_frames"]), [s["codec_type"] for s in streams], (video["width"], video["height"])


def test_run_stores_the_identity_render_needs(run, frames):
    from backend import checkpoints
    from training.nerf.frames import read_frame_folder

    identity = checkpoints.load(run / "model").config["about"]["identity"]
    folder = read_frame_folder(frames)
    assert identity["size"] == [SIZE, SIZE]
    np.testing.assert_allclose(identity["neutral_landmarks"], folder.neutral, atol=1e-6)
    np.testing.assert_allclose(identity["camera_to_world"], folder.train.cameras[0], atol=1e-6)
    np.testing.assert_allclose(identity["intrinsics"], folder.train.intrinsics[0], atol=1e-6)


def test_render_writes_an_mp4_with_audio_and_a_png_sequence(run, speech, landmarks_model, tmp_path):
    from backend.audio import load_audio
    from training.nerf.portrait import frame_conditions, landmark_runtime, load_portrait, render_frames

    out = tmp_path / "take.mp4"
    assert render(run, speech, out, "--landmarks-model", str(landmarks_model), "--seed", "3") == 0
    count, streams, size = probe(out)
    assert count == FRAMES and sorted(streams) == ["audio", "video"] and size == (SIZE, SIZE)
    pngs = sorted((tmp_path / "take_frames").iterdir())
    assert [p.name for p in pngs] == [f"{i:06d}.png" for i in range(1, FRAMES + 1)]
    images = np.stack([np.asarray(Image.open(p)) for p in pngs])
    assert images.shape == (FRAMES, SIZE, SIZE, 3)
    portrait, runtime = load_portrait(run), landmark_runtime(str(landmarks_model))
    expected = render_frames(portrait, frame_conditions(portrait, load_audio(speech), runtime, seed=3))
    assert np.array_equal(images, expected)  # the PNGs are the renders, losslessly
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.mp4", "take_frames"]  # no temporaries left


def test_outputs_are_kept_unless_overwrite(run, speech, landmarks_model, tmp_path, capsys):
    out, pngs = tmp_path / "take.mp4", tmp_path / "pngs"
    options = ["--landmarks-model", str(landmarks_model), "--frames-dir", str(pngs)]
    pngs.mkdir()
    (pngs / "mine.txt").write_text("keep")
    assert render(run, speech, out, *options) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "pngs: exists; pass --overwrite" in error and not out.exists()
    assert render(run, speech, out, *options, "--overwrite") == 0
    assert len(list(pngs.glob("*.png"))) == FRAMES and not (pngs / "mine.txt").exists()
    video = out.read_bytes()
    assert render(run, speech, out, *options) == 1
    assert "take.mp4: exists; pass --overwrite" in capsys.readouterr().err and out.read_bytes() == video
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pngs", "take.mp4"]


@pytest.mark.skipif(not BPY5_PYTHON.is_file(), reason="no .venv-bpy5 (Blender as a module)")
def test_blenders_video_editor_loads_the_png_sequence(run, speech, landmarks_model, tmp_path):
    out = tmp_path / "take.mp4"
    assert render(run, speech, out, "--landmarks-model", str(landmarks_model)) == 0
    script = tmp_path / "strip.py"
    script.write_text(IMAGE_STRIP)
    done = subprocess.run([str(BPY5_PYTHON), str(script), str(tmp_path / "take_frames")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"frames": FRAMES, "size": [SIZE, SIZE]}


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("mouthpiece: error: "), error
    return error


def test_bad_input_is_one_clear_line(run, speech, landmarks_model, tmp_path, capsys, monkeypatch):
    out = tmp_path / "take.mp4"
    model = ["--landmarks-model", str(landmarks_model)]
    assert render(tmp_path / "nowhere", speech, out, *model, quiet=False) == 1  # no progress bar opened yet
    assert "nowhere: not a trained NeRF run" in one_line_error(capsys)
    assert render(landmarks_model, speech, out, *model) == 1
    assert "model.json: holds a 'nerf-landmarks' model, not 'nerf'" in one_line_error(capsys)
    text = tmp_path / "words.wav"
    text.write_text("not audio")
    assert render(run, text, out, *model) == 1
    assert "words.wav" in one_line_error(capsys)
    monkeypatch.setenv("MOUTHPIECE_NERF_LANDMARKS", str(tmp_path / "absent" / "model"))
    assert render(run, speech, out) == 1
    assert "no nerf-landmarks checkpoint found" in one_line_error(capsys)
    assert render(run, speech, out, "--landmarks-model", str(tmp_path / "lm")) == 1
    assert "lm: no nerf-landmarks checkpoint here" in one_line_error(capsys)
    assert render(run, speech, tmp_path / "take.mov", *model) == 1
    assert "writes .mp4" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.wav"]


def test_a_run_without_a_stored_camera_reads_its_frame_folder(run, frames, speech, landmarks_model, tmp_path,
                                                              capsys):
    old = shutil.copytree(run, tmp_path / "old")
    record = json.loads((old / "model.json").read_text())
    del record["config"]["about"]["identity"]
    record["config"]["about"]["frames"] = str(tmp_path / "moved")
    (old / "model.json").write_text(json.dumps(record))
    out = tmp_path / "take.mp4"
    assert render(old, speech, out, "--landmarks-model", str(landmarks_model)) == 1
    assert "stores no camera" in one_line_error(capsys) and not out.exists()
    assert render(old, speech, out, "--landmarks-model", str(landmarks_model), "--training-frames", str(frames)) == 0
    assert probe(out)[0] == FRAMES
