"""The `mouthpiece` command line, run as a user runs it: a subprocess, exit codes, files on disk."""
import json
import subprocess
import sys

import numpy as np
import pytest

from backend.animation import load_json
from backend.rig import FACEWAREHOUSE_46

from conftest import REPO


def mouthpiece(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "backend.cli", *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=600)


def test_text_to_animation_json_and_speech(tmp_path):
    out, wav = tmp_path / "line.json", tmp_path / "line.wav"
    result = mouthpiece("animate", "--text", "Bob made a map.", "--out", out, "--speech-out", wav, "--quiet")
    assert result.returncode == 0, result.stderr
    anim = load_json(out)
    data = json.loads(out.read_text())
    assert data["format"] == "mouthpiece.animation" and anim.channels == list(FACEWAREHOUSE_46)
    assert anim.fps == 30.0 and 0 <= anim.values.min() and anim.values.max() <= 1
    import soundfile
    info = soundfile.info(wav)
    assert abs(info.duration - anim.duration_s) < 0.05
    labels = [p[0] for p in anim.meta["phones"]]
    assert {"B", "M", "P"} <= set(labels)


def test_spanish_text_animates(tmp_path):
    out = tmp_path / "hola.json"
    result = mouthpiece("animate", "--text", "Hola, me llamo Pablo y vivo en Madrid.", "--language", "es",
                        "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    anim = load_json(out)
    assert anim.meta["phone_set"] == "spanish"
    assert anim.channel("JawOpen").max() > 0.4
    assert {"P", "B", "M"} & {p[0] for p in anim.meta["phones"]}


def test_audio_with_transcript(tmp_path, librivox_clips):
    clip = librivox_clips[1]
    out = tmp_path / "clip.csv"
    transcript = clip.with_suffix(".txt")
    result = mouthpiece("animate", "--audio", clip, "--transcript-file", transcript, "--fps", 24, "--out", out)
    assert result.returncode == 0, result.stderr
    rows = out.read_text().splitlines()
    assert rows[0].startswith("frame,time_s,EyeBlink_L")
    import soundfile
    assert abs((len(rows) - 1) / 24 - soundfile.info(clip).duration) < 0.1


def test_models_lists_the_registry():
    result = mouthpiece("models")
    assert result.returncode == 0
    assert result.stdout.startswith("phonemes") and "ready" in result.stdout.splitlines()[0]


@pytest.mark.parametrize("args,problem", [
    (["--audio", "nowhere.wav"], "nowhere.wav: audio file not found"),
    (["--text", "   "], "no text given"),
    (["--text", "hello", "--language", "xx-nonexistent"], "xx-nonexistent"),
    (["--text", "hello", "--model", "nope"], "unknown model 'nope'"),
    (["--audio", "x.wav", "--transcript-file", "missing.txt"], "missing.txt: transcript file not found"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, problem):
    result = mouthpiece("animate", *args, "--out", tmp_path / "o.json", "--quiet", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0], result.stderr
    assert not (tmp_path / "o.json").exists()


def test_silent_audio_is_rejected(tmp_path):
    import soundfile
    soundfile.write(tmp_path / "silence.wav", np.zeros(16000, dtype=np.float32), 16000)
    result = mouthpiece("animate", "--audio", tmp_path / "silence.wav", "--out", tmp_path / "o.json", "--quiet")
    assert result.returncode == 1 and "silence.wav: audio is silent" in result.stderr


def test_existing_output_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "keep.json"
    out.write_text("mine")
    result = mouthpiece("animate", "--text", "hello", "--out", out, "--quiet")
    assert result.returncode == 1 and "--overwrite" in result.stderr
    assert out.read_text() == "mine"
