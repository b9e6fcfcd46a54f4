"""Rendered corpus variety: identities and per-clip render variation (light, camera orbit, focal length,
background) in a real bpy render, the landmarks projected into every frame, blinks in the render, and
the default render unchanged when variation is off."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from backend import headmodel
from backend.errors import InputError
from backend.rig import FACEWAREHOUSE_46
from training.corpus import manifest as mf
from training.corpus.build import Utterance, build_utterance, check_config
from training.corpus.cli import main as corpus_main
from training.corpus.heads import identity_blend
from training.corpus.labels import LABEL_FPS
from training.corpus.render import crop_mouths, frame_weights, mouth_box, render_weights
from training.corpus.variation import Looks, RenderVariation, orbit, sample_variation
from training.corpus.voices import catalogue

LOOKS = Looks(seed=0, identities=3, vary_render=True)
TEXT = "Bob, pop up."


def utterance(index: int) -> Utterance:
    from backend.articulation import ArticulationStyle

    voice = catalogue(("en",), ids=("espeak:en-us",))[0]
    return Utterance(f"u{index:06d}-en", "en", voice, "train", TEXT, 170.0, 50, ArticulationStyle(), 1.0)


def two_faces() -> list[int]:
    """Utterance numbers whose identities differ, the first not the default head."""
    first = next(i for i in range(100) if LOOKS.identity_of(f"u{i:06d}-en") != 0)
    second = next(i for i in range(100) if LOOKS.identity_of(f"u{i:06d}-en")
                  != LOOKS.identity_of(f"u{first:06d}-en"))
    return [first, second]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("varied")
    records = [build_utterance(utterance(i), root, True, True, LOOKS) for i in two_faces()]
    records.append(build_utterance(utterance(99), root, True, True, Looks()))
    return root, records


def frames_of(root: Path, record: dict) -> dict[str, np.ndarray]:
    with np.load(root / record["frames"]) as data:
        return {key: data[key] for key in data.files}


def test_records_name_their_identity_and_render(shots):
    root, records = shots
    varied, plain = records[:2], records[2]
    assert [r["identity"] for r in varied] == [LOOKS.identity_of(r["id"]) for r in varied]
    assert varied[0]["identity"] != varied[1]["identity"] and varied[0]["identity"] != 0
    names = {f.name for f in fields(RenderVariation)}
    for record in varied:
        assert set(record["render"]) == names
        assert RenderVariation(**{**record["render"], "background": tuple(record["render"]["background"])}) == \
            LOOKS.variation_of(record["id"])
        json.dumps(record)
    assert plain["identity"] == 0 and plain["render"] is None
    assert all(mf.record_is_complete(root, r) for r in records)
    assert sorted(p.name for p in (root / "heads").iterdir()) == sorted(
        f"head_identity_{r['identity']:03d}{suffix}" for r in varied if r["identity"]  # 0: the shipped head
        for suffix in (".blend", "_landmarks.npz"))


def test_projected_landmarks_follow_the_varied_camera_onto_the_lips(shots):
    root, records = shots
    for record in records[:2]:
        frames = frames_of(root, record)
        face, marks = frames["face"], frames["landmarks2d"]
        count = int(np.ceil(record["duration_s"] * 25 - 1e-9))
        assert marks.shape == (count, 68, 2) and marks.dtype == np.float32
        assert frames["mouth"].shape == (count, 96, 96, 3)
        assert np.isfinite(marks).all() and ((marks[:, 17:] > 0) & (marks[:, 17:] < 256)).all()  # the chin may leave
        background = face[:, 2, 2].astype(np.float32)
        t = np.arange(count)
        gap = marks[:, 66, 1] - marks[:, 62, 1]
        opened = gap > 6.0
        assert opened.sum() >= 2, "the utterance opens the mouth"
        # Over the lips' outer landmarks the frame shows the head, not the background.
        outer = np.round(marks[:, 48:60]).astype(int)
        lips = face[t[:, None], outer[..., 1], outer[..., 0]].astype(np.float32)
        assert np.abs(lips - background[:, None]).sum(axis=2).min() > 20
        # Between the inner lips of an open mouth lies the inside of the mouth, not skin.
        middle = np.round(0.5 * (marks[:, 62] + marks[:, 66])).astype(int)
        inside = face[t, middle[:, 1], middle[:, 0]].astype(np.float32).sum(axis=1)
        nose = np.round(marks[:, 30]).astype(int)
        skin = face[t, nose[:, 1], nose[:, 0]].astype(np.float32).sum(axis=1)
        assert (np.abs(inside - skin)[opened] > 40).all()


def test_identities_render_different_faces(shots):
    root, records = shots
    weights = np.zeros((2, 46), np.float32)
    weights[1, FACEWAREHOUSE_46.index("JawOpen")] = 0.6
    default = render_weights(weights, FACEWAREHOUSE_46)
    other = render_weights(weights, FACEWAREHOUSE_46, identity_blend(root, records[0]["identity"]))
    assert np.abs(default.face.astype(np.float32) - other.face).mean() > 3.0
    assert not np.allclose(default.landmarks2d, other.landmarks2d, atol=0.5)


def test_variation_off_renders_todays_frames(shots):
    root, records = shots
    plain = records[2]
    frames = frames_of(root, plain)
    with np.load(root / plain["labels"]) as labels:
        weights = frame_weights(labels["weights"], LABEL_FPS, plain["duration_s"])
    again = render_weights(weights, FACEWAREHOUSE_46)
    assert np.array_equal(frames["face"], again.face)
    assert np.array_equal(frames["mouth"], crop_mouths(frames["face"], mouth_box(256)))
    head = headmodel.load()
    expected = head.project(head.landmarks(weights)) * (256 / head.resolution[0])
    np.testing.assert_allclose(frames["landmarks2d"], expected, atol=1e-3)


def test_blinks_are_rendered():
    weights = np.zeros((3, 46), np.float32)
    weights[1, FACEWAREHOUSE_46.index("EyeBlink_L")] = 1.0
    weights[2, FACEWAREHOUSE_46.index("EyeBlink_R")] = 1.0
    frames = render_weights(weights, FACEWAREHOUSE_46)
    face, marks = frames.face.astype(np.float32), frames.landmarks2d

    def eye_change(frame: int, first: int) -> float:  # iBUG 36-41: the character's right eye, 42-47: left
        x0, y0 = np.floor(marks[0, first:first + 6].min(axis=0)).astype(int)
        x1, y1 = np.ceil(marks[0, first:first + 6].max(axis=0)).astype(int)
        return float(np.abs(face[frame, y0:y1 + 1, x0:x1 + 1] - face[0, y0:y1 + 1, x0:x1 + 1]).mean())

    assert eye_change(1, 42) > 10 * max(eye_change(1, 36), 0.5)
    assert eye_change(2, 36) > 10 * max(eye_change(2, 42), 0.5)
    lids = marks[1, 43:45, 1].mean() - marks[0, 43:45, 1].mean()  # the left upper lid comes down
    assert lids > 3.0


def test_looks_are_deterministic_and_within_range():
    ids = [f"u{i:06d}-en" for i in range(200)]
    chosen = [LOOKS.identity_of(u) for u in ids]
    assert chosen == [Looks(0, 3, True).identity_of(u) for u in ids] and set(chosen) == {0, 1, 2}
    assert [Looks(1, 3, True).identity_of(u) for u in ids] != chosen
    assert Looks().identity_of(ids[0]) == 0 and Looks().variation_of(ids[0]) is None
    for seed in range(50):
        v = sample_variation(seed)
        assert abs(v.yaw_deg) <= 10 and abs(v.pitch_deg) <= 10 and 0.9 <= v.focal_scale <= 1.1
        assert all(0.0 <= c <= 1.0 for c in v.background)
    assert len({sample_variation(s) for s in range(20)}) == 20


def test_the_camera_orbits_at_its_distance():
    location, target = np.array([0.0, -0.54, 0.004]), np.array([0.0, 0.0, -0.014])
    np.testing.assert_allclose(orbit(location, target, 0.0, 0.0), location, atol=1e-12)
    moved = orbit(location, target, 10.0, -5.0)
    assert np.linalg.norm(moved - target) == pytest.approx(np.linalg.norm(location - target))
    assert moved[0] > 0 and moved[2] < location[2]  # toward +X, and lower
    before, after = location - target, moved - target
    angle = np.degrees(np.arccos(before @ after / np.linalg.norm(before) / np.linalg.norm(after)))
    assert angle == pytest.approx(np.hypot(10.0, 5.0), abs=0.3)


def test_a_resume_with_other_looks_is_refused(tmp_path):
    mf.write_json(tmp_path / mf.CONFIG, {"seed": 0, "languages": ["en"], "voices": ["espeak:en-us"],
                                         "render": True, "label_fps": 100.0, "blinks": True})
    same = {"seed": 0, "languages": ["en"], "voices": ["espeak:en-us"], "render": True, "label_fps": 100.0,
            "blinks": True, "identities": 0, "vary_render": False}
    check_config(tmp_path, same)  # a corpus from before identities: the default head, no variation
    for key, value in (("identities", 4), ("vary_render", True)):
        with pytest.raises(InputError, match=key):
            check_config(tmp_path, {**same, key: value})


def test_the_command_line_passes_its_looks_to_every_utterance(tmp_path, monkeypatch, capsys):
    from training.corpus import build as corpus_build

    seen = []
    real = corpus_build.build_utterance

    def without_frames(utterance, root, render, blinks=True, looks=Looks()):
        seen.append((render, looks))
        return real(utterance, root, False, blinks, looks)  # the rendering itself is tested above

    monkeypatch.setattr(corpus_build, "build_utterance", without_frames)
    args = ["--out", str(tmp_path / "c"), "--minutes", "0.02", "--languages", "en", "--voices", "espeak:en-us",
            "--workers", "1", "--render", "--seed", "4", "--quiet"]
    assert corpus_main(args + ["--identities", "3", "--vary-render"]) == 0
    assert seen and all(entry == (True, Looks(4, 3, True)) for entry in seen)
    config = json.loads((tmp_path / "c" / mf.CONFIG).read_text())
    assert config["identities"] == 3 and config["vary_render"] is True
    capsys.readouterr()
    assert corpus_main(args + ["--minutes", "0.05", "--identities", "2", "--vary-render"]) == 1
    assert "identities=3" in capsys.readouterr().err
    assert corpus_main(args + ["--minutes", "0.05", "--identities", "3"]) == 1
    assert "vary_render=True" in capsys.readouterr().err


def test_looks_need_render(tmp_path, capsys):
    assert corpus_main(["--out", str(tmp_path / "c"), "--minutes", "0.02", "--languages", "en",
                        "--voices", "espeak:en-us", "--identities", "3", "--quiet"]) == 1
    assert "need --render" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
