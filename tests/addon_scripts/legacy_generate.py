"""Inside Debian's Blender 3.4 with the add-on enabled and no external Python, on a saved .blend holding
the default head: generate from text and from each audio file given, save, and write a JSON report.

    blender -b SCENE.blend --python legacy_generate.py -- OUT.json AUDIO...
"""
import json
import sys
from pathlib import Path

import bpy

HEAD = "MouthpieceHead"


def take_report(head) -> dict:
    from mouthpiece.keyframes import action_fcurves, shape_key_name

    action = head.data.shape_keys.animation_data.action
    curves = {shape_key_name(c.data_path): c for c in action_fcurves(action)}
    jaw = [k.co[1] for k in curves["JawOpen"].keyframe_points] if "JawOpen" in curves else []
    return {"action": action.name, "curves": len(curves), "keys": sum(len(c.keyframe_points) for c in curves.values()),
            "jaw_max": max(jaw, default=0.0)}


def generate(report: dict, label: str, **source) -> None:
    head = bpy.data.objects[HEAD]
    try:
        result = bpy.ops.mouthpiece.generate(object=HEAD, **source)
    except RuntimeError:  # an operator that reports an error raises in background mode
        result = {"CANCELLED"}
    entry = {"result": sorted(result)}
    if "FINISHED" in result:
        entry.update(take_report(head))
    report["takes"][label] = entry


class Layout:
    """Records what a panel draws (labels and buttons)."""

    def __init__(self):
        self.lines = []

    def column(self, align=False):
        return self

    def row(self, align=False):
        return self

    def prop(self, data, name, **options):
        self.lines.append(f"<{name}>")

    def label(self, text="", icon="NONE"):
        self.lines.append(text)

    def operator(self, idname, text="", icon="NONE"):
        self.lines.append(f"[{text}] {idname}")
        return type("Properties", (), {})()


def panel_note(model: str) -> list:
    from mouthpiece.runtime_note import draw_runtime_note

    layout = Layout()
    draw_runtime_note(layout, bpy.context, model)
    return layout.lines


def progress_lines() -> list:
    """What the panel shows while a generation runs at 40 %."""
    from mouthpiece import panels
    from mouthpiece.operators import ACTIVE_JOBS

    scene = bpy.context.scene
    scene.mouthpiece.progress, scene.mouthpiece.status = 0.4, "aligning"
    ACTIVE_JOBS[scene.name] = None
    layout = Layout()
    try:
        panels.MOUTHPIECE_PT_main.draw_actions(type("Panel", (), {"layout": layout})(), bpy.context,
                                               scene.mouthpiece)
    finally:
        del ACTIVE_JOBS[scene.name]
    return layout.lines


def main(out_path: str, *audio: str) -> None:
    report = {"version": list(bpy.app.version), "takes": {}}
    prefs = bpy.context.preferences.addons["mouthpiece"].preferences
    report["external_python"] = prefs.external_python
    head = bpy.data.objects[HEAD]
    report["keys"] = len(head.data.shape_keys.key_blocks) - 1
    report["landmarks"] = len(head["mouthpiece_landmarks"])
    generate(report, "text", text="Bob made a map.")
    generate(report, "failed", text="Hello there.", model="no-such-model")
    for path in audio:
        generate(report, Path(path).suffix, audio=path, transcript="Bob made a map.")
    import importlib.util

    from mouthpiece import site_wheels

    report["site"] = site_wheels.unpacked()
    site_wheels.use_site()
    report["found_in"] = {name: importlib.util.find_spec(name).origin for name in ("soundfile", "pocketsphinx")}
    report["progress"] = progress_lines()
    report["notes"] = {model: panel_note(model) for model in ("phonemes", "cnn-gru", "no-such-model")}
    editor = bpy.context.scene.sequence_editor
    strips = editor.sequences_all if editor else []
    report["strips"] = [{"name": s.name, "path": s.sound.filepath, "frames": s.frame_final_duration}
                        for s in strips if s.type == "SOUND"]
    bpy.ops.wm.save_mainfile()
    with open(out_path, "w") as handle:
        json.dump(report, handle)


main(*sys.argv[sys.argv.index("--") + 1:])
