"""The external-Python bridge: a real subprocess speaking JSON lines, as Blender uses it."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from blender_addon.backend.errors import InputError, MouthpieceError
from blender_addon.bridge import Cancelled, run_external, run_request, uses_external
from blender_addon.generation import GenerateRequest, run_in_process

LINE = "Bob made a map."


def test_external_python_gives_the_same_animation_as_in_process(tmp_path):
    seen: list[tuple[float, str]] = []
    request = GenerateRequest(text=LINE, fps=25.0, speech_out=str(tmp_path / "line.wav"))
    external = run_external(sys.executable, request, lambda f, m: seen.append((f, m)))
    local = run_in_process(GenerateRequest(text=LINE, fps=25.0), lambda f, m: None)
    assert external.channels == local.channels and external.fps == 25.0
    assert external.n_frames == local.n_frames
    # espeak-ng's speech for the same text shifts by a few samples between calls: close, not exact
    np.testing.assert_allclose(external.values, local.values, atol=0.05)
    from_wav = GenerateRequest(audio_path=str(tmp_path / "line.wav"), transcript=LINE, fps=25.0)
    np.testing.assert_allclose(run_external(sys.executable, from_wav, lambda f, m: None).values,
                               run_in_process(from_wav, lambda f, m: None).values, atol=1e-5)
    assert (tmp_path / "line.wav").is_file()
    assert seen and seen[0][0] == 0.0 and all(0.0 <= f <= 1.0 for f, _ in seen)


def test_worker_errors_arrive_as_one_clear_message(tmp_path):
    wav = tmp_path / "empty.wav"
    wav.write_bytes(b"")
    request = GenerateRequest(audio_path=str(wav))
    with pytest.raises(MouthpieceError, match="empty.wav: audio file is empty"):
        run_external(sys.executable, request, lambda f, m: None)


def test_missing_python_and_missing_audio_fail_before_starting(tmp_path):
    with pytest.raises(InputError, match="nowhere/python: external Python not found"):
        run_external(str(tmp_path / "nowhere" / "python"), GenerateRequest(text=LINE), lambda f, m: None)
    with pytest.raises(InputError, match="gone.wav: audio file not found"):
        run_external(sys.executable, GenerateRequest(audio_path=str(tmp_path / "gone.wav")), lambda f, m: None)


def test_cancel_stops_the_external_process():
    cancel = threading.Event()

    def progress(fraction, message):
        cancel.set()  # the first progress line: stop now

    with pytest.raises(Cancelled):
        run_external(sys.executable, GenerateRequest(text=LINE), progress, cancel)


def test_runner_choice():
    assert uses_external("EXTERNAL", sys.executable, "phonemes")
    assert not uses_external("BLENDER", sys.executable, "phonemes")
    assert not uses_external("AUTO", sys.executable, "phonemes")  # it runs here
    anim = run_request(GenerateRequest(text=LINE), "AUTO", "", lambda f, m: None, threading.Event())
    assert anim.values.shape[1] == 46
