"""Takes: one action per generation on a head's shape keys; pick one, push it to the NLA, or clear.

A take remembers the sound strip it plays with; the strips of takes that are not playing are muted,
so only the active line is heard.
"""
from __future__ import annotations

import bpy

from .keyframes import (KEYED_TAG, LAYERED_ACTIONS, OBJECT_TAG, PREVIOUS_TAG, TAKE_TAG, action_fcurves,
                        assign_action, shape_key_name)
from .sound import all_strips, remove_strip

STRIP_TAG = "mouthpiece_strip"  # custom property on a take: the name of its sound strip
OWNED_TAG = "mouthpiece_strip_owned"  # 1 when Mouthpiece added that strip (it goes with the take)
ORDER_TAG = "mouthpiece_order"  # creation order of the take among all takes
MODEL_TAG = "mouthpiece_model"  # the model that made the take


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and TAKE_TAG in action


def take_order(action: bpy.types.Action) -> int:
    return int(action.get(ORDER_TAG, 0))


def takes_for(obj: bpy.types.Object) -> list[bpy.types.Action]:
    """The object's takes, oldest first."""
    return sorted((a for a in bpy.data.actions if is_take(a) and a.get(OBJECT_TAG) == obj.name), key=take_order)


def next_take_order() -> int:
    return 1 + max((take_order(a) for a in bpy.data.actions if is_take(a)), default=0)


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


def nla_actions(obj: bpy.types.Object, playing_only: bool = False) -> list[bpy.types.Action]:
    key = obj.data.shape_keys
    anim_data = key.animation_data if key else None
    if anim_data is None:
        return []
    return [strip.action for track in anim_data.nla_tracks for strip in track.strips
            if strip.action is not None and not (playing_only and (track.mute or strip.mute))]


def in_nla(obj: bpy.types.Object, action: bpy.types.Action) -> bool:
    return action in nla_actions(obj)


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


def hand_keyed_curves(obj: bpy.types.Object) -> dict:
    """Shape keys the artist animated: {name: F-curve} from their own action (the one before any take) and
    from the active take's curves that Mouthpiece did not key; {name: None} for those keyed in NLA strips
    of actions that are not takes."""
    key = obj.data.shape_keys
    anim_data = key.animation_data if key else None
    if anim_data is None:
        return {}
    curves: dict = {}
    for action in nla_actions(obj):
        if not is_take(action):
            curves.update((shape_key_name(c.data_path), None) for c in action_fcurves(action))
    own = action_before_takes(anim_data.action)
    if own is not None:
        slot = anim_data.action_slot if LAYERED_ACTIONS and anim_data.action == own else None
        curves.update((shape_key_name(c.data_path), c) for c in action_fcurves(own, slot)
                      if len(c.keyframe_points))
    if is_take(anim_data.action):  # keys the artist added to the playing take, or hand keys it carries
        keyed = set(anim_data.action.get(KEYED_TAG, "").split("\n"))
        curves.update((shape_key_name(c.data_path), c) for c in action_fcurves(anim_data.action)
                      if shape_key_name(c.data_path) not in keyed and len(c.keyframe_points))
    curves.pop(None, None)
    return curves


def take_strip(scene: bpy.types.Scene, action: bpy.types.Action):
    """The sound strip `action` plays with in `scene`, or None."""
    name = action.get(STRIP_TAG)
    return next((s for s in all_strips(scene) if s.name == name), None) if name else None


def link_strip(action: bpy.types.Action, strip, owned: bool) -> None:
    action[STRIP_TAG] = strip.name
    action[OWNED_TAG] = int(owned or any(take_strip_owned(a, strip.name) for a in bpy.data.actions))


def take_strip_owned(action: bpy.types.Action, strip_name: str) -> bool:
    return is_take(action) and action.get(STRIP_TAG) == strip_name and bool(action.get(OWNED_TAG))


def take_playing(action: bpy.types.Action) -> bool:
    """Whether the take plays on its object: as the active action or in an unmuted NLA strip."""
    obj = bpy.data.objects.get(action.get(OBJECT_TAG, ""))
    if obj is None or getattr(obj.data, "shape_keys", None) is None:
        return False
    return active_action(obj) == action or action in nla_actions(obj, playing_only=True)


def sync_take_strips(scene: bpy.types.Scene) -> None:
    """Unmute the strips of playing takes; mute the strips Mouthpiece added for takes that are not
    playing. The artist's own strips are never muted."""
    by_strip: dict[str, list] = {}
    for action in bpy.data.actions:
        if is_take(action) and action.get(STRIP_TAG):
            by_strip.setdefault(action[STRIP_TAG], []).append(action)
    for strip in all_strips(scene):
        linked = by_strip.get(strip.name)
        if not linked:
            continue
        if any(take_playing(a) for a in linked):
            strip.mute = False
        elif any(a.get(OWNED_TAG) for a in linked):
            strip.mute = True


def delete_take(obj: bpy.types.Object, action: bpy.types.Action, scene: bpy.types.Scene | None = None):
    """Delete the take; the sound strip Mouthpiece added for it goes too, unless another take uses it."""
    if active_action(obj) == action:
        clear_take(obj)
    strip = take_strip(scene, action) if scene is not None else None
    if strip is not None and action.get(OWNED_TAG):
        if not any(a != action and a.get(STRIP_TAG) == strip.name for a in bpy.data.actions if is_take(a)):
            remove_strip(scene, strip)
    bpy.data.actions.remove(action)
    if scene is not None:
        sync_take_strips(scene)
