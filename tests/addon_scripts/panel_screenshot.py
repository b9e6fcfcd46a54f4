"""In a real Blender window (Debian's Blender 3.4 under Xvfb): install the add-on, load the head, make
two takes, and screenshot the 3D View with the Mouthpiece sidebar.

    blender -b --factory-startup --python-expr "import bpy; bpy.context.preferences.view.show_splash = False; \\
        bpy.ops.wm.save_userpref()"
    xvfb-run -a -s "-screen 0 1200x800x24" blender --window-geometry 0 0 1200 800 \\
        --python panel_screenshot.py -- ADDON.zip EXTERNAL_PYTHON OUT.png

(EXTERNAL_PYTHON may be "": the add-on then runs the models with its own packed wheels)

(with BLENDER_USER_SCRIPTS and BLENDER_USER_CONFIG pointing at an empty folder).

Blender 3.4 has no way to pick a sidebar tab from Python, so the other sidebar panels are hidden and
the Mouthpiece panels are the only ones drawn.
"""
import sys
from pathlib import Path

import addon_utils
import bpy

TEXT = "Bob made a map of the moon."


def view3d(screen):
    area = max((a for a in screen.areas if a.type == "VIEW_3D"), key=lambda a: a.width * a.height)
    return area, next(r for r in area.regions if r.type == "WINDOW")


def hide_other_sidebar_panels() -> None:
    for panel in list(bpy.types.Panel.__subclasses__()):
        if (getattr(panel, "bl_space_type", "") == "VIEW_3D" and getattr(panel, "bl_region_type", "") == "UI"
                and panel.__module__.startswith("bl_ui")):
            try:
                bpy.utils.unregister_class(panel)
            except RuntimeError:
                pass


def append_default_head():
    """The installed add-on's default head, its eyes and its camera, appended into the scene."""
    import mouthpiece

    path = Path(mouthpiece.__file__).parent / "assets" / "head.blend"
    with bpy.data.libraries.load(str(path), link=False) as (source, target):
        target.objects = list(source.objects)
    scene = bpy.context.scene
    for obj in target.objects:
        scene.collection.objects.link(obj)
    scene.camera = next(o for o in target.objects if o.type == "CAMERA")
    return bpy.data.objects["MouthpieceHead"]


def setup(zip_path: str, python: str) -> None:
    bpy.ops.preferences.addon_install(filepath=zip_path)
    addon_utils.enable("mouthpiece", default_set=True, handle_error=None)
    bpy.context.preferences.addons["mouthpiece"].preferences.external_python = python
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    head = append_default_head()
    scene = bpy.context.scene
    scene.render.fps = 30
    scene.render.resolution_x = scene.render.resolution_y = 512
    settings = scene.mouthpiece
    settings.target = head
    settings.source, settings.text = "TEXT", TEXT
    assert bpy.ops.mouthpiece.generate() == {"FINISHED"}
    settings.smoothing = 0.03
    assert bpy.ops.mouthpiece.generate() == {"FINISHED"}
    jaw = next(c for c in head.data.shape_keys.animation_data.action.fcurves if "JawOpen" in c.data_path)
    scene.frame_set(int(max(jaw.keyframe_points, key=lambda p: p.co[1]).co[0]))
    hide_other_sidebar_panels()
    window = bpy.context.window_manager.windows[0]
    area, region = view3d(window.screen)
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.ops.screen.screen_full_area()
    area, region = view3d(window.screen)
    space = area.spaces.active
    space.show_region_ui = True
    space.overlay.show_overlays = False
    space.shading.type = "SOLID"
    space.shading.color_type = "MATERIAL"
    space.region_3d.view_perspective = "CAMERA"
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.ops.view3d.view_center_camera()
    space.region_3d.view_camera_zoom = -8.0


def shoot(out_path: str):
    window = bpy.context.window_manager.windows[0]
    area, region = view3d(window.screen)
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.ops.screen.screenshot_area(filepath=out_path)
    print(f"wrote {out_path}")
    bpy.ops.wm.quit_blender()


def main(zip_path: str, python: str, out_path: str) -> None:
    try:
        setup(zip_path, python)
    except Exception:
        import traceback

        traceback.print_exc()
        bpy.ops.wm.quit_blender()
        return
    bpy.app.timers.register(lambda: shoot(out_path), first_interval=3.0)


main(*sys.argv[sys.argv.index("--") + 1:])
