"""Inside Debian's Blender 3.4 (`blender -b --python`): install the zip as a legacy add-on, enable it,
save the preferences, and put a head with the 46 shape keys in a .blend.

    blender -b --factory-startup --python legacy_install.py -- ADDON.zip EXTERNAL_PYTHON HEAD.blend
"""
import sys
from pathlib import Path

import addon_utils
import bpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from blender_fixtures import make_head  # noqa: E402


def main(zip_path: str, python: str, head_path: str) -> None:
    bpy.ops.preferences.addon_install(filepath=zip_path)
    addon_utils.enable("mouthpiece", default_set=True, handle_error=None)
    assert "mouthpiece" in bpy.context.preferences.addons, "add-on did not enable"
    prefs = bpy.context.preferences.addons["mouthpiece"].preferences
    prefs.external_python = python
    bpy.ops.wm.save_userpref()
    from mouthpiece.backend.rig import FACEWAREHOUSE_46

    bpy.ops.wm.read_homefile(use_empty=True)
    make_head("Head", FACEWAREHOUSE_46)
    bpy.context.scene.render.fps = 25
    bpy.ops.wm.save_as_mainfile(filepath=head_path)


main(*sys.argv[sys.argv.index("--") + 1:])
