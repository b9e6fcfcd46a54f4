"""Operators around generation: sound strip, clear, Animation JSON import/export, takes, channel map."""
from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .apply import apply_animation, take_animation
from .backend.animation import load_json, save_json
from .backend.errors import MouthpieceError
from .mapping import animatable_names, no_channel_matched, shape_key_owner, suggest_custom_pairs
from .operators import fill_target, map_choice
from .sound import add_sound_strip
from .keyframes import OBJECT_TAG, TAKE_TAG
from .takes import (MODEL_TAG, active_action, activate_take, clear_take, delete_take, in_nla, push_to_nla,
                    sync_take_strips, take_order)


def target_of(context):
    fill_target(context.scene)
    return context.scene.mouthpiece.target


class TargetOperator:
    """Reports a MouthpieceError as one clear line instead of a traceback."""

    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            return self.run(context)
        except MouthpieceError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}


class MOUTHPIECE_OT_add_sound_strip(TargetOperator, bpy.types.Operator):
    """Add the chosen audio file as a sound strip at the scene's start frame"""

    bl_idname = "mouthpiece.add_sound_strip"
    bl_label = "Add Sound Strip"

    def run(self, context):
        path = bpy.path.abspath(context.scene.mouthpiece.audio_path)
        strip = add_sound_strip(context.scene, path, context.scene.frame_start)
        self.report({"INFO"}, f"Added sound strip {strip.name!r}")
        return {"FINISHED"}


class MOUTHPIECE_OT_clear(TargetOperator, bpy.types.Operator):
    """Stop the active take; the animation the target had before Mouthpiece comes back (takes are kept)"""

    bl_idname = "mouthpiece.clear"
    bl_label = "Clear"

    def run(self, context):
        obj = target_of(context)
        shape_key_owner(obj, "clear")
        restored = clear_take(obj)
        sync_take_strips(context.scene)
        self.report({"INFO"}, f"Active action: {restored.name if restored else 'none'}")
        return {"FINISHED"}


class MOUTHPIECE_OT_import_json(TargetOperator, bpy.types.Operator, ImportHelper):
    """Load a Mouthpiece Animation JSON onto the target as a new take"""

    bl_idname = "mouthpiece.import_json"
    bl_label = "Import Animation JSON"
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})
    object: StringProperty(name="Object", options={"SKIP_SAVE"}, description="Target object name")
    frame_start: IntProperty(name="Start Frame", default=-1, options={"SKIP_SAVE"})

    def run(self, context):
        obj = bpy.data.objects.get(self.object) if self.object else target_of(context)
        shape_key_owner(obj)
        anim = load_json(self.filepath)
        start = self.frame_start if self.frame_start >= 0 else context.scene.frame_start
        applied = apply_animation(obj, anim, context.scene, start, map_choice(context.scene.mouthpiece),
                                  bpy.path.basename(self.filepath))
        sync_take_strips(context.scene)
        for line in applied.report_lines():
            self.report({"WARNING"}, line)
        self.report({"INFO"}, applied.summary())
        return {"FINISHED"}


class MOUTHPIECE_OT_export_json(TargetOperator, bpy.types.Operator, ExportHelper):
    """Write the target's active take as Animation JSON (one row per frame, one column per shape key)"""

    bl_idname = "mouthpiece.export_json"
    bl_label = "Export Animation JSON"
    bl_options = {"REGISTER"}
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def run(self, context):
        obj = target_of(context)
        shape_key_owner(obj, "export")
        action = active_action(obj)
        if action is None:
            raise MouthpieceError(f"object {obj.name!r} has no active shape-key animation to export")
        save_json(take_animation(action, context.scene), self.filepath)
        self.report({"INFO"}, f"Wrote {self.filepath}")
        return {"FINISHED"}


def take_by_name(context, name: str):
    obj = target_of(context)
    shape_key_owner(obj, "switch takes on")
    action = bpy.data.actions.get(name)
    if action is None:
        raise MouthpieceError(f"no take named {name!r}")
    return obj, action


