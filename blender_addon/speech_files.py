"""The speech a text take is spoken with: one WAV per take in //mouthpiece/ beside the saved .blend (the
temp folder for an unsaved file or the head shipped with the add-on). The backend writes it to a staging
path; it moves into place only when its take is made, so a failed or cancelled Generate leaves no file."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import bpy

FOLDER = "mouthpiece"
SHIPPED_FOLDERS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "assets")
_STAGED: dict[str, str] = {}  # staging path -> the path it moves to when its take is made


def speech_folder() -> Path:
    blend = Path(bpy.data.filepath).resolve() if bpy.data.filepath else None
    if blend is not None and not any(blend.is_relative_to(folder) for folder in SHIPPED_FOLDERS):
        return blend.parent / FOLDER
    return Path(tempfile.gettempdir()) / f"{FOLDER}_speech"


def speech_path(text: str) -> str:
    """A new WAV path for the speech synthesized from `text` (nothing is created yet)."""
    folder = speech_folder()
    stem = re.sub(r"[^A-Za-z0-9]+", "_", text.strip())[:32].strip("_") or "speech"
    taken = set(_STAGED.values())
    candidate, number = folder / f"{stem}.wav", 1
    while candidate.exists() or str(candidate) in taken:
        number += 1
        candidate = folder / f"{stem}_{number}.wav"
    return str(candidate)


def staged(final: str) -> str:
    """Where the backend writes the speech that becomes `final` once its take is made."""
    folder = Path(tempfile.gettempdir()) / f"{FOLDER}-staging-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    path = str(folder / f"{uuid.uuid4().hex}.wav")
    _STAGED[path] = final
    return path


def keep(staging: str) -> str:
    """Move staged speech to its place; returns that path ('' if `staging` was not staged)."""
    final = _STAGED.pop(staging, "")
    if not final or not Path(staging).is_file():
        return ""
    Path(final).parent.mkdir(parents=True, exist_ok=True)
    shutil.move(staging, final)
    return final


def discard(staging: str, job=None) -> None:
    """Forget staged speech and delete its file, once `job` (a generation still running) has ended."""
    if staging not in _STAGED:
        return
    if job is not None and job.thread.is_alive():
        bpy.app.timers.register(lambda: discard(staging, job), first_interval=0.5)
        return
    _STAGED.pop(staging, None)
    Path(staging).unlink(missing_ok=True)


def relative(path: str) -> str:
    """`path` relative to the saved .blend (//...), so the project moves between machines; else as is."""
    if not bpy.data.filepath or path.startswith("//"):
        return path
    try:
        return bpy.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
