"""Generation without a UI, for scripts, `blender -b` batch runs and the render command."""
from __future__ import annotations

import threading
from pathlib import Path

import bpy

from .apply import Applied, MapChoice, apply_animation
from .backend.errors import InputError
from .bridge import run_request
from .generation import GenerateRequest
from .mapping import shape_key_owner
from .preferences import runner_and_python
from .sound import add_sound_strip, strip_playing


def find_target(name: str | None) -> bpy.types.Object:
    """The named object, or the only mesh with shape keys in the file."""
    if name:
        obj = bpy.data.objects.get(name)
        if obj is None:
            raise InputError(bpy.data.filepath or None, f"no object named {name!r}")
        return obj
    candidates = [o for o in bpy.data.objects if o.type == "MESH" and getattr(o.data, "shape_keys", None)]
    if len(candidates) != 1:
        found = ", ".join(o.name for o in candidates) or "none"
        raise InputError(bpy.data.filepath or None,
                         f"name the object to animate with --object (meshes with shape keys: {found})")
    return candidates[0]


def generate_take(scene: bpy.types.Scene, obj: bpy.types.Object, request: GenerateRequest,
                  choice: MapChoice = MapChoice(), add_strip: bool = True, progress=None) -> Applied:
    """Run `request` now and write the result on `obj` from the scene's start frame."""
    shape_key_owner(obj)
    runner, python = runner_and_python()
    anim = run_request(request, runner, python, progress or (lambda f, m: None), threading.Event())
    audio = (request.audio_path or request.speech_out) if add_strip else ""
    return place_take(scene, obj, anim, choice, scene.frame_start, request.source_label, audio)


def place_take(scene: bpy.types.Scene, obj: bpy.types.Object, anim, choice: MapChoice, frame_start: int,
               label: str, audio: str = "") -> Applied:
    """Write `anim` on `obj` from `frame_start`, with a sound strip of `audio` there unless one plays it."""
    applied = apply_animation(obj, anim, scene, frame_start, choice, label)
    if audio and Path(audio).is_file() and not strip_playing(scene, audio):
        add_sound_strip(scene, audio, frame_start)
    return applied
