"""A transcript of another clip is flagged: low alignment confidence in the meta and one warning line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from backend.align import align
from backend.alignment_confidence import LOW_CONFIDENCE, confidence_warning

ROOT = Path(__file__).resolve().parents[1]
LIBRIVOX = ROOT.parent / "shared" / "data" / "librivox"
CLIPS = sorted(LIBRIVOX.glob("*.wav")) if LIBRIVOX.is_dir() else []
pytestmark = pytest.mark.skipif(len(CLIPS) < 5, reason=f"reference clips not present at {LIBRIVOX}")
# (clip, the clip whose transcript is read over it): pairs of similar length that pocketsphinx still places
SWAPPED = [(0, 3), (3, 2), (2, 4), (4, 1)]


def transcript(index: int) -> str:
    return CLIPS[index].with_suffix(".txt").read_text("utf-8")


@pytest.mark.parametrize("index", range(5))
def test_the_right_transcript_aligns_with_high_confidence(index):
    audio, rate = sf.read(CLIPS[index], dtype="float32")
    confidence = align(audio, rate, transcript(index)).confidence
    assert confidence >= 0.8
    assert confidence_warning(confidence) is None


@pytest.mark.parametrize("index, other", SWAPPED)
def test_another_clips_transcript_gets_low_confidence(index, other):
    audio, rate = sf.read(CLIPS[index], dtype="float32")
    confidence = align(audio, rate, transcript(other)).confidence
    assert 0.0 <= confidence < LOW_CONFIDENCE
    assert "fits the audio poorly" in confidence_warning(confidence, "clip.wav")


def animate(tmp_path: Path, index: int, other: int) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / f"{index}-{other}.json"
    words = tmp_path / "words.txt"
    words.write_text(transcript(other), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "backend.cli", "animate", "--audio", str(CLIPS[index]),
                             "--transcript-file", str(words), "--out", str(out), "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result, json.loads(out.read_text())["meta"]


def test_the_cli_warns_in_one_line_and_records_the_confidence(tmp_path):
    result, meta = animate(tmp_path, 0, 3)
    assert meta["alignment_confidence"] < LOW_CONFIDENCE
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [f"mouthpiece: warning: {CLIPS[0]}: the transcript fits the audio poorly (alignment "
                        f"confidence {meta['alignment_confidence']:.2f}); check that it is the transcript of "
                        "this recording"]


def test_the_cli_is_quiet_about_the_right_transcript(tmp_path):
    result, meta = animate(tmp_path, 0, 0)
    assert meta["alignment_confidence"] >= 0.8
    assert "warning" not in result.stderr
