"""In Blender: a landmark animation with blink channels keys the landmarks through the solver and the
blink channels onto EyeBlink_L/R as they are."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_addon  # noqa: E402
from blender_addon import keyframes  # noqa: E402
from blender_addon.apply import apply_animation  # noqa: E402
from blender_addon.backend.animation import Animation  # noqa: E402
from blender_fixtures import make_head  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def addon():
    blender_addon.register()
    yield
    bpy.ops.wm.read_homefile(use_empty=True)
    blender_addon.unregister()


def test_blink_channels_key_the_eyelids_beside_the_solved_landmarks():
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start = 25, 1.0, 1
    names = ["JawOpen", "LipsPucker", "EyeBlink_L", "EyeBlink_R"]
    head = make_head("BlinkHead", names, with_landmarks=True)  # key i lifts vertex i by 0.1 in z
    jaw = np.array([0.2, 0.7, 0.4], dtype=np.float32)
    blink = np.array([0.0, 1.0, 0.3], dtype=np.float32)
    channels, columns = [], []
    for vertex in range(2):
        for axis in "xyz":
            channels.append(f"lm{vertex:02d}_{axis}")
            columns.append(jaw * 0.1 if (vertex, axis) == (0, "z") else np.zeros(3, np.float32))
    anim = Animation(25.0, channels + ["EyeBlink_L", "EyeBlink_R"], np.stack(columns + [blink, blink], axis=1),
                     kind="landmarks")
    applied = apply_animation(head, anim, scene, 1)
    curves = {keyframes.shape_key_name(c.data_path): c for c in keyframes.action_fcurves(applied.write.action)}
    for frame in range(3):
        assert curves["JawOpen"].evaluate(1.0 + frame) == pytest.approx(jaw[frame], abs=1e-3)
        assert curves["EyeBlink_L"].evaluate(1.0 + frame) == pytest.approx(blink[frame], abs=1e-3)
        assert curves["EyeBlink_R"].evaluate(1.0 + frame) == pytest.approx(blink[frame], abs=1e-3)
