"""`mouthpiece render` and the single-line `batch.py` on bad input: one clear line, the user's files intact;
and the video container follows the file's extension."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

BPY5_PYTHON = REPO / ".venv-bpy5" / "bin" / "python"
DEFAULT_HEAD = REPO / "assets" / "head.blend"
BPY_PYTHON = sys.executable if importlib.util.find_spec("bpy") else (str(BPY5_PYTHON) if BPY5_PYTHON.is_file() else None)

pytestmark = pytest.mark.skipif(BPY_PYTHON is None or not DEFAULT_HEAD.is_file(), reason="no Python with bpy, or no head")


def render(*args, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([BPY_PYTHON, "-m", "blender_addon.render", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def run_with_repo(command, cwd, env=None) -> subprocess.CompletedProcess:
    env = dict(env or os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mouthpiece: error: "), done.stderr[-2000:]
    return lines[0][len("mouthpiece: error: "):]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "notes.blend").write_text("not a blend file")
    (tmp_path / "afile").write_text("a file where a folder should be")
    return tmp_path


@pytest.mark.parametrize("args, problem", [
    (["--blend", "notes.blend", "--out-blend", "o.blend"], "notes.blend: is not a .blend file"),
    (["--blend", "missing.blend", "--out-blend", "o.blend"], "missing.blend: blend file not found"),
    (["--out-blend", "afile/o.blend"], "{dir}/afile/o.blend: cannot be written: {dir}/afile is a file, not a folder"),
    (["--out-blend", "/proc/mouthpiece/o.blend"], "/proc/mouthpiece/o.blend: cannot be written (No such file or directory)"),
    (["--out-blend", "notes.txt"], "{dir}/notes.txt: must end in .blend"),
    (["--out-blend", "o.blend", "--resolution", "0"], "--resolution 0: give an even number of pixels from 16 to 8192"),
    (["--out-blend", "o.blend", "--resolution", "-5"], "--resolution -5: give an even number of pixels from 16 to 8192"),
    (["--out-blend", "o.blend", "--out-video", "o.gif"],
     "o.gif: unsupported video format '.gif'; use one of .mp4, .mov, .mkv, .avi"),
])
def test_bad_render_input_is_one_line_and_touches_nothing(workdir, args, problem):
    before = snapshot(workdir)
    done = render("--text", "Bob made a map.", *args, cwd=workdir)
    assert one_error_line(done) == problem.format(dir=workdir)
    assert snapshot(workdir) == before


def test_text_speech_is_not_replaced_without_overwrite(workdir):
    speech = workdir / "talk_speech.wav"
    speech.write_bytes(b"the artist's own recording")
    done = render("--text", "Bob made a map.", "--out-blend", "talk.blend", cwd=workdir)
    assert one_error_line(done) == f"{speech}: already exists; pass --overwrite to replace it"
    batch = run_with_repo([BPY_PYTHON, REPO / "blender_addon" / "batch.py", "--", "--text", "Bob made a map.",
                           "--out", "talk.blend"], cwd=workdir)
    assert one_error_line(batch) == f"{speech}: already exists; pass --overwrite to replace it"
    assert speech.read_bytes() == b"the artist's own recording" and not (workdir / "talk.blend").exists()


def test_m4a_leaves_no_decoded_audio_and_avi_is_avi(workdir):
    scratch = workdir / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    first = render("--text", "Bob made a map.", "--out-blend", "talk.blend", cwd=workdir, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    m4a = workdir / "talk.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", workdir / "talk_speech.wav", "-c:a", "aac", m4a], check=True)
    done = render("--audio", m4a, "--transcript", "Bob made a map.", "--out-blend", "m4a.blend", "--out-video", "m4a.avi",
                  "--resolution", "32", cwd=workdir, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(scratch.iterdir()) == []
    assert "EGL" not in done.stderr + done.stdout and "Read blend" not in done.stdout
    assert "frame 1/" in done.stderr and " left" in done.stderr  # per-frame progress with the time left
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=format_name:stream=codec_type,width",
                            "-of", "json", workdir / "m4a.avi"], capture_output=True, text=True)
    info = json.loads(probe.stdout)
    assert info["format"]["format_name"] == "avi"
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
    assert not list(workdir.glob(".*part*"))
