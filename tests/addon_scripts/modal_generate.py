"""In a real Blender window (Xvfb, `--enable-event-simulate`): Generate runs as a modal operator with a
worker thread and a timer; a second Generate is cancelled with Esc. Writes what happened as JSON.

    xvfb-run -a blender --factory-startup --enable-event-simulate --python modal_generate.py -- \\
        ADDON.zip EXTERNAL_PYTHON OUT.json
"""
import json
import sys
import time
from pathlib import Path

import addon_utils
import bpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from blender_fixtures import make_head  # noqa: E402

REPORT = {"progress": [], "statuses": []}


def view3d_context():
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return window, area, region


def invoke_generate():
    window, area, region = view3d_context()
    with bpy.context.temp_override(window=window, area=area, region=region):
        return sorted(bpy.ops.mouthpiece.generate("INVOKE_DEFAULT"))


def running() -> bool:
    from mouthpiece.operators import ACTIVE_JOBS

    return bool(ACTIVE_JOBS)


def take_count() -> int:
    from mouthpiece.takes import takes_for

    return len(takes_for(bpy.data.objects["Head"]))


def finish(out_path: str):
    with open(out_path, "w") as handle:
        json.dump(REPORT, handle)
    bpy.ops.wm.quit_blender()


def settle(quick_ticks: int = 5, deadline_s: float = 60.0):
    """Wait until the window draws quickly (software OpenGL compiles its shaders on the first draws)."""
    last, streak, give_up = time.time(), 0, time.time() + deadline_s
    while streak < quick_ticks and time.time() < give_up:
        yield
        now = time.time()
        streak = streak + 1 if now - last < 0.3 else 0
        last = now


def steps(out_path: str):
    """A generator driven by a timer: each `yield` waits for the next tick."""
    yield from settle()
    start = time.time()
    REPORT["first_invoke"] = invoke_generate()
    REPORT["running_after_invoke"] = running()
    deadline = time.time() + 120
    while running() and time.time() < deadline:
        settings = bpy.context.scene.mouthpiece
        REPORT["progress"].append(settings.progress)
        REPORT["statuses"].append(settings.status)
        REPORT.setdefault("ticks", []).append(round(time.time() - start, 2))
        yield
    REPORT["takes_after_first"] = take_count()
    REPORT["second_invoke"] = invoke_generate()
    REPORT["running_before_esc"] = running()
    window = bpy.context.window_manager.windows[0]
    window.event_simulate(type="ESC", value="PRESS")
    window.event_simulate(type="ESC", value="RELEASE")
    for _ in range(30):  # 3 s: the worker would have finished by now if it had not been stopped
        yield
    REPORT["running_after_esc"] = running()
    REPORT["takes_after_cancel"] = take_count()
    finish(out_path)


def main(zip_path: str, python: str, out_path: str) -> None:
    bpy.ops.preferences.addon_install(filepath=zip_path)
    addon_utils.enable("mouthpiece", default_set=True, handle_error=None)
    bpy.context.preferences.addons["mouthpiece"].preferences.external_python = python
    scene = bpy.context.scene
    from mouthpiece.backend.rig import FACEWAREHOUSE_46

    scene.mouthpiece.target = make_head("Head", FACEWAREHOUSE_46)
    scene.mouthpiece.source, scene.mouthpiece.text = "TEXT", "Bob made a map of the moon."
    sequence = steps(out_path)

    def tick():
        try:
            next(sequence)
        except StopIteration:
            return None
        except Exception as err:  # report and quit instead of leaving the window open
            REPORT["error"] = f"{type(err).__name__}: {err}"
            finish(out_path)
            return None
        return 0.1

    bpy.app.timers.register(tick, first_interval=1.0)


main(*sys.argv[sys.argv.index("--") + 1:])
