"""Shared test fixtures: the repo root, ../shared data, and small audio files made on the fly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRIVOX = REPO.parent / "shared" / "data" / "librivox"


@pytest.fixture
def librivox_clips() -> list[Path]:
    clips = sorted(LIBRIVOX.glob("*.wav"))
    if not clips:
        pytest.skip(f"reference clips absent: {LIBRIVOX} does not exist in this checkout's parent")
    return clips


@pytest.fixture
def tone_wav(tmp_path) -> Path:
    """A 1 s, 44.1 kHz stereo WAV: a 220 Hz tone with a syllable-like envelope."""
    import soundfile

    rate = 44100
    t = np.arange(rate) / rate
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 3 * t))
    mono = 0.4 * envelope * np.sin(2 * np.pi * 220 * t)
    path = tmp_path / "tone.wav"
    soundfile.write(path, np.stack([mono, mono], axis=1), rate)
    return path


@pytest.fixture(scope="session")
def tiny_expert(tmp_path_factory) -> Path:
    """A small lip-sync expert with random weights (enough to run the scoring code end to end), or the one
    $MOUTHPIECE_SYNC_EXPERT names (how tests in Blender's own Python, which has no torch, get one)."""
    import os

    if os.environ.get("MOUTHPIECE_SYNC_EXPERT"):
        return Path(os.environ["MOUTHPIECE_SYNC_EXPERT"])
    pytest.importorskip("torch")
    from tiny_expert import save_tiny_expert

    return save_tiny_expert(tmp_path_factory.mktemp("expert"))


@pytest.fixture
def torch_one_thread():
    """Torch on one thread during the test (the cores are shared), restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
