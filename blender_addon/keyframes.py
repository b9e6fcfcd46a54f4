"""The keyframe writer: an Animation's columns become F-curves on a head's shape keys, in bulk.

Every generation lands in a new action (a "take"). Blender 3.4-4.3 keep F-curves on `action.fcurves`;
4.4+ actions have slots and keep them in a channelbag (5.0 has no `action.fcurves` at all), and a slot
must be assigned or nothing animates.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .backend.keythin import moving_columns, thin_keys

LAYERED_ACTIONS = bpy.app.version >= (4, 4, 0)
INTERPOLATION = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}
TAKE_TAG = "mouthpiece_take"  # custom property on a take's action: the source it was made from
PREVIOUS_TAG = "mouthpiece_previous"  # custom property: the action that was active before the take
OBJECT_TAG = "mouthpiece_object"  # custom property: the object the take was made for
KEYED_TAG = "mouthpiece_keyed"  # custom property: the shape keys the take keyed, one name a line


@dataclass(frozen=True)
class Keying:
    """Which channels a take keys, and how densely."""

    groups: tuple[str, ...] = ()  # channel groups to key (backend.rig.CHANNEL_GROUPS); () for all
    only_moving: bool = False  # skip channels that never leave 0 (within the tolerance)
    tolerance: float | None = None  # thin keys to within this of the curve; None: a key on every frame
    replace_hand_keys: bool = False  # key channels the artist keyed by hand (else they keep their keys)


@dataclass(frozen=True)
class WriteOptions:
    frame_start: float = 1.0  # scene frame of the Animation's first row
    scene_fps: float = 30.0  # frames per second of the scene the keys are placed in
    interpolation: str = "LINEAR"
    action_name: str = "Mouthpiece"
    source: str = ""  # what the take was made from (file name or text), shown in the take list
    keying: Keying = Keying()


@dataclass(frozen=True)
class WriteResult:
    action: bpy.types.Action
    written: tuple[str, ...]  # shape keys that received an F-curve
    missing: tuple[str, ...]  # requested shape keys the object does not have
    keys_written: int
    keys_unthinned: int = 0  # keys a key on every frame of every written channel would take
    still: tuple[str, ...] = ()  # channels left unkeyed because they never move
    hand_kept: tuple[str, ...] = ()  # channels whose hand keys were carried into the take instead


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


KEY_POINT_FIELDS = (("co", 2, np.float32), ("handle_left", 2, np.float32), ("handle_right", 2, np.float32),
                    ("interpolation", 1, np.int32), ("handle_left_type", 1, np.int32),
                    ("handle_right_type", 1, np.int32), ("easing", 1, np.int32))


def copy_fcurve(source, fcurves) -> None:
    """A copy of `source` (keys, handles, interpolation, extrapolation) in `fcurves`."""
    copy = fcurves.new(source.data_path, index=source.array_index)
    count = len(source.keyframe_points)
    copy.keyframe_points.add(count)
    for field, width, dtype in KEY_POINT_FIELDS:
        buffer = np.empty(width * count, dtype=dtype)
        source.keyframe_points.foreach_get(field, buffer)
        copy.keyframe_points.foreach_set(field, buffer)
    copy.extrapolation = source.extrapolation
    copy.update()


def channel_keys(frames: np.ndarray, values: np.ndarray, tolerance: float | None):
    """(frames, values) of the keys to write for one channel: all, or thinned to within `tolerance`."""
    if tolerance is None:
        return frames, values
    kept = thin_keys(frames, values, tolerance)
    return frames[kept], values[kept]


def columns_to_key(key, targets: list[str], values: np.ndarray, keying: Keying, hand_keyed) -> dict:
    """{"write": [(column, name)], "still": names, "hand": names} for `targets` on `key`."""
    moving = np.ones(len(targets), bool)
    if keying.only_moving:
        moving = moving_columns(values, keying.tolerance or 0.0)
    plan = {"write": [], "still": [], "hand": []}
    for column, name in enumerate(targets):
        if name not in key.key_blocks or name == key.reference_key.name:
            continue
        if name in hand_keyed and not keying.replace_hand_keys:
            plan["hand"].append(name)
        elif not moving[column]:
            plan["still"].append(name)
        else:
            plan["write"].append((column, name))
    return plan


def write_shape_key_take(obj: bpy.types.Object, targets: list[str], values: np.ndarray, anim_fps: float,
                         options: WriteOptions = WriteOptions(), hand_curves: dict | None = None) -> WriteResult:
    """Write `values` [frames x targets] onto `obj`'s shape keys as a new active action.

    The action that was active before is kept (fake user) and remembered on the take, so the user's
    animation is never lost. `hand_curves` ({shape key: F-curve, or None when it plays from the NLA})
    are the artist's own keys: those channels are not keyed (unless the keying replaces hand keys), and
    the F-curves are copied into the take so they keep playing. Targets the object has no shape key for
    are skipped and returned in `missing`; the caller reports them.
    """
    key = obj.data.shape_keys if obj.data is not None and hasattr(obj.data, "shape_keys") else None
    if key is None:
        raise ValueError(f"{obj.name}: has no shape keys")
    hand_curves = hand_curves or {}
    values = np.asarray(values, dtype=np.float32).reshape(-1, len(targets))
    plan = columns_to_key(key, targets, values, options.keying, hand_curves)
    missing = tuple(name for name in targets if name not in key.key_blocks)
    frames = key_frames(values.shape[0], anim_fps, options)
    interpolation = INTERPOLATION[options.interpolation]
    tolerance = options.keying.tolerance if options.interpolation == "LINEAR" else None

    action, slot, fcurves = new_take_action(key, options.action_name)
    keys = 0
    for column, name in plan["write"]:
        kept_frames, kept_values = channel_keys(frames, values[:, column], tolerance)
        fill_fcurve(fcurves.new(shape_key_data_path(name)), kept_frames, kept_values, interpolation)
        keys += len(kept_frames)
    written = {name for _, name in plan["write"]}
    carried = [name for name, curve in hand_curves.items() if name not in written and curve is not None]
    for name in carried:
        copy_fcurve(hand_curves[name], fcurves)
    action[TAKE_TAG] = options.source or options.action_name
    action[OBJECT_TAG] = obj.name
    action[KEYED_TAG] = "\n".join(sorted(written))
    previous = key.animation_data.action if key.animation_data else None
    if previous is not None and previous != action:
        previous.use_fake_user = True
        action[PREVIOUS_TAG] = previous.name
    assign_action(key, action)
    return WriteResult(action, tuple(n for _, n in plan["write"]), missing, keys,
                       len(plan["write"]) * values.shape[0], tuple(plan["still"]),
                       tuple(sorted(set(plan["hand"]) | set(carried))))


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
