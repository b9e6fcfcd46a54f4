"""The zip as a legacy add-on in Debian's Blender 3.4 with NO external Python: the packed wheels unpack
into the add-on's folder on first use, and the default head (the copy in the zip) is animated from text
and from wav, m4a, mp4 and opus soundtracks, under `blender -b` and once in a real window (Xvfb); the
Python 3.10 wheels for Blender 3.4-4.0 are checked in a Python 3.10 (MOUTHPIECE_PYTHON310)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blender_fixtures import build_addon_zip

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "addon_scripts"
BLENDER = shutil.which("blender")
FFMPEG = shutil.which("ffmpeg")

pytestmark = pytest.mark.skipif(BLENDER is None or FFMPEG is None, reason="needs `blender` and `ffmpeg` on PATH")


def blender(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([BLENDER, "-b", *map(str, args)], capture_output=True, text=True, env=env, timeout=900)


def ffmpeg(*args) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


@pytest.fixture(scope="module")
def soundtracks(tmp_path_factory) -> list[Path]:
    """Speech of "Bob made a map." as wav, m4a (AAC), mp4 (with a video stream) and opus."""
    sys.path.insert(0, str(REPO))
    from blender_addon.generation import GenerateRequest, run_in_process

    folder = tmp_path_factory.mktemp("audio")
    wav = folder / "line.wav"
    run_in_process(GenerateRequest(text="Bob made a map.", speech_out=str(wav)), lambda f, m: None)
    ffmpeg("-i", wav, "-c:a", "aac", folder / "line.m4a")
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=64x64:r=25", "-i", wav, "-shortest", "-c:v", "mpeg4",
           "-c:a", "aac", folder / "shot.mp4")
    ffmpeg("-i", wav, "-c:a", "libopus", folder / "line.opus")
    return [wav, folder / "line.m4a", folder / "shot.mp4", folder / "line.opus"]


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """(environment with the add-on installed, enabled and no external Python; the add-on's folder)."""
    folder = tmp_path_factory.mktemp("legacy")
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(folder / "scripts"), BLENDER_USER_CONFIG=str(folder / "config"))
    env.pop("PYTHONPATH", None)
    addon_zip = build_addon_zip(tmp_path_factory.mktemp("dist"))
    where = folder / "addon.txt"
    done = blender("--factory-startup", "--python-exit-code", "1", "--python", SCRIPTS / "legacy_setup.py", "--",
                   addon_zip, where, env=env)
    assert done.returncode == 0 and where.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return env, Path(where.read_text()), addon_zip


@pytest.fixture(scope="module")
def generated(tmp_path_factory, legacy, soundtracks):
    env, addon_dir, _ = legacy
    project = tmp_path_factory.mktemp("project") / "scene"
    project.mkdir()
    shot = project / "shot.blend"
    shutil.copy(addon_dir / "assets" / "head.blend", shot)  # the zip's copy of the default head, opened by 3.4
    out = project.parent / "report.json"
    done = blender(shot, "--python-exit-code", "1", "--python", SCRIPTS / "legacy_generate.py", "--", out,
                   *soundtracks, env=env)
    assert done.returncode == 0 and out.is_file(), done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(out.read_text()), project, addon_dir, done


def test_the_zip_head_opens_with_its_keys_and_landmarks(generated):
    report, *_ = generated
    assert report["version"][:2] == [3, 4] and report["external_python"] == ""
    assert report["keys"] == 46 and report["landmarks"] == 68


@pytest.mark.parametrize("source", ["text", ".wav", ".m4a", ".mp4", ".opus"])
def test_generates_in_blender_without_an_external_python(generated, source):
    report, *_ = generated
    take = report["takes"][source]
    assert take["result"] == ["FINISHED"], take
    assert take["curves"] > 0 and take["keys"] > 2 * take["curves"]
    assert take["jaw_max"] > 0.1  # the mouth opens for "Bob made a map."


def test_the_packed_wheels_unpack_into_the_addon_folder(generated):
    report, _, addon_dir, _ = generated
    assert report["site"]
    for origin in report["found_in"].values():
        assert Path(origin).is_relative_to(addon_dir / "site-packages")
    assert not list(addon_dir.glob(".site-*"))  # no half-unpacked folder left


def test_soundtracks_become_sound_strips(generated, soundtracks):
    report, *_ = generated
    frames = {Path(strip["path"]).name: strip["frames"] for strip in report["strips"]}
    for name in ("line.m4a", "shot.mp4", "line.opus"):
        assert frames[name] >= 20  # 0.9 s of speech at 25 fps, decoded by Blender


