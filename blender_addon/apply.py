"""Put an Animation on an object: retarget to its shape keys, write a take, report what did not map."""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .backend.animation import Animation
from .backend.errors import InputError
from .keyframes import TAKE_TAG, WriteOptions, WriteResult, sample_action, write_shape_key_take
from .mapping import Retargeted, animatable_names, build_map, retarget, shape_key_owner, solve_landmarks


@dataclass(frozen=True)
class MapChoice:
    preset: str = "facewarehouse46"  # one of mapping.PRESET_ITEMS
    pairs: tuple[tuple[str, str], ...] = ()  # (source channel, shape key) for the custom map


@dataclass(frozen=True)
class Applied:
    write: WriteResult
    retargeted: Retargeted

    def report_lines(self) -> list[str]:
        return self.retargeted.report_lines()


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def retarget_for(obj: bpy.types.Object, anim: Animation, choice: MapChoice) -> Retargeted:
    key = shape_key_owner(obj)
    if anim.kind == "landmarks":
        return solve_landmarks(anim, obj, key)
    names = animatable_names(key)
    return retarget(anim, names, build_map(choice.preset, anim.channels, names, choice.pairs))


def apply_animation(obj: bpy.types.Object, anim: Animation, scene: bpy.types.Scene, frame_start: float,
                    choice: MapChoice = MapChoice(), source: str = "") -> Applied:
    """Write `anim` onto `obj` as a new take starting at `frame_start`."""
    retargeted = retarget_for(obj, anim, choice)
    label = source or str(anim.meta.get("source", "")) or "take"
    options = WriteOptions(frame_start=frame_start, scene_fps=scene_fps(scene),
                           action_name=label[:63], source=label)
    write = write_shape_key_take(obj, retargeted.targets, retargeted.values, anim.fps, options)
    return Applied(write, retargeted)


def take_animation(action: bpy.types.Action, scene: bpy.types.Scene) -> Animation:
    """A take read back as an Animation, one row per scene frame over its keyed range."""
    first, last = action.frame_range
    frames = np.arange(int(np.floor(first)), int(np.ceil(last)) + 1, dtype=np.float64)
    names, values = sample_action(action, frames)
    if not names:
        raise InputError(None, f"action {action.name!r} animates no shape keys")
    meta = {"source": str(action.get(TAKE_TAG, action.name)), "frame_start": int(frames[0])}
    return Animation(scene_fps(scene), names, values, "blendshape", meta)
