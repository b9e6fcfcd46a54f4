"""The keyframe writer: an Animation's columns become F-curves on a head's shape keys, in bulk.

Every generation lands in a new action (a "take"). Blender 3.4-4.3 keep F-curves on `action.fcurves`;
4.4+ actions have slots and keep them in a channelbag (5.0 has no `action.fcurves` at all), and a slot
must be assigned or nothing animates.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

LAYERED_ACTIONS = bpy.app.version >= (4, 4, 0)
INTERPOLATION = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}
TAKE_TAG = "mouthpiece_take"  # custom property on a take's action: the source it was made from
PREVIOUS_TAG = "mouthpiece_previous"  # custom property: the action that was active before the take
OBJECT_TAG = "mouthpiece_object"  # custom property: the object the take was made for


@dataclass(frozen=True)
class WriteOptions:
    frame_start: float = 1.0  # scene frame of the Animation's first row
    scene_fps: float = 30.0  # frames per second of the scene the keys are placed in
    interpolation: str = "LINEAR"
    action_name: str = "Mouthpiece"
    source: str = ""  # what the take was made from (file name or text), shown in the take list


@dataclass(frozen=True)
class WriteResult:
    action: bpy.types.Action
    written: tuple[str, ...]  # shape keys that received an F-curve
    missing: tuple[str, ...]  # requested shape keys the object does not have
    keys_written: int


def shape_key_data_path(name: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(name)}"].value'


def key_frames(n_frames: int, anim_fps: float, options: WriteOptions) -> np.ndarray:
    """Scene frame of each Animation row: rows are 1/anim_fps seconds apart."""
    return options.frame_start + np.arange(n_frames, dtype=np.float64) * (options.scene_fps / anim_fps)


def new_take_action(key: bpy.types.Key, name: str):
    """A new action for `key`, its slot (None before 4.4), and the collection its F-curves go into."""
    action = bpy.data.actions.new(name)
    action.use_fake_user = True
    if not LAYERED_ACTIONS:
        action.id_root = "KEY"
        return action, None, action.fcurves
    slot = action.slots.new(id_type="KEY", name=key.name)
    strip = action.layers.new("Mouthpiece").strips.new(type="KEYFRAME")
    return action, slot, strip.channelbag(slot, ensure=True).fcurves


def action_fcurves(action: bpy.types.Action, slot=None):
    """The F-curves of `action` (for one slot on 4.4+), whichever Blender this is."""
    if not LAYERED_ACTIONS:
        return list(action.fcurves)
    curves = []
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                if slot is None or bag.slot == slot:
                    curves.extend(bag.fcurves)
    return curves


def assign_action(key: bpy.types.Key, action: bpy.types.Action | None) -> None:
    """Make `action` the active one on `key`, with its first slot for shape keys on 4.4+."""
    anim_data = key.animation_data or key.animation_data_create()
    anim_data.action = action
    if action is None or not LAYERED_ACTIONS:
        return
    slots = [s for s in action.slots if s.target_id_type in {"KEY", "UNSPECIFIED"}]
    if slots and anim_data.action_slot not in slots:
        anim_data.action_slot = slots[0]


def fill_fcurve(fcurve, frames: np.ndarray, values: np.ndarray, interpolation: int) -> None:
    """Write one channel's keys in three bulk calls."""
    count = len(frames)
    points = fcurve.keyframe_points
    points.add(count)
    co = np.empty(2 * count, dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    points.foreach_set("co", co)
    points.foreach_set("interpolation", np.full(count, interpolation, dtype=np.int32))
    fcurve.update()


def write_shape_key_take(obj: bpy.types.Object, targets: list[str], values: np.ndarray, anim_fps: float,
                         options: WriteOptions = WriteOptions()) -> WriteResult:
    """Write `values` [frames x targets] onto `obj`'s shape keys as a new active action.

    The action that was active before is kept (fake user) and remembered on the take, so the user's
    animation is never lost. Targets the object has no shape key for are skipped and returned in
    `missing`; the caller reports them.
    """
    key = obj.data.shape_keys if obj.data is not None and hasattr(obj.data, "shape_keys") else None
    if key is None:
        raise ValueError(f"{obj.name}: has no shape keys")
    values = np.asarray(values, dtype=np.float32).reshape(-1, len(targets))
    present = [(j, name) for j, name in enumerate(targets) if name in key.key_blocks and name != key.reference_key.name]
    missing = tuple(name for name in targets if name not in key.key_blocks)
    frames = key_frames(values.shape[0], anim_fps, options)
    interpolation = INTERPOLATION[options.interpolation]

    action, slot, fcurves = new_take_action(key, options.action_name)
    for column, name in present:
        fill_fcurve(fcurves.new(shape_key_data_path(name)), frames, values[:, column], interpolation)
    action[TAKE_TAG] = options.source or options.action_name
    action[OBJECT_TAG] = obj.name
    previous = key.animation_data.action if key.animation_data else None
    if previous is not None and previous != action:
        previous.use_fake_user = True
        action[PREVIOUS_TAG] = previous.name
    assign_action(key, action)
    return WriteResult(action, tuple(n for _, n in present), missing, len(present) * values.shape[0])


def shape_key_name(data_path: str) -> str | None:
    """'key_blocks["Jaw \\"A\\""].value' -> 'Jaw "A"'; None for any other data path."""
    prefix, suffix = 'key_blocks["', '"].value'
    if not (data_path.startswith(prefix) and data_path.endswith(suffix)):
        return None
    return data_path[len(prefix):-len(suffix)].replace('\\"', '"').replace("\\\\", "\\")


def sample_action(action: bpy.types.Action, frames: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(shape key names, values [frames x names]) of the action's shape-key curves at `frames`."""
    curves = [(shape_key_name(c.data_path), c) for c in action_fcurves(action)]
    curves = [(name, c) for name, c in curves if name is not None]
    values = np.array([[c.evaluate(float(f)) for _, c in curves] for f in frames], dtype=np.float32)
    return [name for name, _ in curves], values.reshape(len(frames), len(curves))
