"""RAVDESS: Actor_NN/MM-VV-EE-II-SS-RR-AA.mp4 (modality, vocal channel, emotion, intensity, statement,
repetition, actor). Only full audio-video (modality 01) speech (vocal channel 01) clips are imported."""
from __future__ import annotations

import re
from pathlib import Path

from .importer import SourceClip

NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
FULL_AV, SPEECH = "01", "01"


def find_clips(root: Path) -> list[SourceClip]:
    clips = []
    for path in sorted(root.rglob("*.mp4")):
        fields = NAME.match(path.stem)
        if not fields or fields.group(1) != FULL_AV or fields.group(2) != SPEECH:
            continue
        statement, actor = fields.group(5), fields.group(7)
        if statement not in STATEMENTS:
            continue
        clips.append(SourceClip(id=f"ravdess-{path.stem}", speaker=f"actor{actor}", text=STATEMENTS[statement],
                                audio=path, video=path))
    return clips
