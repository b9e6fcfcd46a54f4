"""VIDTIMIT: SPEAKER/video/SENTENCE/NNN (numbered JPEG frames, 25 fps) and SPEAKER/audio/SENTENCE.wav.
Head-rotation sequences have no audio and are skipped. The two TIMIT dialect sentences (sa1, sa2) carry
their text; the other sentences' prompts are not part of VIDTIMIT, so their text stays empty."""
from __future__ import annotations

from pathlib import Path

from .importer import SourceClip

FPS = 25.0
DIALECT_SENTENCES = {"sa1": "She had your dark suit in greasy wash water all year.",
                     "sa2": "Don't ask me to carry an oily rag like that."}


def find_clips(root: Path) -> list[SourceClip]:
    clips = []
    for video_dir in sorted(root.glob("*/video/*")):
        speaker, sentence = video_dir.parts[-3], video_dir.name
        audio = video_dir.parent.parent / "audio" / f"{sentence}.wav"
        if not video_dir.is_dir() or not audio.is_file():
            continue
        clips.append(SourceClip(id=f"vidtimit-{speaker}-{sentence}", speaker=speaker,
                                text=DIALECT_SENTENCES.get(sentence.lower(), ""), audio=audio,
                                frames_dir=video_dir, fps=FPS))
    return clips
