"""The Score button in a real Blender: a phonemes take of the default head scored against its sound strip,
the numbers kept on the scene and shown under the takes, Apply Offset moving only the take's own keys, and
one-line errors that change nothing. Runs here (bpy 4.5), in the Blender 5 module and in Debian's Blender."""
from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

try:
    import bpy
except ImportError:  # a Python without bpy runs this file in Blender: see the last tests
    bpy = None

if bpy is not None:
    import blender_addon
    from blender_addon import keyframes, takes

LINE = "Bob made a map of the moon."
REPO = Path(__file__).resolve().parents[1]
RUNNERS = ("test_in_the_blender_5_module", "test_in_debian_blender")
NESTED = "MOUTHPIECE_SCORE_ADDON_IN_BLENDER"
EXPERT_ENV = "MOUTHPIECE_SYNC_EXPERT"
SCENE_FPS = 24


@pytest.fixture(scope="module")
def addon():
    blender_addon.register()
    yield
    bpy.ops.wm.read_homefile(use_empty=True)
    blender_addon.unregister()


@pytest.fixture(autouse=True)
def scene(request, monkeypatch):
    if request.node.name.startswith(RUNNERS):
        yield None
        return
    if bpy is None:
        pytest.skip("needs bpy: the runners at the end run this file in Blender")
    monkeypatch.setenv(EXPERT_ENV, str(request.getfixturevalue("tiny_expert")))
    request.getfixturevalue("addon")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end = SCENE_FPS, 1.0, 1, 250
    yield scene


def head_with_a_take(scene, add_strip: bool = True):
    """The default head with hand keys on BrowsU_L, then a phonemes take of LINE."""
    assert bpy.ops.mouthpiece.add_head() == {"FINISHED"}
    head = bpy.data.objects["MouthpieceHead"]
    brows = head.data.shape_keys.key_blocks["BrowsU_L"]
    for frame, value in ((1, 0.2), (20, 0.9)):
        brows.value = value
        brows.keyframe_insert("value", frame=frame)
    settings = scene.mouthpiece
    settings.target, settings.model, settings.add_strip = head, "phonemes", add_strip
    assert bpy.ops.mouthpiece.generate(text=LINE) == {"FINISHED"}
    return head, takes.active_action(head)


def key_frames(action) -> dict:
    """{shape key: [frames of its keys]} of an action."""
    found = {}
    for curve in keyframes.action_fcurves(action):
        co = np.empty(2 * len(curve.keyframe_points), dtype=np.float64)
        curve.keyframe_points.foreach_get("co", co)
        found[keyframes.shape_key_name(curve.data_path)] = co[0::2]
    return found


def test_score_keeps_the_take_score(scene):
    head, take = head_with_a_take(scene)
    assert takes.take_strip(scene, take) is not None
    assert bpy.ops.mouthpiece.score_take() == {"FINISHED"}
    settings = scene.mouthpiece
    assert settings.score_take == take.name
    assert math.isfinite(settings.score_confidence) and math.isfinite(settings.score_distance)
    assert settings.score_distance > 0
    assert isinstance(settings.score_offset, int) and -15 <= settings.score_offset <= 15
    assert "LSE-C" in settings.score_summary and "offset" in settings.score_summary
    drawn = draw_takes_panel(scene)
    assert "mouthpiece.score_take" in drawn
    assert any(text.startswith("Confidence") for text in drawn)
    assert ("mouthpiece.score_apply_offset" in drawn) == (settings.score_offset != 0)


@pytest.mark.parametrize("offset", [3, -2])
def test_apply_offset_moves_only_the_takes_own_keys(scene, offset):
    head, take = head_with_a_take(scene)
    own = bpy.data.actions[take[keyframes.PREVIOUS_TAG]]
    before, own_before = key_frames(take), key_frames(own)
    keyed = set(take[keyframes.KEYED_TAG].split("\n"))
    assert "BrowsU_L" in before and "BrowsU_L" not in keyed and "JawOpen" in keyed
    bpy.ops.mouthpiece.score_take()
    scene.mouthpiece.score_offset = offset  # the mouth `offset` frames late at 25 fps
    assert bpy.ops.mouthpiece.score_apply_offset() == {"FINISHED"}
    after = key_frames(take)
    shift = -offset / 25.0 * SCENE_FPS
    for name in keyed:
        np.testing.assert_allclose(after[name], before[name] + shift, atol=1e-3)
    np.testing.assert_allclose(after["BrowsU_L"], before["BrowsU_L"])
    for name, frames in key_frames(own).items():
        np.testing.assert_allclose(frames, own_before[name])
    assert scene.mouthpiece.score_take == ""
    with pytest.raises(RuntimeError, match="has not been scored"):
        bpy.ops.mouthpiece.score_apply_offset()


