"""Sound strips in the scene's sequencer (`sequences` before Blender 5.0, `strips` after)."""
from __future__ import annotations

from pathlib import Path

import bpy

from .backend.errors import InputError


def strips_attribute(scene_or_editor) -> str:
    return "strips_all" if hasattr(scene_or_editor, "strips_all") else "sequences_all"


def all_strips(scene: bpy.types.Scene) -> list:
    editor = scene.sequence_editor
    return list(getattr(editor, strips_attribute(editor))) if editor else []


def sound_strips(scene: bpy.types.Scene) -> list:
    return [s for s in all_strips(scene) if s.type == "SOUND"]


def find_sound_strip(scene: bpy.types.Scene, name: str):
    strip = next((s for s in sound_strips(scene) if s.name == name), None)
    if strip is None:
        raise InputError(None, f"no sound strip named {name!r} in scene {scene.name!r}")
    return strip


def strip_audio_path(strip) -> str:
    path = bpy.path.abspath(strip.sound.filepath, library=strip.sound.library)
    if not Path(path).is_file():
        raise InputError(path, f"the file of sound strip {strip.name!r} is missing")
    return path


def strip_playing(scene: bpy.types.Scene, path: str, frame_start: int | None = None):
    """The sound strip of the scene that plays the file at `path` (from `frame_start`, if given), or None."""
    wanted = Path(path).resolve()
    return next((s for s in sound_strips(scene)
                 if Path(bpy.path.abspath(s.sound.filepath, library=s.sound.library)).resolve() == wanted
                 and (frame_start is None or int(s.frame_start) == int(frame_start))), None)


def strip_collection(editor):
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def remove_strip(scene: bpy.types.Scene, strip) -> None:
    strip_collection(scene.sequence_editor).remove(strip)


def add_sound_strip(scene: bpy.types.Scene, path: str, frame_start: int, name: str = "") -> object:
    """A new sound strip on the first free channel; the scene's end frame grows to fit it."""
    if not Path(path).is_file():
        raise InputError(path, "audio file not found")
    editor = scene.sequence_editor or scene.sequence_editor_create()
    strips = strip_collection(editor)
    used = {s.channel for s in all_strips(scene)}
    channel = next(c for c in range(1, 129) if c not in used)
    strip = strips.new_sound(name or Path(path).stem, path, channel, int(frame_start))
    scene.frame_end = max(scene.frame_end, int(strip.frame_final_end))
    return strip
