"""Inside Debian's Blender 3.4 (`blender -b --factory-startup --python`): install the zip as a legacy
add-on with no external Python, enable it, save the preferences, and write the installed add-on's folder.

    blender -b --factory-startup --python legacy_setup.py -- ADDON.zip OUT.txt
"""
import sys
from pathlib import Path

import addon_utils
import bpy


def main(zip_path: str, out_path: str) -> None:
    bpy.ops.preferences.addon_install(filepath=zip_path)
    addon_utils.enable("mouthpiece", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["mouthpiece"].preferences
    prefs.external_python = ""
    bpy.ops.wm.save_userpref()
    import mouthpiece

    Path(out_path).write_text(str(Path(mouthpiece.__file__).resolve().parent))


main(*sys.argv[sys.argv.index("--") + 1:])
