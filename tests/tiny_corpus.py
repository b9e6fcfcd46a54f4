"""A tiny corpus in the corpus contract's on-disk format: tones whose loudness drives known weights.

Each utterance is a 220-400 Hz tone with syllable-like loudness bursts; its JawOpen label follows the
loudness envelope and LipsPucker follows the pitch, so a model that hears them can learn the labels.
The landmarks are the default head's under those weights.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from backend import headmodel
from backend.rig import CHANNEL_INDEX

SAMPLE_RATE = 16000
LABEL_FPS = 100.0
VOICES = {"train": ["tone:a", "tone:b"], "val": ["tone:c"], "test": ["tone:d"]}


def utterance(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(audio at 16 kHz, weights (T, 46) at 100 fps)."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    rate_hz = rng.uniform(2.0, 4.0)
    envelope = np.clip(np.sin(2 * np.pi * rate_hz * t + rng.uniform(0, 6.28)), 0, None) ** 2
    pitch = rng.uniform(220, 400)
    audio = (0.5 * envelope * np.sin(2 * np.pi * pitch * t)).astype(np.float32)
    frames = int(round(seconds * LABEL_FPS))
    weights = np.zeros((frames, 46), np.float32)
    label_env = envelope[np.minimum((np.arange(frames) / LABEL_FPS * SAMPLE_RATE).astype(int), n - 1)]
    weights[:, CHANNEL_INDEX["JawOpen"]] = label_env
    weights[:, CHANNEL_INDEX["LipsPucker"]] = label_env * (pitch - 220) / 180
    return audio, weights


def write_tiny_corpus(root: Path, per_voice: int = 4, seconds: float = 2.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    head = headmodel.load()
    for folder in ("audio", "labels"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    lines = []
    for split, voices in VOICES.items():
        for voice in voices:
            for k in range(per_voice):
                uid = f"{voice.replace(':', '-')}-{k:03d}"
                audio, weights = utterance(rng, seconds)
                soundfile.write(root / "audio" / f"{uid}.wav", audio, SAMPLE_RATE, subtype="PCM_16")
                landmarks3d = head.landmarks(weights).astype(np.float32)
                np.savez_compressed(root / "labels" / f"{uid}.npz", fps=np.float32(LABEL_FPS), weights=weights,
                                    landmarks3d=landmarks3d, landmarks2d=head.project(landmarks3d),
                                    phones=np.array(["SIL"]), phone_times=np.array([[0.0, seconds]], np.float32),
                                    phone_set=np.array("arpabet"))
                lines.append({"id": uid, "language": "en", "voice": voice, "engine": "tone", "split": split,
                              "text": "", "duration_s": seconds, "sample_rate": SAMPLE_RATE,
                              "audio": f"audio/{uid}.wav", "labels": f"labels/{uid}.npz", "frames": None})
    (root / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (root / "splits.json").write_text(json.dumps(VOICES))
    (root / "corpus.json").write_text(json.dumps({"seed": seed, "languages": ["en"], "label_fps": LABEL_FPS,
                                                  "complete": True}))
    return root
