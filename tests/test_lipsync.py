"""Footage lip-sync: tracking, pasting through the mask, and an MP4 with audio and every input frame."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.audio import find_ffmpeg, save_wav
from backend.errors import InputError
from backend.facerender import CROP_SIZE, CropBox
from training.datasets.media import read_video
from training.lipsync import copy_input, frame_mels, lipsync, paste, reference_crops

HEAD_PICTURE = Path(__file__).resolve().parents[1] / "assets" / "pictures" / "talking_head.png"


def write_video(path, frames, fps):
    height, width = frames.shape[1:3]
    subprocess.run([find_ffmpeg(), "-nostdin", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-crf", "12", str(path)], input=frames.tobytes(), check=True)


def test_paste_blends_through_the_mask_inside_the_box():
    frame = np.full((100, 120, 3), 50, dtype=np.uint8)
    rgb = np.full((CROP_SIZE, CROP_SIZE, 3), 250, dtype=np.uint8)
    mask = np.zeros((CROP_SIZE, CROP_SIZE), dtype=np.float32)
    mask[CROP_SIZE // 2:] = 1.0
    out = paste(frame, CropBox(20.0, 10.0, 68.0, 58.0, (0, CROP_SIZE)), rgb, mask)
    assert (out[40:57, 21:67] == 250).all()  # the box's lower half takes the generated pixels
    assert (out[11:30, 21:67] == 50).all() and (out[60:, :] == 50).all() and (out[:, 70:] == 50).all()


def test_mel_windows_are_centred_and_references_come_from_the_video():
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    mels = frame_mels(audio, 30, 30.0)
    assert mels.shape == (30, 80, 16)
    crops = np.stack([np.full((CROP_SIZE, CROP_SIZE, 3), v, np.uint8) for v in range(0, 240, 8)])
    references = reference_crops(crops, 10)
    assert references.shape == (10, CROP_SIZE, CROP_SIZE, 3)
    assert len({int(r[0, 0, 0]) for r in references}) >= 8  # spread over the video, not one look repeated


def test_lipsync_writes_an_mp4_with_audio_and_every_frame(tmp_path):
    head = np.array(Image.open(HEAD_PICTURE).convert("RGB").resize((256, 256)))
    write_video(tmp_path / "face.mp4", np.repeat(head[None], 12, axis=0), 24)
    save_wav(tmp_path / "line.wav", 0.1 * np.sin(np.arange(8000) / 5.0).astype(np.float32), 16000)

    def painter(crops, references, mels):  # draws the lower half flat red
        rgb = crops.copy()
        rgb[:, CROP_SIZE // 2:] = (220, 20, 20)
        mask = np.zeros(crops.shape[:3], np.float32)
        mask[:, CROP_SIZE // 2:] = 1.0
        return rgb, mask

    seen = []
    count = lipsync(tmp_path / "face.mp4", tmp_path / "line.wav", tmp_path / "out.mp4", painter,
                    progress=lambda done, total: seen.append((done, total)))
    frames, fps = read_video(tmp_path / "out.mp4")
    assert count == 12 and len(frames) == 12 and fps == pytest.approx(24.0)
    assert seen[-1] == (12, 12)
    red = (frames[..., 0].astype(int) - frames[..., 1].astype(int)) > 120
    assert red[:, 150:, :].mean() > 5 * red[:, :100, :].mean() + 0.01  # the painted chin region, not the brow
    streams = subprocess.run([find_ffmpeg("ffprobe"), "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                              str(tmp_path / "out.mp4")], capture_output=True, text=True).stdout.split()
    assert sorted(streams) == ["audio", "video"]
    copied = lipsync(tmp_path / "face.mp4", tmp_path / "line.wav", tmp_path / "copy.mp4", copy_input)
    assert copied == 12
    with pytest.raises(InputError, match="copy.mp4: exists"):
        lipsync(tmp_path / "face.mp4", tmp_path / "line.wav", tmp_path / "copy.mp4", copy_input)


def test_a_generator_checkpoint_drives_the_pipeline(tmp_path):
    import dataclasses

    import torch

    from backend import checkpoints
    from training.families.lipsync_gen import FAMILY, LipsyncGenConfig
    from training.lipsync import load_generator

    torch.manual_seed(0)
    config = LipsyncGenConfig(width=0.0625, expert_width=0.125, expert_embedding=16)
    model = FAMILY.build(config).eval()
    tensors = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    checkpoints.save(tmp_path / "gen", checkpoints.Checkpoint(tensors, FAMILY.name,
                                                               {"model": dataclasses.asdict(config)}))
    generate = load_generator(tmp_path / "gen")
    crops = np.random.default_rng(0).integers(0, 255, (4, CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
    rgb, mask = generate(crops, crops[:3], np.zeros((4, 80, 16), np.float32))
    assert rgb.shape == (4, CROP_SIZE, CROP_SIZE, 3) and rgb.dtype == np.uint8
    assert mask.shape == (4, CROP_SIZE, CROP_SIZE) and 0.0 <= mask.min() and mask.max() <= 1.0
    head = np.array(Image.open(HEAD_PICTURE).convert("RGB").resize((192, 192)))
    write_video(tmp_path / "face.mp4", np.repeat(head[None], 6, axis=0), 25)
    save_wav(tmp_path / "line.wav", np.zeros(4000, np.float32), 16000)
    assert lipsync(tmp_path / "face.mp4", tmp_path / "line.wav", tmp_path / "out.mp4", generate) == 6
    from backend.cli import main

    command = ["lipsync", "--video", str(tmp_path / "face.mp4"), "--audio", str(tmp_path / "line.wav"),
               "--generator", str(tmp_path / "gen"), "--quiet"]
    assert main([*command, "--out", str(tmp_path / "cli.mp4")]) == 0
    assert len(read_video(tmp_path / "cli.mp4")[0]) == 6
    assert main([*command, "--out", str(tmp_path / "cli.mp4")]) == 1  # exists, no --overwrite
    assert main([*command, "--out", str(tmp_path / "cli.avi")]) == 1
    assert main([*command[:-3], "--generator", str(tmp_path / "none"), "--out", str(tmp_path / "x.mp4")]) == 1