def test_the_scored_offset_is_applied_in_scene_frames(scene):
    head, take = head_with_a_take(scene)
    before = key_frames(take)["JawOpen"]
    bpy.ops.mouthpiece.score_take()
    offset = scene.mouthpiece.score_offset
    bpy.ops.mouthpiece.score_apply_offset()
    np.testing.assert_allclose(key_frames(take)["JawOpen"], before - offset * SCENE_FPS / 25.0, atol=1e-3)


def test_score_without_an_expert_changes_nothing(scene, monkeypatch, tmp_path):
    head, take = head_with_a_take(scene)
    before = key_frames(take)
    monkeypatch.setenv(EXPERT_ENV, str(tmp_path / "missing" / "model"))
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.mouthpiece.score_take()
    message = str(caught.value).strip()
    assert "\n" not in message and "missing" in message
    assert scene.mouthpiece.score_take == "" and scene.mouthpiece.score_summary == ""
    assert {k: list(v) for k, v in key_frames(take).items()} == {k: list(v) for k, v in before.items()}


def test_score_of_a_take_without_sound_says_so(scene):
    head, take = head_with_a_take(scene, add_strip=False)
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.mouthpiece.score_take()
    message = str(caught.value).strip()
    assert "\n" not in message and f"take {take.name!r} has no sound strip" in message
    assert scene.mouthpiece.score_take == ""


class RecordingLayout:
    """Stands in for a panel's layout and records the labels and operators it is given."""

    def __init__(self, drawn: list):
        self.drawn = drawn

    def __getattr__(self, name):
        def call(*args, **kwargs):
            if name == "operator":
                module, operator = args[0].split(".")
                assert hasattr(getattr(bpy.ops, module), operator), args[0]
                self.drawn.append(args[0])
                return type("OperatorProperties", (), {})()
            if name == "label":
                self.drawn.append(kwargs.get("text", ""))
            return self
        return call


def draw_takes_panel(scene) -> list:
    from types import SimpleNamespace

    from blender_addon import panels

    drawn: list = []
    panel = type("Drawn", (), {})()
    panel.layout = RecordingLayout(drawn)
    panels.MOUTHPIECE_PT_takes.draw(panel, SimpleNamespace(scene=scene))
    return drawn


# --- the same tests in Blender, from a Python without that Blender ----------------------------------

def skip_unless_outside(version: tuple[int, int], available: bool, why_not: str) -> None:
    if os.environ.get(NESTED) or (bpy is not None and bpy.app.version[:2] == version):
        pytest.skip("this is that Blender")
    if not available:
        pytest.skip(why_not)


def nested_env(expert: Path) -> dict:
    return dict(os.environ, **{NESTED: "1", EXPERT_ENV: str(expert)})


def passed_in(done: subprocess.CompletedProcess) -> bool:
    """Every test passed, and only the two runners were skipped."""
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return done.returncode == 0 and re.fullmatch(r"\d+ passed, 2 skipped in .*", summary) is not None


def test_in_the_blender_5_module(tmp_path, tiny_expert):
    python = REPO / ".venv-bpy5" / "bin" / "python"
    skip_unless_outside((5, 0), python.is_file(), "no .venv-bpy5 (bpy 5.0.1)")
    done = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
                           str(tmp_path / "run"), __file__], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env=nested_env(tiny_expert))
    assert passed_in(done), done.stdout[-3000:]


def test_in_debian_blender(tmp_path, tiny_expert):
    """Blender 3.4's own Python, with this Python's pytest and audio packages on its path (both are 3.11)."""
    blender = shutil.which("blender")
    skip_unless_outside((3, 4), blender is not None, "no `blender` executable on PATH")
    tools, wheels = tmp_path / "pytest_path", tmp_path / "wheels" / "site-packages"  # the audio packages, as
    for folder, patterns in ((tools, ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "py.py")),  # the
                             (wheels, ("soundfile.py", "_soundfile.py", "_soundfile_data", "soxr", "cffi",  # zip's
                                       "pycparser", "_cffi_backend.*.so"))):  # wheels give them
        folder.mkdir(parents=True)
        for pattern in patterns:
            for module in Path(pytest.__file__).parents[1].glob(pattern):
                (folder / module.name).symlink_to(module)
    code = (f"import sys; sys.path[:0] = {[str(tools), str(REPO), str(REPO / 'tests')]!r}; "
            f"sys.path.append({str(wheels)!r}); import pytest; "
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--basetemp', {str(tmp_path / 'run')!r}, "
            f"{__file__!r}]))")
    done = subprocess.run([blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", code],
                          cwd=REPO, capture_output=True, text=True, timeout=900, env=nested_env(tiny_expert))
    assert passed_in(done), done.stdout[-3000:]
