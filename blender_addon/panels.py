"""The "Mouthpiece" tab in the 3D View sidebar."""
from __future__ import annotations

import bpy

from .mapping import animatable_names, build_map
from .backend.rig import FACEWAREHOUSE_46
from .keyframes import OBJECT_TAG, TAKE_TAG
from .operators import ACTIVE_JOBS, heads_in
from .properties import model_caveat
from .runtime_note import draw_runtime_note
from .score_take import draw_score
from .sound import strips_attribute
from .takes import active_action, in_nla, take_order


def shape_keys_of(obj):
    key = getattr(obj.data, "shape_keys", None) if obj is not None else None
    return key if key is not None and len(key.key_blocks) > 1 else None


def unmatched_channels(settings) -> list[str]:
    """Channels of a FaceWarehouse-46 animation that the current map sends to no existing shape key."""
    key = shape_keys_of(settings.target)
    if key is None:
        return []
    names = animatable_names(key)
    pairs = [(r.source, r.target) for r in settings.routes]
    routes = build_map(settings.channel_map, list(FACEWAREHOUSE_46), names, pairs).routes
    present = set(names)
    return [c for c in FACEWAREHOUSE_46 if not any(t in present for t, _ in routes.get(c, []))]


class MouthpiecePanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mouthpiece"


class MOUTHPIECE_PT_main(MouthpiecePanel, bpy.types.Panel):
    bl_label = "Mouthpiece"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mouthpiece
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(settings, "source")
        if settings.source == "AUDIO":
            layout.prop(settings, "audio_path")
            layout.prop(settings, "transcript")
        elif settings.source == "STRIP":
            editor = context.scene.sequence_editor
            if editor:
                layout.prop_search(settings, "sound_strip", editor, strips_attribute(editor), icon="SOUND")
            else:
                layout.label(text="The scene has no sound strips", icon="INFO")
        else:
            layout.prop(settings, "text")
        layout.prop(settings, "language")
        layout.prop(settings, "voice")
        layout.prop(settings, "model")
        caveat = model_caveat(settings.model)
        if caveat:
            layout.label(text=caveat[:1].upper() + caveat[1:], icon="ERROR")
        draw_runtime_note(layout, context, settings.model)
        layout.prop(settings, "target")
        if settings.target is None:
            heads = heads_in(context.scene)
            if len(heads) == 1:
                layout.label(text=f"Generate uses {heads[0].name}, the only head here", icon="INFO")
        if settings.target is not None and shape_keys_of(settings.target) is None:
            layout.label(text=f"{settings.target.name} has no shape keys", icon="ERROR")
        self.draw_actions(context, settings)

    def draw_actions(self, context, settings):
        layout = self.layout
        if context.scene.name in ACTIVE_JOBS:
            if hasattr(layout, "progress"):
                layout.progress(factor=settings.progress, type="BAR", text=settings.status)
            else:  # Blender < 4.0: a label, not an editable slider
                layout.label(text=f"{settings.progress:.0%}  {settings.status}", icon="SORTTIME")
            layout.label(text="Esc cancels", icon="CANCEL")
        else:
            layout.operator("mouthpiece.generate", icon="PLAY_SOUND")
            if settings.status:
                layout.label(text=settings.status)
        row = layout.row(align=True)
        row.operator("mouthpiece.add_sound_strip", text="Add Strip", icon="SOUND")
        row.operator("mouthpiece.clear", icon="X")


