"""The Q-learning lip agent: its world (measures, actions, reward), training that resumes, and inference."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backend.lip_actions import ACTION_NAMES, N_ACTIONS, RELAX, LipSpace, lip_measures, reward
from tests.tiny_corpus import write_tiny_corpus

SPACE = LipSpace(neutral=[-20.0, 35.0, -60.0], low=[-40.0, 30.0, -75.0], high=[-15.0, 60.0, -45.0],
                 small=1.5, large=5.0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("qlearn-corpus"), per_voice=3, seconds=1.5)


def test_measures_and_reward_by_hand():
    # left corner, right corner, upper centre, lower centre (x, y) in pixels
    points = np.array([[200.0, 300.0], [260.0, 302.0], [231.0, 290.0], [229.0, 320.0]])
    u, l, c = lip_measures(points)
    assert (u, l, c) == pytest.approx((290 - 301, 320 - 301, 200 - 230))
    speaker = np.array([-11.0, 19.0, -30.0])
    agent = np.array([-9.0, 25.0, -31.0])
    assert reward(agent, speaker) == pytest.approx(-(2.0 ** 2 + 6.0 ** 2 + 1.0 ** 2))
    assert reward(speaker, speaker) == 0.0


def test_reward_is_zero_when_copying_the_speaker_on_corpus_frames(corpus):
    from training.qlearn_env import LipEnvironment

    env = LipEnvironment([corpus], "train", languages=("en",))
    targets = env.utterances[0].targets
    assert np.all(reward(targets, targets) == 0.0)
    assert np.ptp(targets[:, 1]) > 1.0  # the jaw moves the lower lip by pixels


def test_actions_move_the_measures_as_documented():
    assert len(ACTION_NAMES) == N_ACTIONS == 16
    start = np.array([-25.0, 40.0, -60.0], np.float32)
    moved = SPACE.all_moves(start) - start
    expected = {0: (0, 0, 0), 1: (-1.5, 0, 0), 2: (1.5, 0, 0), 3: (-5, 0, 0), 4: (5, 0, 0), 5: (0, 1.5, 0),
                6: (0, -1.5, 0), 7: (0, 5, 0), 8: (0, -5, 0), 9: (0, 0, -1.5), 10: (0, 0, 1.5), 11: (0, 0, -5),
                12: (0, 0, 5), 13: (-1.5, 5, 0), 14: (1.5, -5, 0)}
    for action, delta in expected.items():
        assert moved[action] == pytest.approx(delta), ACTION_NAMES[action]
    assert moved[RELAX] == pytest.approx((5.0, -5.0, 0.0))  # towards neutral, at most a large step each
    near = SPACE.apply(np.array([-21.0, 36.0, -60.0]), RELAX)
    assert near == pytest.approx(SPACE.neutral)


def test_actions_stay_inside_the_speakers_range():
    lips = SPACE.neutral
    for _ in range(40):
        lips = SPACE.apply(lips, 7)  # lower lip down, large
    assert lips[1] == pytest.approx(SPACE.high[1])
    batch = SPACE.apply(np.tile(SPACE.low, (N_ACTIONS, 1)), np.arange(N_ACTIONS))
    assert np.all(batch >= SPACE.low) and np.all(batch <= SPACE.high)


def test_greedy_oracle_beats_lazy_and_random(corpus):
    from training.qlearn_env import LipEnvironment, baseline_lips

    env = LipEnvironment([corpus], "test", languages=("en",))
    totals = {}
    for name in ("lazy", "random", "greedy"):
        totals[name] = sum(float(reward(baseline_lips(name, env.space, u.targets), u.targets).sum())
                           for u in env.utterances)
    assert totals["greedy"] > totals["lazy"] and totals["greedy"] > totals["random"]


def test_network_output_shapes():
    import torch

    from training.families.qlearn import QAgent, QLearnConfig

    for observe in (True, False):
        agent = QAgent(QLearnConfig(observe_lips=observe, channels=(4, 4, 4, 8)))
        q = agent(torch.zeros(5, 4800), torch.zeros(5, 3))
        assert q.shape == (5, 16)


def train(corpus, out, steps, extra=()):
    from training.train_qlearn import main

    argv = ["--data", str(corpus), "--out", str(out), "--languages", "en", "--steps", str(steps),
            "--learn-start", "64", "--episode-steps", "60", "--eval-every", "4", "--val-items", "2",
            "--channels", "4,4,4,8", "--batch-size", "8", "--target-every", "16", "--epsilon-decay-steps", "40",
            *extra]
    assert main(argv) == 0


def test_training_resumes_exactly_after_a_stop(corpus, tmp_path):
    from backend import checkpoints

    train(corpus, tmp_path / "whole", 12)
    train(corpus, tmp_path / "parts", 8)
    train(corpus, tmp_path / "parts", 12)
    whole = checkpoints.load(tmp_path / "whole" / "checkpoints" / "step-0000012")
    parts = checkpoints.load(tmp_path / "parts" / "checkpoints" / "step-0000012")
    assert sorted(whole.tensors) == sorted(parts.tensors)
    for name, value in whole.tensors.items():
        assert np.array_equal(value, parts.tensors[name]), name
    env_steps = 64 + 11 * 4  # the first update comes after the 64 warm-up steps, then one per 4 steps
    assert whole.extra["source"]["env_step"] == env_steps
    rows = (tmp_path / "parts" / "episodes.csv").read_text().splitlines()
    assert rows[0].startswith("episode,env_step,agent_reward,lazy_reward")
    assert len(rows) == 1 + env_steps // 60


def test_numpy_runtime_matches_torch_and_animates(corpus, tmp_path, monkeypatch):
    import soundfile
    import torch

    from backend import checkpoints
    from backend.runtime.qlearn import QLearnRuntime
    from training.families.qlearn import QAgent, QLearnConfig
    from training.qlearn_env import LipEnvironment
    from training.qlearn_eval import agent_lips

    train(corpus, tmp_path / "run", 4)
    stem = tmp_path / "run" / "model"
    saved = checkpoints.load(stem)
    agent = QAgent(QLearnConfig.from_dict(saved.config["model"]))
    agent.load_state_dict({k: torch.from_numpy(v) for k, v in saved.tensors.items()})
    runtime = QLearnRuntime.from_checkpoint(stem)
    env = LipEnvironment([corpus], "test", languages=("en",), space=runtime.space)
    audio, _ = soundfile.read(corpus / "audio" / f"{env.utterances[0].id}.wav", dtype="float32")
    measures = runtime.predict_measures(audio)
    assert measures.shape == (len(env.utterances[0].targets), 3)
    assert np.allclose(measures, agent_lips(agent, env, 0), atol=1e-4)
    assert runtime.lip_displacements(measures).shape == (len(measures), 20, 3)

    from backend.cli import main

    monkeypatch.setenv("MOUTHPIECE_QLEARN", str(stem))
    wav = corpus / "audio" / f"{env.utterances[0].id}.wav"
    assert main(["animate", "--audio", str(wav), "--model", "qlearn", "--out", str(tmp_path / "a.json")]) == 0
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["kind"] == "landmarks" and data["channels"][:3] == ["lip00_x", "lip00_y", "lip00_z"]
    assert len(data["channels"]) == 60 and len(data["values"]) == len(measures)
    assert np.isfinite(np.array(data["values"])).all()


def test_render_with_the_agent_writes_an_mp4_with_audio_and_video(corpus, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("bpy")
    repo = Path(__file__).resolve().parents[1]
    train(corpus, tmp_path / "run", 2)
    wav = sorted((corpus / "audio").glob("*.wav"))[0]
    video = tmp_path / "talk.mp4"
    env = {**__import__("os").environ, "MOUTHPIECE_QLEARN": str(tmp_path / "run" / "model")}
    done = subprocess.run([sys.executable, "-m", "blender_addon.render", "--audio", str(wav), "--model", "qlearn",
                           "--out-blend", str(tmp_path / "talk.blend"), "--out-video", str(video),
                           "--resolution", "64"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", str(video)],
                           capture_output=True, text=True)
    assert {s["codec_type"] for s in json.loads(probe.stdout)["streams"]} == {"video", "audio"}


def test_evaluation_writes_the_papers_figures_and_tables(corpus, tmp_path):
    from training.eval_qlearn import main

    train(corpus, tmp_path / "run", 8)
    out = tmp_path / "eval"
    assert main(["--runs", str(tmp_path / "run"), "--data", str(corpus), "--heldout-languages", "en",
                 "--librivox", str(tmp_path / "no-clips"), "--other-models", "", "--out", str(out)]) == 0
    for name in ("reward_per_episode.png", "loss_per_episode.png", "episode1_tail.png", "heldout.png",
                 "heldout_trace.png", "episodes.csv", "heldout_en.csv", "qlearn_eval.md"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "qlearn_eval.json").read_text())["heldout"]["en"]
    assert results["lazy"]["gap_closed"] == 0.0 and results["greedy"]["gap_closed"] == 1.0
    assert results["greedy"]["reward_per_frame"] > results["lazy"]["reward_per_frame"]
