"""Score: the lip-sync expert's verdict on the target's active take, and Apply Offset, which moves the
take's keys by the offset the score found.

The head is drawn by the backend's numpy face renderer from the object's shape keys, through the scene
camera (blender_addon/score_mesh.py), at 25 fps from the start of the take's sound strip, and scored
against that strip's audio with the numpy runtime of the expert, in Blender's own Python.
"""
from __future__ import annotations

from functools import lru_cache

import bpy
import numpy as np

from .backend.errors import InputError, ToolError
from .keyframes import KEYED_TAG, action_fcurves, shape_key_name
from .mapping import shape_key_owner
from .operators_edit import TargetOperator, target_of
from .score_mesh import camera_of, mesh_from_object, sample_shape_keys, scene_fps
from .sound import strip_audio_path
from .takes import active_action, take_strip

EXPERT_FPS = 25.0
KEY_POINT_FRAMES = ("co", "handle_left", "handle_right")


@lru_cache(maxsize=2)
def expert_at(stem: str, modified: float):
    from .backend.runtime.sync_expert import SyncExpert

    return SyncExpert.load(stem)


def load_expert():
    from .backend import checkpoints
    from .backend.score import find_expert

    stem = find_expert()
    record = checkpoints.paths(stem)[1]
    return expert_at(str(stem), record.stat().st_mtime if record.is_file() else 0.0)  # load names what is wrong


def active_take(context):
    """(target, its active shape-key action) or a clear error."""
    obj = target_of(context)
    key = shape_key_owner(obj, "score")
    action = active_action(obj)
    if action is None:
        raise InputError(None, f"object {obj.name!r} has no active take to score; generate or pick one")
    return obj, key, action


def read_audio(path: str):
    """16 kHz mono samples, decoded in this Python with the add-on's packed soundfile and soxr."""
    from . import site_wheels

    site_wheels.ensure()
    from .backend.audio import load_audio

    try:
        return load_audio(path)
    except ImportError as err:
        raise ToolError(f"reading {bpy.path.basename(path)} in Blender needs the {err.name} package that the "
                        "add-on's zip carries; install Mouthpiece from its zip") from None


def score_of_take(scene, obj, action):
    """The SyncScore of `obj`'s active take against its sound strip, the strip's start being audio time 0."""
    from .backend.audio import SAMPLE_RATE
    from .backend.score import score_animation

    strip = take_strip(scene, action)
    if strip is None:
        raise InputError(None, f"take {action.name!r} has no sound strip to score against; add its audio as a "
                               "strip (Add Strip) or generate it with Add Sound Strip on")
    expert = load_expert()
    audio = read_audio(strip_audio_path(strip))
    frames = int(len(audio) / SAMPLE_RATE * EXPERT_FPS)
    anim = sample_shape_keys(obj, scene, float(strip.frame_start), frames, EXPERT_FPS)
    return score_animation(anim, audio, mesh_from_object(obj), camera_of(scene, obj), expert)


def shift_take_keys(action, frames: float) -> int:
    """Move the keys Mouthpiece wrote in `action` (not the artist's carried keys) by `frames`; returns
    the number of F-curves moved."""
    keyed = set(action.get(KEYED_TAG, "").split("\n")) - {""}
    moved = 0
    for curve in action_fcurves(action):
        if shape_key_name(curve.data_path) not in keyed:
            continue
        points = curve.keyframe_points
        for field in KEY_POINT_FRAMES:
            values = np.empty(2 * len(points), dtype=np.float64)
            points.foreach_get(field, values)
            values[0::2] += frames
            points.foreach_set(field, values)
        curve.update()
        moved += 1
    return moved


class MOUTHPIECE_OT_score_take(TargetOperator, bpy.types.Operator):
    """Score how well the active take is in sync with its sound strip (the lip-sync expert's confidence,
    distance and best offset)"""

    bl_idname = "mouthpiece.score_take"
    bl_label = "Score"
    bl_options = {"REGISTER"}

    def run(self, context):
        scene = context.scene
        obj, _, action = active_take(context)
        score = score_of_take(scene, obj, action)
        settings = scene.mouthpiece
        settings.score_take = action.name
        settings.score_confidence, settings.score_distance = score.confidence, score.distance
        settings.score_offset, settings.score_summary = score.offset_frames, score.summary()
        self.report({"INFO"}, f"{action.name}: {score.summary()}")
        return {"FINISHED"}


class MOUTHPIECE_OT_score_apply_offset(TargetOperator, bpy.types.Operator):
    """Move the scored take's keys by the offset the score found, so that the mouth meets the sound"""

    bl_idname = "mouthpiece.score_apply_offset"
    bl_label = "Apply Offset"

    def run(self, context):
        scene = context.scene
        settings = scene.mouthpiece
        obj, _, action = active_take(context)
        if settings.score_take != action.name:
            raise InputError(None, f"take {action.name!r} has not been scored; press Score first")
        frames = -settings.score_offset / EXPERT_FPS * scene_fps(scene)
        moved = shift_take_keys(action, frames)
        settings.score_take, settings.score_offset = "", 0
        settings.score_summary = ""
        self.report({"INFO"}, f"{action.name}: moved the keys of {moved} shape keys by {frames:+.2f} frames")
        return {"FINISHED"}


def draw_score(layout, context) -> None:
    """The Score button and, for the active take, its last score and Apply Offset."""
    settings = context.scene.mouthpiece
    layout.operator("mouthpiece.score_take", icon="SPEAKER")
    obj = settings.target
    key = getattr(obj.data, "shape_keys", None) if obj is not None else None
    action = active_action(obj) if key is not None else None
    if action is None or settings.score_take != action.name:
        return
    box = layout.box()
    box.label(text=f"Confidence {settings.score_confidence:.3f}   Distance {settings.score_distance:.3f}")
    offset = settings.score_offset
    if offset == 0:
        box.label(text="In sync (offset 0)", icon="CHECKMARK")
        return
    late = "late" if offset > 0 else "early"
    box.label(text=f"Mouth {abs(offset)} frames {late} (at 25 fps)", icon="TIME")
    box.operator("mouthpiece.score_apply_offset", icon="NEXT_KEYFRAME")


classes = (MOUTHPIECE_OT_score_take, MOUTHPIECE_OT_score_apply_offset)
register, unregister = bpy.utils.register_classes_factory(classes)
