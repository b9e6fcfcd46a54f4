"""Takes: one action per generation on a head's shape keys; pick one, push it to the NLA, or clear."""
from __future__ import annotations

import bpy

from .keyframes import LAYERED_ACTIONS, OBJECT_TAG, PREVIOUS_TAG, TAKE_TAG, assign_action


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and TAKE_TAG in action


def takes_for(obj: bpy.types.Object) -> list[bpy.types.Action]:
    return [a for a in bpy.data.actions if is_take(a) and a.get(OBJECT_TAG) == obj.name]


def active_action(obj: bpy.types.Object) -> bpy.types.Action | None:
    key = obj.data.shape_keys
    return key.animation_data.action if key and key.animation_data else None


def activate_take(obj: bpy.types.Object, action: bpy.types.Action) -> None:
    assign_action(obj.data.shape_keys, action)


def action_before_takes(action: bpy.types.Action | None) -> bpy.types.Action | None:
    """Follow the chain of takes back to the user's own action (or None)."""
    seen = set()
    while is_take(action) and action.name not in seen:
        seen.add(action.name)
        action = bpy.data.actions.get(action.get(PREVIOUS_TAG, ""))
    return action


def clear_take(obj: bpy.types.Object) -> bpy.types.Action | None:
    """Stop the active take playing; the action the user had before Mouthpiece becomes active again."""
    current = active_action(obj)
    if not is_take(current):
        return current
    original = action_before_takes(current)
    key = obj.data.shape_keys
    key.animation_data.action = None
    if original is not None:
        assign_action(key, original)
    return original


def push_to_nla(obj: bpy.types.Object, action: bpy.types.Action, frame_start: int = 1) -> bpy.types.NlaStrip:
    """Put `action` on a new NLA track; if it was the active action, the action before it comes back."""
    key = obj.data.shape_keys
    anim_data = key.animation_data or key.animation_data_create()
    track = anim_data.nla_tracks.new()
    track.name = action.name
    strip = track.strips.new(action.name, int(frame_start), action)
    if LAYERED_ACTIONS and len(action.slots):
        strip.action_slot = action.slots[0]
    if anim_data.action == action:
        clear_take(obj)
    return strip


def delete_take(obj: bpy.types.Object, action: bpy.types.Action) -> None:
    if active_action(obj) == action:
        clear_take(obj)
    bpy.data.actions.remove(action)
