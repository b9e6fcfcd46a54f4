"""Per-frame conditions the renderer hears: each frame's audio feature, the same for training frames and for
`mouthpiece nerf render`.

DeepSpeech features (ER-NeRF's) are not available offline; each frame's feature is the 80-band log-mel
(backend/wav2lip_mel.py: 16 kHz, 80 columns a second, levels in [-4, 4]) averaged over the mel columns whose
centres fall in that frame's span.
"""
from __future__ import annotations

import numpy as np

from backend import wav2lip_mel

AUDIO_FEATURES = "80-band log-mel (backend/wav2lip_mel.py) averaged over each frame's span"


def frame_audio_features(audio: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """float32 (n_frames, 80): each frame's mean log-mel; frames past the audio's end hear silence."""
    mel = wav2lip_mel.log_mel(np.asarray(audio, dtype=np.float32))  # (80, columns)
    columns = mel.shape[1]
    silence = np.full(wav2lip_mel.N_MELS, -wav2lip_mel.MAX_ABS_VALUE, dtype=np.float32)
    features = np.empty((n_frames, wav2lip_mel.N_MELS), dtype=np.float32)
    for i in range(n_frames):
        first = int(np.ceil(i / fps * wav2lip_mel.MEL_FPS))
        last = max(first + 1, int(np.ceil((i + 1) / fps * wav2lip_mel.MEL_FPS)))
        span = mel[:, first:min(last, columns)]
        features[i] = span.mean(axis=1) if span.shape[1] else silence
    return features
