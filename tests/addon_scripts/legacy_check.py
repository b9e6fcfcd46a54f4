"""Inside Debian's Blender 3.4, after the add-on is enabled: generate from text (through the external
Python), import an Animation JSON, and write what landed on the shape keys as JSON.

    blender -b HEAD.blend --python legacy_check.py -- ANIMATION.json OUT.json
"""
import json
import sys

import bpy
import numpy as np


def curve_values(head, action) -> dict:
    from mouthpiece.keyframes import action_fcurves, shape_key_name

    out = {}
    for curve in action_fcurves(action):
        co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
        curve.keyframe_points.foreach_get("co", co)
        out[shape_key_name(curve.data_path)] = co.reshape(-1, 2).tolist()
    return out


def main(anim_path: str, out_path: str) -> None:
    head = bpy.data.objects["Head"]
    key = head.data.shape_keys
    report = {"version": list(bpy.app.version), "enabled": "mouthpiece" in bpy.context.preferences.addons}
    bpy.context.scene.mouthpiece.target = head
    report["generate"] = sorted(bpy.ops.mouthpiece.generate(text="Bob made a map.", object="Head"))
    text_take = key.animation_data.action
    report["text_take"] = text_take.name
    report["text_jaw"] = curve_values(head, text_take)["JawOpen"]
    report["import"] = sorted(bpy.ops.mouthpiece.import_json(filepath=anim_path, object="Head"))
    take = key.animation_data.action
    report["import_take"] = take.name
    report["import_curves"] = curve_values(head, take)
    report["text_take_kept"] = text_take.name in bpy.data.actions
    with open(out_path, "w") as handle:
        json.dump(report, handle)


main(*sys.argv[sys.argv.index("--") + 1:])
