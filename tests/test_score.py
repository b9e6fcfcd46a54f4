"""`mouthpiece score`: resampling, landmark takes, the offset's sign, outputs and errors (a random expert),
and the shipped expert ranking takes as an artist would (in sync > shifted > closed mouth)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend import checkpoints
from backend.animation import Animation, save_json
from backend.audio import save_wav
from backend.cli import main
from backend.facemesh import default_head_mesh
from backend.rig import FACEWAREHOUSE_46
from backend.score import CHECKPOINT_FOLDER, frames_at_25, shifted, weights_for

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "assets" / "models" / CHECKPOINT_FOLDER / "model"
JAW = FACEWAREHOUSE_46.index("JawOpen")


def jaw_take(fps: float, seconds: float, lag_s: float = 0.0) -> Animation:
    times = np.arange(int(seconds * fps)) / fps - lag_s
    values = np.zeros((len(times), 46), dtype=np.float32)
    values[:, JAW] = 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * times)
    return Animation(fps, list(FACEWAREHOUSE_46), values)


def test_frames_at_25_resample_and_shift_in_seconds():
    take = jaw_take(100.0, 2.0)
    at_25 = frames_at_25(take)
    assert at_25.shape == (50, 46)
    np.testing.assert_allclose(at_25[:, JAW], take.values[::4, JAW], atol=1e-5)
    late = shifted(take, 3)  # three 25 fps frames = 0.12 s later
    np.testing.assert_allclose(late.values[40:, JAW], jaw_take(100.0, 2.0, lag_s=0.12).values[40:, JAW], atol=1e-4)


def test_landmark_takes_are_solved_onto_the_head():
    mesh = default_head_mesh()
    weights = np.zeros((10, 46), dtype=np.float32)
    weights[:, JAW] = np.linspace(0, 1, 10)
    lips = mesh.landmarks(weights)[:, 48:68] - mesh.landmarks(np.zeros((1, 46)))[:, 48:68]
    channels = [f"lip{i:02d}_{axis}" for i in range(20) for axis in "xyz"]
    take = Animation(25.0, channels, lips.reshape(10, 60), kind="landmarks")
    solved = weights_for(mesh, take)
    assert solved.shape == (10, 46)
    assert np.corrcoef(solved[:, JAW], weights[:, JAW])[0, 1] > 0.95


def test_score_command_writes_json_curve_and_fixed_take(tiny_expert, tmp_path, capsys):
    take = jaw_take(30.0, 3.0)
    save_json(take, tmp_path / "take.json")
    audio = 0.1 * np.sin(2 * np.pi * 220 * np.arange(48000) / 16000).astype(np.float32)
    save_wav(tmp_path / "take.wav", audio, 16000)
    args = ["score", "--animation", str(tmp_path / "take.json"), "--audio", str(tmp_path / "take.wav"),
            "--expert", str(tiny_expert), "--json", str(tmp_path / "score.json"),
            "--curve", str(tmp_path / "curve.png"), "--fixed-out", str(tmp_path / "fixed.json")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "LSE-C" in printed and "offset" in printed
    score = json.loads((tmp_path / "score.json").read_text())
    assert np.isfinite(score["confidence"]) and np.isfinite(score["distance"]) and score["frames"] == 75
    assert -15 <= score["offset_frames"] <= 15 and len(score["curve"]) == 3
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    fixed = json.loads((tmp_path / "fixed.json").read_text())
    assert len(fixed["values"]) == take.n_frames
    assert main(args) == 1  # outputs exist: nothing is overwritten without --overwrite
    assert "exists" in capsys.readouterr().err


def test_score_errors_are_one_line(tiny_expert, tmp_path, capsys):
    save_json(jaw_take(30.0, 0.1), tmp_path / "short.json")
    save_wav(tmp_path / "short.wav", np.zeros(1600, np.float32), 16000)
    common = ["--audio", str(tmp_path / "short.wav"), "--expert", str(tiny_expert)]
    assert main(["score", "--animation", str(tmp_path / "short.json"), *common]) == 1
    assert "too short to score" in capsys.readouterr().err
    assert main(["score", "--animation", str(tmp_path / "none.json"), *common]) == 1
    assert "none.json: file not found" in capsys.readouterr().err
    assert main(["score", "--animation", str(tmp_path / "short.json"), "--audio", str(tmp_path / "short.wav"),
                 "--expert", str(tmp_path / "nothing")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.skipif(not checkpoints.paths(SHIPPED)[1].is_file(), reason="no shipped lip-sync expert")
def test_the_shipped_expert_ranks_takes_and_finds_their_offset(tmp_path):
    from backend.api import AnimateOptions, animate_text
    from backend.audio import load_audio
    from backend.facerender import Camera
    from backend.headmodel import load as load_head_model
    from backend.runtime.sync_expert import SyncExpert
    from backend.score import score_animation

    line = "Peter bought a bag of plums, and we watched the big boat move away from the harbour."
    take = animate_text(line, AnimateOptions(fps=25.0), speech_out=tmp_path / "line.wav")
    audio = load_audio(tmp_path / "line.wav")
    head, expert = load_head_model(), SyncExpert.load(SHIPPED)
    camera = Camera(head.world_to_camera, head.intrinsics)

    def score(anim):
        return score_animation(anim, audio, default_head_mesh(), camera, expert)

    in_sync, late, closed = score(take), score(shifted(take, 5)), score(Animation(25.0, take.channels,
                                                                                  np.zeros_like(take.values)))
    assert in_sync.in_time_confidence > late.in_time_confidence
    assert in_sync.in_time_confidence > closed.in_time_confidence
    assert in_sync.expert < closed.expert
    for k in (-4, 3, 6):
        assert abs(score(shifted(take, k)).offset_frames - (in_sync.offset_frames + k)) <= 1
    assert abs(in_sync.offset_frames) <= 1
