"""`mouthpiece-train faces`: lower-face clips of corpus utterances, identities held out, resumable."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backend.audio import save_wav
from backend.errors import InputError
from backend.rig import FACEWAREHOUSE_46
from training.faces_set import FacesArgs, build, main

JAW = FACEWAREHOUSE_46.index("JawOpen")


def tiny_corpus(root, frames_npz: bool = False):
    (root / "labels").mkdir(parents=True)
    (root / "audio").mkdir()
    records = []
    for number, split in enumerate(("train", "train", "val")):
        uid = f"u{number}"
        weights = np.zeros((100, 46), dtype=np.float32)
        weights[:, JAW] = 0.5 + 0.5 * np.sin(np.arange(100) / 8.0)
        np.savez(root / "labels" / f"{uid}.npz", weights=weights, fps=np.float32(100.0))
        save_wav(root / "audio" / f"{uid}.wav", np.zeros(16000, dtype=np.float32), 16000)
        record = {"id": uid, "split": split, "voice": f"v{number}", "audio": f"audio/{uid}.wav", "language": "en",
                  "engine": "espeak", "text": "a line", "sample_rate": 16000,
                  "labels": f"labels/{uid}.npz", "duration_s": 1.0, "frames": None}
        if frames_npz and number == 0:
            face = np.full((25, 256, 256, 3), 30, dtype=np.uint8)
            face[:, 128:, 64:192] = 220
            landmarks = np.zeros((25, 68, 2), dtype=np.float32)
            landmarks[:, :27] = np.stack([np.linspace(64, 192, 27), np.linspace(40, 200, 27)], axis=1)
            np.savez(root / "frames.npz", face=face, mouth=face[:, :96, :96], landmarks2d=landmarks)
            record["frames"] = "frames.npz"
        records.append(record)
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def read(out):
    lines = (out / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def test_builds_clips_with_held_out_identities_and_resumes(tmp_path):
    tiny_corpus(tmp_path / "corpus")
    args = FacesArgs([str(tmp_path / "corpus")], str(tmp_path / "faces"), identities=4, vary_render=True)
    assert build(args) == 3
    records = read(tmp_path / "faces")
    assert [r["id"] for r in records] == ["u0-soft", "u1-soft", "u2-soft"]
    train_ids = {r["identity"] for r in records if r["split"] == "train"}
    val_ids = {r["identity"] for r in records if r["split"] == "val"}
    assert train_ids <= set(range(4)) and val_ids <= {4} and val_ids
    for record in records:
        lower = np.load(tmp_path / "faces" / record["frames"])["lower"]
        assert lower.shape == (25, 48, 96, 3) and lower.dtype == np.uint8 and record["n_frames"] == 25
        assert record["audio"].endswith(f"{record['id'][:2]}.wav") and record["render"]["focal_scale"] > 0
    assert lower.std(axis=0).max() > 20  # the jaw moves
    assert json.loads((tmp_path / "faces" / "faces.json").read_text())["crop"] == [48, 96]
    assert build(args) == 0  # resumed: nothing left to do
    (tmp_path / "faces" / "frames" / "u1-soft.npz").unlink()  # a clip whose frames were lost
    with open(tmp_path / "faces" / "manifest.jsonl", "a") as manifest:
        manifest.write('{"id": "u9-so')  # a kill mid-line
    assert build(args) == 1  # the clip whose frames are gone is made again
    assert [r["id"] for r in read(tmp_path / "faces")[-1:]] == ["u1-soft"]
    with pytest.raises(InputError, match="faces.json: this faces set was built with other settings"):
        build(FacesArgs(args.corpus, args.out, identities=2))


def test_blender_frames_are_cropped_as_a_second_clip(tmp_path, capsys):
    tiny_corpus(tmp_path / "corpus", frames_npz=True)
    assert main(["--corpus", str(tmp_path / "corpus"), "--out", str(tmp_path / "faces"), "--workers", "2"]) == 0
    assert "wrote 4 clips" in capsys.readouterr().out
    blender = [r for r in read(tmp_path / "faces") if r["id"].endswith("-blender")]
    assert len(blender) == 1 and blender[0]["render"] is None
    lower = np.load(tmp_path / "faces" / blender[0]["frames"])["lower"]
    assert lower.shape == (25, 48, 96, 3)
    assert lower[:, :, 10:86].min() >= 200  # the bright lower half of the face box


def test_not_a_corpus_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="not a corpus folder"):
        build(FacesArgs([str(tmp_path)], str(tmp_path / "faces")))


def test_imported_video_frames_are_cropped_along_the_tracked_face(tmp_path):
    import cv2

    root = tmp_path / "imported"
    (root / "labels").mkdir(parents=True)
    (root / "frames").mkdir()
    save_wav(root / "clip.wav", np.zeros(16000, dtype=np.float32), 16000)
    landmarks = np.zeros((100, 68, 2), dtype=np.float32)
    for t in range(100):  # the face drifts right by 40 px over the second
        x0 = 40 + 0.4 * t
        landmarks[t, :27] = np.stack([np.linspace(x0, x0 + 100, 27), np.linspace(20, 120, 27)], axis=1)
    for i in range(30):  # 30 fps frames: a bright lower face under the drifting box
        image = np.zeros((200, 240, 3), dtype=np.uint8)
        x0 = int(round(40 + 0.4 * (i / 30 * 100)))
        image[75:130, x0:x0 + 100] = 230
        cv2.imwrite(str(root / "frames" / f"{i:03d}.png"), image)
    np.savez(root / "labels" / "clip.npz", weights=np.zeros((0, 46), np.float32), fps=np.float32(100.0),
             landmarks2d=landmarks)
    record = {"id": "clip", "language": "en", "voice": "s1", "engine": "grid", "split": "train", "text": "bin blue",
              "duration_s": 1.0, "sample_rate": 16000, "audio": "clip.wav", "labels": "labels/clip.npz",
              "frames": None, "video_fps": 30.0, "source": str(root / "frames")}
    (root / "manifest.jsonl").write_text(json.dumps(record) + "\n")
    assert build(FacesArgs([str(root)], str(tmp_path / "faces"))) == 1
    (clip,) = read(tmp_path / "faces")
    assert clip["id"] == "clip-video" and clip["n_frames"] == 25
    lower = np.load(tmp_path / "faces" / clip["frames"])["lower"]
    assert lower.shape == (25, 48, 96, 3)
    assert lower[:, :20, 8:88].mean() > 200  # the bright region stays inside the crop as the face moves
