"""The zip as a legacy add-on in Debian's Blender 3.4 (`blender -b`, system Python 3.11), where the
models run in the external Python (.venv) through the JSON-lines bridge."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blender_fixtures import build_addon_zip

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "addon_scripts"
BLENDER = shutil.which("blender")

pytestmark = pytest.mark.skipif(BLENDER is None, reason="no `blender` executable on PATH")


def blender(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([BLENDER, "-b", *map(str, args)], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def addon_zip(tmp_path_factory) -> Path:
    return build_addon_zip(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def legacy(tmp_path_factory, addon_zip):
    """(environment with the add-on installed and enabled, head .blend, folder)."""
    folder = tmp_path_factory.mktemp("legacy")
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(folder / "scripts"),
               BLENDER_USER_CONFIG=str(folder / "config"))
    head = folder / "head.blend"
    done = blender("--factory-startup", "--python-exit-code", "1", "--python", SCRIPTS / "legacy_install.py",
                   "--", addon_zip, sys.executable, head, env=env)
    assert done.returncode == 0 and head.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return env, head, folder


def test_legacy_addon_generates_and_imports(legacy):
    env, head, folder = legacy
    sys.path.insert(0, str(REPO))
    from backend.animation import Animation, save_json
    from backend.rig import FACEWAREHOUSE_46

    values = np.random.default_rng(3).uniform(0, 1, (10, 46)).astype(np.float32)
    save_json(Animation(50.0, list(FACEWAREHOUSE_46), values), folder / "anim.json")
    out = folder / "report.json"
    done = blender(head, "--python-exit-code", "1", "--python", SCRIPTS / "legacy_check.py", "--",
                   folder / "anim.json", out, env=env)
    assert done.returncode == 0 and out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["version"][:2] == [3, 4] and report["enabled"]
    assert report["generate"] == ["FINISHED"] and report["import"] == ["FINISHED"]
    assert max(v for _, v in report["text_jaw"]) > 0.1  # the mouth opens for "Bob made a map."
    curves = report["import_curves"]
    assert set(curves) == set(FACEWAREHOUSE_46) and report["text_take_kept"]
    jaw = np.array(curves["JawOpen"])
    np.testing.assert_allclose(jaw[:, 0], 1 + np.arange(10) * 25 / 50)  # 50 fps rows in a 25 fps scene
    expected = values[:, FACEWAREHOUSE_46.index("JawOpen")]
    np.testing.assert_allclose(jaw[:, 1], expected, atol=1e-5)  # JSON keeps 5 decimals


def test_python_expr_generate_with_the_addon_enabled(legacy):
    env, head, folder = legacy
    out = folder / "expr.blend"
    expr = ("import bpy; bpy.ops.mouthpiece.generate(text='Hello there.', object='Head'); "
            f"bpy.ops.wm.save_as_mainfile(filepath={str(out)!r})")
    done = blender(head, "--python-exit-code", "1", "--python-expr", expr, env=env)
    assert done.returncode == 0 and out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    assert " keys on " in done.stdout and " shape keys" in done.stdout


def test_batch_script_from_a_checkout(legacy):
    env, head, folder = legacy
    out = folder / "batch.blend"
    batch = REPO / "blender_addon" / "batch.py"
    done = blender(head, "--python", batch, "--", "--text", "Bob made a map.", "--object", "Head", "--out", out,
                   env=env)
    assert done.returncode == 0 and out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    assert (folder / "batch_speech.wav").is_file()
    missing = folder / "missing.wav"
    done = blender(head, "--python", batch, "--", "--audio", missing, "--out", folder / "bad.blend", env=env)
    assert done.returncode == 1 and f"mouthpiece: error: {missing}: audio file not found" in done.stderr
    assert not (folder / "bad.blend").exists()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="no xvfb-run for a real window")
def test_modal_generate_in_a_window_and_cancel_with_esc(addon_zip, tmp_path):
    """A real window: Generate returns at once and works on a thread (the UI keeps ticking); Esc cancels."""
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(tmp_path / "scripts"),
               BLENDER_USER_CONFIG=str(tmp_path / "config"))
    out = tmp_path / "modal.json"
    done = subprocess.run(["xvfb-run", "-a", BLENDER, "--factory-startup", "--enable-event-simulate", "--python",
                           str(SCRIPTS / "modal_generate.py"), "--", str(addon_zip),
                           sys.executable, str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert "error" not in report, report
    assert report["first_invoke"] == ["RUNNING_MODAL"] and report["running_after_invoke"]
    assert report["takes_after_first"] == 1 and report["ticks"]  # the UI ran while the take was made
    assert report["second_invoke"] == ["RUNNING_MODAL"] and report["running_before_esc"]
    assert not report["running_after_esc"] and report["takes_after_cancel"] == 1
