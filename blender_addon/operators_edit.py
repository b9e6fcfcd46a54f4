"""Operators around generation: sound strip, clear, Animation JSON import/export, takes, channel map."""
from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .apply import apply_animation, take_animation
from .backend.animation import load_json, save_json
from .backend.errors import MouthpieceError
from .mapping import animatable_names, shape_key_owner, suggest_custom_pairs
from .operators import map_choice
from .sound import add_sound_strip
from .takes import active_action, activate_take, clear_take, delete_take, push_to_nla


def target_of(context):
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
        for line in applied.report_lines():
            self.report({"WARNING"}, line)
        self.report({"INFO"}, f"{applied.write.action.name}: {applied.write.keys_written} keys")
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


class MOUTHPIECE_OT_take_activate(TargetOperator, bpy.types.Operator):
    """Make this take the target's active animation"""

    bl_idname = "mouthpiece.take_activate"
    bl_label = "Use Take"
    take: StringProperty(name="Take")

    def run(self, context):
        obj, action = take_by_name(context, self.take)
        activate_take(obj, action)
        return {"FINISHED"}


class MOUTHPIECE_OT_take_push(TargetOperator, bpy.types.Operator):
    """Put this take on a new NLA track, to layer or sequence takes"""

    bl_idname = "mouthpiece.take_push"
    bl_label = "Push to NLA"
    take: StringProperty(name="Take")

    def run(self, context):
        obj, action = take_by_name(context, self.take)
        push_to_nla(obj, action, int(action.frame_range[0]))
        return {"FINISHED"}


class MOUTHPIECE_OT_take_delete(TargetOperator, bpy.types.Operator):
    """Delete this take's action"""

    bl_idname = "mouthpiece.take_delete"
    bl_label = "Delete Take"
    take: StringProperty(name="Take")

    def run(self, context):
        obj, action = take_by_name(context, self.take)
        delete_take(obj, action)
        return {"FINISHED"}


class MOUTHPIECE_OT_map_auto(TargetOperator, bpy.types.Operator):
    """Fill the custom map with one row per channel, matched to shape keys by normalized name"""

    bl_idname = "mouthpiece.map_auto"
    bl_label = "Auto-Match"

    def run(self, context):
        settings = context.scene.mouthpiece
        names = animatable_names(shape_key_owner(target_of(context), "map"))
        settings.routes.clear()
        pairs = suggest_custom_pairs(names)
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