def take_description(action) -> str:
    """'Take 3: line01.wav, model cnn-gru, frames 1-90, in the NLA' for a tooltip."""
    parts = [f"Take {take_order(action)}: {action.get(TAKE_TAG, action.name)}"]
    if action.get(MODEL_TAG):
        parts.append(f"model {action[MODEL_TAG]}")
    first, last = action.frame_range
    parts.append(f"frames {int(first)}-{int(last)}")
    obj = bpy.data.objects.get(action.get(OBJECT_TAG, ""))
    if obj is not None and in_nla(obj, action):
        parts.append("in the NLA")
    if action.name != action.get(TAKE_TAG):
        parts.append(f"action {action.name!r}")
    return ", ".join(parts)


class MOUTHPIECE_OT_take_activate(TargetOperator, bpy.types.Operator):
    """Make this take the target's active animation; its sound strip plays, the other takes' are muted"""

    bl_idname = "mouthpiece.take_activate"
    bl_label = "Use Take"
    take: StringProperty(name="Take")

    @classmethod
    def description(cls, context, properties):
        action = bpy.data.actions.get(properties.take)
        return take_description(action) if action is not None else cls.__doc__

    def run(self, context):
        obj, action = take_by_name(context, self.take)
        activate_take(obj, action)
        sync_take_strips(context.scene)
        return {"FINISHED"}


class MOUTHPIECE_OT_take_push(TargetOperator, bpy.types.Operator):
    """Put this take on a new NLA track, to layer or sequence takes"""

    bl_idname = "mouthpiece.take_push"
    bl_label = "Push to NLA"
    take: StringProperty(name="Take")

    def run(self, context):
        obj, action = take_by_name(context, self.take)
        push_to_nla(obj, action, int(action.frame_range[0]))
        sync_take_strips(context.scene)
        return {"FINISHED"}


class MOUTHPIECE_OT_take_delete(TargetOperator, bpy.types.Operator):
    """Delete this take's action, and the sound strip added for it"""

    bl_idname = "mouthpiece.take_delete"
    bl_label = "Delete Take"
    take: StringProperty(name="Take")

    def run(self, context):
        obj, action = take_by_name(context, self.take)
        delete_take(obj, action, context.scene)
        return {"FINISHED"}


class MOUTHPIECE_OT_map_auto(TargetOperator, bpy.types.Operator):
    """Fill the custom map with one row per channel, matched to shape keys by normalized name"""

    bl_idname = "mouthpiece.map_auto"
    bl_label = "Auto-Match"

    def run(self, context):
        settings = context.scene.mouthpiece
        names = animatable_names(shape_key_owner(target_of(context), "map"))
        pairs = suggest_custom_pairs(names)
        if not any(target for _, target in pairs):
            raise no_channel_matched(target_of(context).name, names, "auto", len(pairs))
        settings.routes.clear()
        for source, target in pairs:
            route = settings.routes.add()
            route.source, route.target = source, target
        settings.channel_map = "custom"
        unmatched = [s for s, t in pairs if not t]
        if unmatched:
            self.report({"WARNING"}, f"{len(unmatched)} channel(s) found no shape key: {', '.join(unmatched)}")
        return {"FINISHED"}


class MOUTHPIECE_OT_map_add(TargetOperator, bpy.types.Operator):
    """Add a row to the custom map"""

    bl_idname = "mouthpiece.map_add"
    bl_label = "Add Route"

    def run(self, context):
        settings = context.scene.mouthpiece
        settings.routes.add()
        settings.route_index = len(settings.routes) - 1
        return {"FINISHED"}


class MOUTHPIECE_OT_map_remove(TargetOperator, bpy.types.Operator):
    """Remove the selected row of the custom map"""

    bl_idname = "mouthpiece.map_remove"
    bl_label = "Remove Route"

    def run(self, context):
        settings = context.scene.mouthpiece
        if 0 <= settings.route_index < len(settings.routes):
            settings.routes.remove(settings.route_index)
            settings.route_index = max(0, settings.route_index - 1)
        return {"FINISHED"}


classes = (MOUTHPIECE_OT_add_sound_strip, MOUTHPIECE_OT_clear, MOUTHPIECE_OT_import_json,
           MOUTHPIECE_OT_export_json, MOUTHPIECE_OT_take_activate, MOUTHPIECE_OT_take_push,
           MOUTHPIECE_OT_take_delete, MOUTHPIECE_OT_map_auto, MOUTHPIECE_OT_map_add, MOUTHPIECE_OT_map_remove)
register, unregister = bpy.utils.register_classes_factory(classes)
