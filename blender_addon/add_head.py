"""Add → Mesh → Mouthpiece Head: the default head (and its eyes) appended from the shipped head.blend."""
from __future__ import annotations

from pathlib import Path

import bpy

from .backend.errors import InputError, MouthpieceError

HEAD_FILES = (Path(__file__).resolve().parent / "assets" / "head.blend",  # inside the installed add-on
              Path(__file__).resolve().parent.parent / "assets" / "head.blend")  # in a checkout
HEAD_OBJECT = "MouthpieceHead"


def head_file() -> Path:
    found = next((path for path in HEAD_FILES if path.is_file()), None)
    if found is None:
        raise InputError(HEAD_FILES[0], "the default head is missing from the add-on; reinstall it")
    return found


def append_head(context) -> bpy.types.Object:
    """Append the head and its child objects into the active collection, at the 3D cursor."""
    path = head_file()
    with bpy.data.libraries.load(str(path), link=False) as (source, target):
        if HEAD_OBJECT not in source.objects:
            raise InputError(path, f"has no object named {HEAD_OBJECT!r}")
        target.objects = list(source.objects)
    appended = [o for o in target.objects if o is not None]
    head = next(o for o in appended if o.name.startswith(HEAD_OBJECT) and o.parent is None and o.type == "MESH")
    keep = {head} | {o for o in appended if o.parent == head}
    collection = context.collection or context.scene.collection
    for obj in appended:
        if obj in keep:
            collection.objects.link(obj)
        else:  # the shipped scene's camera and lights stay out
            bpy.data.objects.remove(obj)
    head.location = context.scene.cursor.location
    return head


class MOUTHPIECE_OT_add_head(bpy.types.Operator):
    """Add the Mouthpiece head: 46 shape keys, eyes that follow the gaze keys, and its landmarks"""

    bl_idname = "mouthpiece.add_head"
    bl_label = "Mouthpiece Head"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            head = append_head(context)
        except MouthpieceError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        for obj in context.selected_objects:
            obj.select_set(False)
        head.select_set(True)
        context.view_layer.objects.active = head
        settings = context.scene.mouthpiece
        if settings.target is None:
            settings.target = head
        return {"FINISHED"}


def menu_entry(self, context):
    self.layout.operator(MOUTHPIECE_OT_add_head.bl_idname, icon="MONKEY")


def register() -> None:
    bpy.utils.register_class(MOUTHPIECE_OT_add_head)
    bpy.types.VIEW3D_MT_mesh_add.append(menu_entry)


def unregister() -> None:
    bpy.types.VIEW3D_MT_mesh_add.remove(menu_entry)
    bpy.utils.unregister_class(MOUTHPIECE_OT_add_head)