class MOUTHPIECE_UL_routes(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        key = shape_keys_of(context.scene.mouthpiece.target)
        row = layout.row(align=True)
        row.prop(item, "source", text="", emboss=False)
        if key is not None:
            row.prop_search(item, "target", key, "key_blocks", text="", icon="SHAPEKEY_DATA")
        else:
            row.prop(item, "target", text="")


class MOUTHPIECE_PT_mapping(MouthpiecePanel, bpy.types.Panel):
    bl_label = "Channel Mapping"
    bl_parent_id = "MOUTHPIECE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mouthpiece
        layout.prop(settings, "channel_map")
        if settings.channel_map == "custom":
            row = layout.row()
            row.template_list("MOUTHPIECE_UL_routes", "", settings, "routes", settings, "route_index", rows=4)
            column = row.column(align=True)
            column.operator("mouthpiece.map_add", icon="ADD", text="")
            column.operator("mouthpiece.map_remove", icon="REMOVE", text="")
        layout.operator("mouthpiece.map_auto", icon="LINKED")
        unmatched = unmatched_channels(settings)
        if unmatched:
            layout.label(text=f"{len(unmatched)} of {len(FACEWAREHOUSE_46)} channels find no shape key",
                         icon="ERROR")
            layout.label(text=", ".join(unmatched[:4]) + (" ..." if len(unmatched) > 4 else ""))


class MOUTHPIECE_PT_options(MouthpiecePanel, bpy.types.Panel):
    bl_label = "Options"
    bl_parent_id = "MOUTHPIECE_PT_main"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.mouthpiece
        for name in ("strength", "smoothing", "offset", "blinks", "add_strip", "start"):
            layout.prop(settings, name)
        if settings.start == "FRAME":
            layout.prop(settings, "start_frame")
        layout.prop(settings, "fit_range")


class MOUTHPIECE_PT_keys(MouthpiecePanel, bpy.types.Panel):
    """Which channels a take keys, and how many keys."""

    bl_label = "Keys"
    bl_parent_id = "MOUTHPIECE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mouthpiece
        layout.row(align=True).prop(settings, "channel_groups", expand=True)
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(settings, "only_moving")
        layout.prop(settings, "thin_keys")
        row = layout.row()
        row.active = settings.thin_keys
        row.prop(settings, "key_tolerance")
        layout.prop(settings, "replace_hand_keys")


class MOUTHPIECE_UL_takes(bpy.types.UIList):
    """Actions made by Mouthpiece for the target object."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        obj = context.scene.mouthpiece.target
        head = obj is not None and shape_keys_of(obj) is not None
        playing = head and active_action(obj) == item
        row = layout.row(align=True)
        # the name is the Use Take button: hovering it shows the source, model and frames
        row.operator("mouthpiece.take_activate", text=f"{take_order(item)}. {item.name}", emboss=False,
                     icon="PLAY" if playing else "ACTION").take = item.name
        if head and in_nla(obj, item):
            row.label(text="", icon="NLA")
        row.operator("mouthpiece.take_activate", text="", icon="CHECKMARK").take = item.name
        row.operator("mouthpiece.take_push", text="", icon="NLA_PUSHDOWN").take = item.name
        row.operator("mouthpiece.take_delete", text="", icon="TRASH").take = item.name

    def filter_items(self, context, data, propname):
        obj = context.scene.mouthpiece.target
        name = obj.name if obj is not None else None
        actions = getattr(data, propname)
        flags = [self.bitflag_filter_item if (TAKE_TAG in a and a.get(OBJECT_TAG) == name) else 0
                 for a in actions]
        by_age = sorted(range(len(actions)), key=lambda i: take_order(actions[i]) if flags[i] else 0)
        order = [0] * len(actions)
        for position, index in enumerate(by_age):
            order[index] = position
        return flags, order


class MOUTHPIECE_PT_takes(MouthpiecePanel, bpy.types.Panel):
    bl_label = "Takes"
    bl_parent_id = "MOUTHPIECE_PT_main"

    def draw(self, context):
        self.layout.template_list("MOUTHPIECE_UL_takes", "", bpy.data, "actions",
                                  context.scene.mouthpiece, "take_index", rows=3)
        draw_score(self.layout, context)


class MOUTHPIECE_PT_files(MouthpiecePanel, bpy.types.Panel):
    bl_label = "Animation JSON"
    bl_parent_id = "MOUTHPIECE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        row = self.layout.row(align=True)
        row.operator("mouthpiece.import_json", icon="IMPORT", text="Import")
        row.operator("mouthpiece.export_json", icon="EXPORT", text="Export")


classes = (MOUTHPIECE_PT_main, MOUTHPIECE_UL_routes, MOUTHPIECE_PT_mapping, MOUTHPIECE_PT_options,
           MOUTHPIECE_PT_keys, MOUTHPIECE_UL_takes, MOUTHPIECE_PT_takes, MOUTHPIECE_PT_files)
register, unregister = bpy.utils.register_classes_factory(classes)
