"""GRID: sN/UTTERANCE.mpg (also sN/video/**/UTTERANCE.mpg) with word alignments in
alignments/sN/UTTERANCE.align or sN/align/UTTERANCE.align ("START END WORD", 25000 units a second).
A WAV of the same name in audio/sN/ or sN/ is used for the sound when present, else the video's."""
from __future__ import annotations

import re
from pathlib import Path

from backend.errors import InputError

from .importer import SourceClip

SPEAKER = re.compile(r"^s\d+$")
UNITS_PER_SECOND = 25000.0
SILENCES = {"sil", "sp"}


def parse_align(path: Path) -> tuple[tuple[str, float, float], ...]:
    words = []
    for number, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), start=1):
        cells = line.split()
        if not cells:
            continue
        try:
            start, end, word = float(cells[0]), float(cells[1]), cells[2]
        except (ValueError, IndexError):
            raise InputError(path, f"line {number} is not 'START END WORD'") from None
        if word not in SILENCES:
            words.append((word, start / UNITS_PER_SECOND, end / UNITS_PER_SECOND))
    return tuple(words)


def find_align(root: Path, speaker: str, stem: str) -> Path | None:
    for candidate in (root / "alignments" / speaker / f"{stem}.align", root / speaker / "align" / f"{stem}.align"):
        if candidate.is_file():
            return candidate
    return None


def find_clips(root: Path) -> list[SourceClip]:
    clips = []
    for speaker_dir in sorted(p for p in root.iterdir() if p.is_dir() and SPEAKER.match(p.name)):
        for video in sorted(speaker_dir.rglob("*.mpg")):
            align = find_align(root, speaker_dir.name, video.stem)
            words = parse_align(align) if align else ()
            wavs = [root / "audio" / speaker_dir.name / f"{video.stem}.wav", speaker_dir / f"{video.stem}.wav"]
            audio = next((w for w in wavs if w.is_file()), video)
            clips.append(SourceClip(id=f"grid-{speaker_dir.name}-{video.stem}", speaker=speaker_dir.name,
                                    text=" ".join(w for w, _, _ in words).capitalize(), audio=audio,
                                    video=video, words=words))
    return clips
