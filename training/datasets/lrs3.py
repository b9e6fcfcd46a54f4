"""LRS3: SUBSET/VIDEO_ID/NNNNN.mp4 with NNNNN.txt beside it ("Text:  WORDS", then word timings
"WORD START END ASDSCORE"). Subsets pretrain, trainval and test; the test subset stays the test split,
and the speakers (video ids) of the others are split into train and val."""
from __future__ import annotations

from pathlib import Path

from backend.errors import InputError

from .importer import SourceClip

SUBSETS = ("pretrain", "trainval", "test")


def parse_transcript(path: Path) -> tuple[str, tuple[tuple[str, float, float], ...]]:
    if not path.is_file():
        raise InputError(path, "transcript missing (every LRS3 clip has a .txt beside its .mp4)")
    lines = path.read_text("utf-8", errors="replace").splitlines()
    text = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Text:")), None)
    if text is None:
        raise InputError(path, "no 'Text:' line")
    words = []
    for line in lines:
        cells = line.split()
        if len(cells) == 4 and cells[0] != "WORD":
            try:
                words.append((cells[0].lower(), float(cells[1]), float(cells[2])))
            except ValueError:
                continue
    return text.capitalize(), tuple(words)


def find_clips(root: Path) -> list[SourceClip]:
    clips = []
    for subset in SUBSETS:
        for path in sorted((root / subset).glob("*/*.mp4")):
            text, words = parse_transcript(path.with_suffix(".txt"))
            video_id = path.parent.name
            clips.append(SourceClip(id=f"lrs3-{subset}-{video_id}-{path.stem}", speaker=video_id, text=text,
                                    audio=path, video=path, split="test" if subset == "test" else None,
                                    words=words))
    return clips
