"""Install the built zip into a fresh user folder of the bpy module, enable it, open a head, generate
from text and from the WAV it synthesized, and write what landed on the shape keys as JSON.

    python install_and_generate.py ADDON.zip HEAD.blend OUT.json   (BLENDER_USER_RESOURCES set)
"""
import importlib
import json
import sys

import bpy
import numpy as np

import addon_utils  # noqa: E402  (importable once bpy is)

PACKAGE = "bl_ext.user_default.mouthpiece"
TEXT = "Bob made a map."


def take_report(module, obj, anim) -> dict:
    """How far the active take is from `anim` (rows on scene frames 1, 2, ...): keyed channels at every
    row, unkeyed ones (still, so left out) against 0."""
    action = module.takes.active_action(obj)
    curves = {module.keyframes.shape_key_name(c.data_path): c for c in module.keyframes.action_fcurves(action)}
    rows = 1.0 + np.arange(anim.n_frames)
    error, frames = 0.0, set()
    for column, name in enumerate(anim.channels):
        curve = curves.get(name)
        played = np.array([curve.evaluate(f) for f in rows]) if curve else np.zeros(len(rows))
        error = max(error, float(np.abs(played - anim.values[:, column]).max()))
        if curve:
            co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
            curve.keyframe_points.foreach_get("co", co)
            frames.update(co[0::2].tolist())
    return {"action": action.name, "curves": sorted(curves), "max_error": error, "frames": sorted(frames),
            "n_frames": anim.n_frames, "anim_fps": anim.fps, "jaw_max": float(anim.channel("JawOpen").max())}


def main(zip_path: str, head_path: str, out_path: str) -> None:
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    enabled = PACKAGE in bpy.context.preferences.addons
    bpy.ops.wm.open_mainfile(filepath=head_path)
    module = importlib.import_module(PACKAGE)
    for name in ("generation", "takes", "keyframes", "headless", "sound"):
        setattr(module, name, importlib.import_module(f"{PACKAGE}.{name}"))
    scene = bpy.context.scene
    obj = module.headless.find_target(None)
    scene.mouthpiece.target = obj
    fps = scene.render.fps / scene.render.fps_base
    report = {"enabled": enabled, "module": module.__file__, "scene_fps": fps, "object": obj.name}

    bpy.ops.mouthpiece.generate(text=TEXT)
    strip = module.sound.sound_strips(scene)[-1]
    wav = bpy.path.abspath(strip.sound.filepath)
    request = module.generation.GenerateRequest(text=TEXT, fps=fps, speech_out=wav + ".again.wav")
    report["text"] = take_report(module, obj, module.generation.run_in_process(request, lambda f, m: None))

    bpy.ops.mouthpiece.generate(audio=wav, transcript=TEXT)
    request = module.generation.GenerateRequest(audio_path=wav, transcript=TEXT, fps=fps)
    report["wav"] = take_report(module, obj, module.generation.run_in_process(request, lambda f, m: None))
    report["takes"] = [a.name for a in module.takes.takes_for(obj)]
    report["strips"] = len(module.sound.sound_strips(scene))
    report["blender"] = bpy.app.version_string
    addon_utils.disable(PACKAGE)
    with open(out_path, "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main(*sys.argv[1:4])
