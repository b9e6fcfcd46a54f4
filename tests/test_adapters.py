"""Real-dataset adapters on fixture trees laid out like RAVDESS, VIDTIMIT, LRS3 and GRID. Every clip is
the default head rendered by bpy speaking a synthesized line, so the tracked landmarks have a truth."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backend.articulation import articulate
from backend.headmodel import inner_lip_gap, load as load_head
from backend.rig import FACEWAREHOUSE_46
from backend.text import synthesize
from training.corpus import manifest as mf
from training.corpus.labels import label_frames
from training.corpus.render import render_weights
from training.dataset import CorpusDataset
from training.datasets.cli import main as import_main

pytest.importorskip("mediapipe")
FPS = 25


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # (T, 256, 256, 3) uint8
    audio: np.ndarray  # 16 kHz
    true_gap: np.ndarray  # (T,) inner-lip gap of the head at each frame


@pytest.fixture(scope="module")
def clip() -> Clip:
    speech = synthesize("Bob, pop up a map.", language="en", voice="en-us", rate_wpm=150)
    weights = articulate(speech.timeline, fps=FPS, duration_s=speech.duration).values
    frames = render_weights(weights, FACEWAREHOUSE_46)
    gap = inner_lip_gap(load_head().landmarks(weights))
    return Clip(frames.face, speech.audio, gap)


def ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    subprocess.run(["ffmpeg", "-nostdin" if stdin is None else "-hide_banner", "-y", "-loglevel", "error", *args],
                   input=stdin, check=True)


def write_video(clip: Clip, path: Path, tmp: Path, codec: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = tmp / f"{path.stem}-sound.wav"
    soundfile.write(wav, clip.audio, 16000)
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "256x256", "-r", str(FPS), "-i", "-", "-i", str(wav),
           *codec, str(path), stdin=clip.frames.tobytes())


def mp4(clip: Clip, path: Path, tmp: Path) -> None:
    write_video(clip, path, tmp, ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac"])


def mpg(clip: Clip, path: Path, tmp: Path) -> None:
    write_video(clip, path, tmp, ["-c:v", "mpeg1video", "-q:v", "2", "-c:a", "mp2", "-ar", "44100"])


def jpeg_folder(clip: Clip, folder: Path) -> None:
    """VIDTIMIT keeps frames as JPEG files named 001, 002, ... without an extension."""
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "256x256", "-r", str(FPS), "-i", "-", "-q:v", "2",
           str(folder / "%03d.jpg"), stdin=clip.frames.tobytes())
    for image in folder.glob("*.jpg"):
        image.rename(image.with_suffix(""))


def ravdess_tree(clip: Clip, root: Path, tmp: Path) -> int:
    for name in ("Actor_01/01-01-01-01-01-01-01", "Actor_02/01-01-03-02-02-01-02", "Actor_03/01-01-05-01-01-02-03"):
        mp4(clip, root / f"{name}.mp4", tmp)
    mp4(clip, root / "Actor_01/02-01-01-01-01-01-01.mp4", tmp)  # video only: skipped
    mp4(clip, root / "Actor_01/01-02-01-01-01-01-01.mp4", tmp)  # song: skipped
    return 3


def vidtimit_tree(clip: Clip, root: Path, tmp: Path) -> int:
    for speaker, sentence in (("fadg0", "sa1"), ("mcem0", "sx100")):
        jpeg_folder(clip, root / speaker / "video" / sentence)
        (root / speaker / "audio").mkdir(parents=True, exist_ok=True)
        soundfile.write(root / speaker / "audio" / f"{sentence}.wav", clip.audio, 16000)
    jpeg_folder(clip, root / "fadg0" / "video" / "head")  # head rotation, no audio: skipped
    return 2


def lrs3_tree(clip: Clip, root: Path, tmp: Path) -> int:
    transcript = "Text:  BOB POP UP A MAP\nConf:  4\n\nWORD START END ASDSCORE\nBOB 0.05 0.30 3.1\nMAP 0.80 1.10 2.9\n"
    for subset, video_id in (("trainval", "0af00UcTOSc"), ("trainval", "1BHOflzxPjI"), ("test", "0Fi83BHQsMA")):
        mp4(clip, root / subset / video_id / "00001.mp4", tmp)
        (root / subset / video_id / "00001.txt").write_text(transcript)
    return 3


def grid_tree(clip: Clip, root: Path, tmp: Path) -> int:
    align = "0 2000 sil\n2000 8000 bin\n8000 14000 blue\n14000 20000 at\n20000 30000 sil\n"
    for speaker, stem in (("s1", "bbaf2n"), ("s2", "lgwt5a"), ("s3", "pric8p")):
        mpg(clip, root / speaker / f"{stem}.mpg", tmp)
        (root / "alignments" / speaker).mkdir(parents=True, exist_ok=True)
        (root / "alignments" / speaker / f"{stem}.align").write_text(align)
    return 3


TREES = {"ravdess": ravdess_tree, "vidtimit": vidtimit_tree, "lrs3": lrs3_tree, "grid": grid_tree}


@pytest.mark.parametrize("kind", list(TREES))
def test_adapter_turns_fixture_tree_into_a_valid_manifest(kind, clip, tmp_path):
    root, out = tmp_path / kind, tmp_path / "out"
    expected = TREES[kind](clip, root, tmp_path)
    assert import_main(["--kind", kind, "--root", str(root), "--out", str(out), "--tracker", "mediapipe",
                        "--quiet"]) == 0
    records = mf.read_manifest(out, strict=True)
    assert len(records) == expected
    splits = mf.read_splits(out)
    assert not set(splits["train"]) & (set(splits["val"]) | set(splits["test"]))
    assert not set(splits["val"]) & set(splits["test"])
    head = load_head()
    for record in records:
        assert record["engine"] == kind and record["voice"] in splits[record["split"]]
        audio, rate = soundfile.read(out / record["audio"])
        assert rate == 16000 and len(audio) / rate == pytest.approx(len(clip.audio) / 16000, abs=0.1)
        with np.load(out / record["labels"]) as labels:
            frames = label_frames(record["duration_s"])
            assert float(labels["fps"]) == 100.0 and labels["weights"].shape == (0, 46)
            assert labels["landmarks3d"].shape == (frames, 68, 3) and labels["landmarks2d"].shape == (frames, 68, 2)
            # The tracked mouth follows the rendered one: pixels, and the pose-normalised head landmarks.
            at_frames = np.minimum(np.arange(len(clip.true_gap)) * 4, frames - 1)
            tracked_gap = inner_lip_gap(labels["landmarks2d"][at_frames])
            normalised_gap = inner_lip_gap(labels["landmarks3d"][at_frames])
            assert np.corrcoef(tracked_gap, clip.true_gap)[0, 1] > 0.7
            assert np.corrcoef(normalised_gap, clip.true_gap)[0, 1] > 0.7
            # Speaker-relative displacements sit on the default head: near its neutral on average.
            offset = np.abs(labels["landmarks3d"].mean(axis=0) - head.neutral).max()
            assert offset < 0.2 * np.ptp(head.neutral[:, 0])
    if kind == "lrs3":
        assert {r["split"] for r in records if "-test-" in r["id"]} == {"test"}
        assert records[0]["text"] == "Bob pop up a map"
    if kind == "grid":
        assert records[0]["text"] == "Bin blue at"


def test_imported_corpus_feeds_the_landmark_views(clip, tmp_path):
    root, out = tmp_path / "grid", tmp_path / "out"
    grid_tree(clip, root, tmp_path)
    assert import_main(["--kind", "grid", "--root", str(root), "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / mf.CONFIG).read_text())
    assert config["source"] == "grid"
    item = CorpusDataset(out, None, "mel80")[0]
    assert item["x"].shape[1] == 80 and item["y"].shape[1:] == (20, 3)
    assert import_main(["--kind", "grid", "--root", str(root), "--out", str(out), "--quiet"]) == 0  # resumes
    assert len(mf.read_manifest(out)) == 3


def test_missing_or_empty_dataset_is_a_clear_error(tmp_path, capsys):
    assert import_main(["--kind", "ravdess", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    assert "not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert import_main(["--kind", "grid", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 1
    assert "no grid clips" in capsys.readouterr().err