def test_text_speech_lies_beside_the_blend_one_file_per_take(generated):
    report, project, *_ = generated
    assert report["takes"]["failed"]["result"] == ["CANCELLED"]
    assert [p.name for p in (project / "mouthpiece").iterdir()] == ["Bob_made_a_map.wav"]  # none from the failure
    speech = [s["path"] for s in report["strips"] if s["path"].endswith(".wav") and "mouthpiece" in s["path"]]
    assert speech == ["//mouthpiece/Bob_made_a_map.wav"]


def test_saved_strips_use_relative_paths(generated):
    report, *_ = generated
    assert report["strips"] and all(s["path"].startswith("//") for s in report["strips"])


def test_progress_is_a_label_with_the_esc_hint(generated):
    report, *_ = generated
    assert "40%  aligning" in report["progress"] and "Esc cancels" in report["progress"]
    assert "<progress>" not in report["progress"]  # not an editable slider


def test_the_panel_sends_the_artist_to_the_preferences_only_where_needed(generated):
    report, *_ = generated
    assert report["notes"]["phonemes"] == [] and report["notes"]["cnn-gru"] == []
    note = report["notes"]["no-such-model"]
    assert note[0] == "no-such-model needs an external Python here"
    assert note[-1] == "[Set External Python] preferences.addon_show"


@pytest.mark.parametrize("name, fits", [
    ("scipy-1.15.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
    ("scipy-1.15.3-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False),
    ("safetensors-0.5.3-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
    ("soundfile-0.13.1-py2.py3-none-manylinux_2_28_x86_64.whl", True),
    ("tqdm-4.67.1-py3-none-any.whl", True),
    ("soxr-0.5.0.post1-cp311-cp311-macosx_11_0_arm64.whl", False),
    ("cffi-2.1.1-cp311-cp311-win_amd64.whl", False),
])
def test_only_wheels_for_this_python_and_platform_unpack(name, fits):
    from blender_addon.site_wheels import wheel_fits

    if sys.version_info[:2] != (3, 11) or not sys.platform.startswith("linux"):
        pytest.skip("the names are for Python 3.11 on Linux x86-64")
    assert wheel_fits(name) == fits


PY310_SCRIPT = """
import json, sys
from mouthpiece.generation import GenerateRequest, run_in_process
speech = sys.argv[2] + "/speech.wav"
quiet = lambda fraction, message: None
takes = {"text": run_in_process(GenerateRequest(text="Bob made a map.", speech_out=speech), quiet),
         "audio": run_in_process(GenerateRequest(audio_path=speech, transcript="Bob made a map."), quiet),
         "cnn-gru": run_in_process(GenerateRequest(audio_path=speech, model="cnn-gru"), quiet)}
report = {name: float(anim.channel("JawOpen").max()) for name, anim in takes.items()}
report["pocketsphinx"] = sys.modules["pocketsphinx"].__file__
report["scipy"] = "scipy" in sys.modules
json.dump(report, open(sys.argv[1], "w"))
"""


def test_python_310_blenders_get_their_own_packed_wheels(legacy, tmp_path):
    """Blender 3.4-4.0 embed Python 3.10: the zip carries its wheels, unpacked as in Blender 3.4 (needs a
    Python 3.10 with numpy, as Blender bundles it, named by MOUTHPIECE_PYTHON310)."""
    import zipfile

    python = os.environ.get("MOUTHPIECE_PYTHON310", "")
    if not python or subprocess.run([python, "-c", "import numpy"], capture_output=True).returncode != 0:
        pytest.skip("set MOUTHPIECE_PYTHON310 to a Python 3.10 with numpy")
    _, _, addon_zip = legacy
    with zipfile.ZipFile(addon_zip) as archive:
        archive.extractall(tmp_path)
    out = tmp_path / "report.json"
    done = subprocess.run([python, "-c", PY310_SCRIPT, str(out), str(tmp_path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert min(report["text"], report["audio"], report["cnn-gru"]) > 0.1
    assert Path(report["pocketsphinx"]).is_relative_to(tmp_path / "mouthpiece" / "site-packages")
    assert not report["scipy"]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="no xvfb-run for a real window")
def test_modal_generate_in_a_window_without_an_external_python(legacy, tmp_path):
    _, _, addon_zip = legacy
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(tmp_path / "scripts"), BLENDER_USER_CONFIG=str(tmp_path / "config"))
    env.pop("PYTHONPATH", None)
    out = tmp_path / "modal.json"
    done = subprocess.run(["xvfb-run", "-a", BLENDER, "--factory-startup", "--enable-event-simulate", "--python",
                           str(SCRIPTS / "modal_generate.py"), "--", str(addon_zip), "", str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert "error" not in report, report
    assert report["first_invoke"] == ["RUNNING_MODAL"] and report["takes_after_first"] == 1
    assert report["second_invoke"] == ["RUNNING_MODAL"] and not report["running_after_esc"]
    assert report["takes_after_cancel"] == 1

