"""Put an Animation on an object: retarget to its shape keys, write a take, report what did not map."""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .backend.animation import Animation
from .backend.errors import InputError
from .backend.rig import channels_in_groups
from .keyframes import TAKE_TAG, Keying, WriteOptions, WriteResult, sample_action, write_shape_key_take
from .mapping import Retargeted, animatable_names, build_map, retarget, shape_key_owner, solve_landmarks
from .takes import MODEL_TAG, ORDER_TAG, hand_keyed_curves, next_take_order


@dataclass(frozen=True)
class MapChoice:
    preset: str = "facewarehouse46"  # one of mapping.PRESET_ITEMS
    pairs: tuple[tuple[str, str], ...] = ()  # (source channel, shape key) for the custom map


@dataclass(frozen=True)
class Applied:
    write: WriteResult
    retargeted: Retargeted

    def report_lines(self) -> list[str]:
        lines = self.retargeted.report_lines()
        if self.write.hand_kept:
            lines.append(f"kept the hand keys of {len(self.write.hand_kept)} shape key(s): "
                         f"{', '.join(self.write.hand_kept)}")
        return lines

    def summary(self) -> str:
        """'Take: 412 keys on 14 shape keys (2,760 before thinning)'."""
        write = self.write
        text = f"{write.action.name}: {write.keys_written:,} keys on {len(write.written)} shape keys"
        if write.keys_unthinned != write.keys_written:
            text += f" ({write.keys_unthinned:,} before thinning)"
        if write.still:
            text += f"; {len(write.still)} still channel(s) not keyed"
        return text


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def retarget_for(obj: bpy.types.Object, anim: Animation, choice: MapChoice) -> Retargeted:
    key = shape_key_owner(obj)
    if anim.kind == "landmarks":
        return solve_landmarks(anim, obj, key)
    names = animatable_names(key)
    return retarget(anim, names, build_map(choice.preset, anim.channels, names, choice.pairs), obj.name)


def in_groups(anim: Animation, groups: tuple[str, ...]) -> Animation:
    """The animation's channels in `groups` only (all of them for no groups, or for landmarks)."""
    if not groups or anim.kind != "blendshape":
        return anim
    wanted = set(channels_in_groups(groups))
    columns = [i for i, name in enumerate(anim.channels) if name in wanted]
    if not columns:
        raise InputError(None, f"the animation has no channel in the group(s) {', '.join(groups)}")
    return Animation(anim.fps, [anim.channels[i] for i in columns], anim.values[:, columns], anim.kind, anim.meta)


def apply_animation(obj: bpy.types.Object, anim: Animation, scene: bpy.types.Scene, frame_start: float,
                    choice: MapChoice = MapChoice(), source: str = "", keying: Keying = Keying()) -> Applied:
    """Write `anim` onto `obj` as a new take starting at `frame_start`; channels the artist keyed by hand
    keep their keys unless `keying` replaces them."""
    retargeted = retarget_for(obj, in_groups(anim, keying.groups), choice)
    label = source or str(anim.meta.get("source", "")) or "take"
    options = WriteOptions(frame_start=frame_start, scene_fps=scene_fps(scene),
                           action_name=label[:63], source=label, keying=keying)
    hand = hand_keyed_curves(obj)
    write = write_shape_key_take(obj, retargeted.targets, retargeted.values, anim.fps, options, hand)
    write.action[ORDER_TAG] = next_take_order()
    write.action[MODEL_TAG] = str(anim.meta.get("model", ""))
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
