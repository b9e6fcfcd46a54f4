"""Takes that behave like takes, in a real Blender (the bpy module): unmatched rigs, one sound strip per
take switched with it, channel groups, still channels, key thinning, hand keys kept, start frames."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
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
    from blender_addon.apply import MapChoice, apply_animation
    from blender_addon.backend.animation import Animation
    from blender_addon.backend.rig import ARKIT_52, FACEWAREHOUSE_46, channels_in_groups
    from blender_addon.keyframes import Keying
    from blender_addon.sound import sound_strips
    from blender_fixtures import make_head

    BROWS = channels_in_groups(["BROWS"])
LINE = "Bob made a map."
REPO = Path(__file__).resolve().parents[1]
RUNNERS = ("test_in_the_blender_5_module", "test_in_debian_blender")  # run this file in Blender


@pytest.fixture(scope="module")
def addon():
    blender_addon.register()
    yield
    bpy.ops.wm.read_homefile(use_empty=True)
    blender_addon.unregister()


@pytest.fixture(autouse=True)
def scene(request):
    if request.node.name.startswith(RUNNERS):
        yield None
        return
    if bpy is None:
        pytest.skip("needs bpy: the runners at the end run this file in Blender")
    request.getfixturevalue("addon")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end = 24, 1.0, 1, 250
    yield scene


def curves_of(action) -> dict:
    return {keyframes.shape_key_name(c.data_path): c for c in keyframes.action_fcurves(action)}


def key_values(curve) -> np.ndarray:
    co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
    curve.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2)


def hand_key_brows(head) -> dict:
    """BrowsU_L keyed by hand at frames 1, 20, 40; returns {frame: value}."""
    block = head.data.shape_keys.key_blocks["BrowsU_L"]
    keys = {1: 0.2, 20: 0.9, 40: 0.4}
    for frame, value in keys.items():
        block.value = value
        block.keyframe_insert("value", frame=frame)
    return keys


def speechlike_animation(n_frames=90, fps=30.0) -> Animation:
    """Every channel but the eyes moves smoothly; the eyes stay at 0."""
    t = np.arange(n_frames)[:, None] / fps
    phase = np.arange(len(FACEWAREHOUSE_46))[None, :]
    values = 0.5 + 0.4 * np.sin(2 * np.pi * (0.4 + 0.01 * phase) * t + phase)
    values[:, [i for i, n in enumerate(FACEWAREHOUSE_46) if n.startswith("Eye")]] = 0.0
    return Animation(fps, list(FACEWAREHOUSE_46), values.astype(np.float32), meta={"source": "line.wav"})


# --- rigs whose shape keys match no channel --------------------------------------------------------

@pytest.mark.parametrize("names", [["A", "I", "U", "E", "O"], ["MBP", "FV", "AI", "etc"]], ids=["vrm", "rhubarb"])
@pytest.mark.parametrize("channel_map", ["auto", "facewarehouse46", "arkit52"])
def test_an_unmatched_rig_gives_one_clear_line(scene, names, channel_map):
    head = make_head("Vroid", names)
    scene.mouthpiece.target, scene.mouthpiece.channel_map = head, channel_map
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.mouthpiece.generate(text=LINE)
    message = str(caught.value).strip()
    assert "\n" not in message and "no channel matched a shape key of 'Vroid'" in message
    assert "reshape" not in message and not takes.takes_for(head)


def test_auto_match_button_on_an_unmatched_rig(scene):
    scene.mouthpiece.target = make_head("Vroid", ["A", "I", "U", "E", "O"])
    with pytest.raises(RuntimeError, match="no channel matched a shape key of 'Vroid'"):
        bpy.ops.mouthpiece.map_auto()
    assert scene.mouthpiece.channel_map == "facewarehouse46" and not scene.mouthpiece.routes


@pytest.mark.parametrize("prefix", ["Face.", "CC_Base_", "Genesis8:"])
def test_prefixed_arkit_heads_auto_match(scene, prefix):
    head = make_head("Arkit", [prefix + n for n in ARKIT_52])
    scene.mouthpiece.target, scene.mouthpiece.channel_map = head, "auto"
    assert bpy.ops.mouthpiece.generate(text=LINE) == {"FINISHED"}
    jaw = curves_of(takes.active_action(head))[prefix + "jawOpen"]
    assert key_values(jaw)[:, 1].max() > 0.1
    bpy.ops.mouthpiece.map_auto()
    routes = {r.source: r.target for r in scene.mouthpiece.routes}
    assert routes["JawOpen"] == prefix + "jawOpen" and routes["MouthSmile_L"] == prefix + "mouthSmileLeft"


def test_upper_case_arkit_head_auto_matches(scene):
    head = make_head("Shouty", [n.upper() for n in ARKIT_52])
    applied = apply_animation(head, speechlike_animation(), scene, 1, MapChoice("auto"))
    assert {"JAWOPEN", "MOUTHSMILELEFT", "BROWINNERUP"} <= set(applied.write.written)


# --- one sound strip per take -----------------------------------------------------------------------

def strip_states(scene) -> dict:
    return {s.name: s.mute for s in sound_strips(scene)}


def test_each_take_has_its_strip_and_only_the_active_one_plays(scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    scene.mouthpiece.target = head
    for line in ("Bob made a map.", "Hello there.", "Mama made a meal."):
        assert bpy.ops.mouthpiece.generate(text=line) == {"FINISHED"}
    first, second, third = takes.takes_for(head)
    strips = [takes.take_strip(scene, t) for t in (first, second, third)]
    assert len(sound_strips(scene)) == 3 and len({s.name for s in strips}) == 3
    assert [s.mute for s in strips] == [True, True, False]  # only the newest take is heard
    assert scene.sync_mode == "AUDIO_SYNC"

    assert bpy.ops.mouthpiece.take_activate(take=first.name) == {"FINISHED"}
    assert [s.mute for s in strips] == [False, True, True]
    assert bpy.ops.mouthpiece.take_push(take=second.name) == {"FINISHED"}
    assert [s.mute for s in strips] == [False, False, True]  # the NLA plays the pushed take
    bpy.ops.mouthpiece.clear()
    assert [s.mute for s in strips] == [True, False, True]

    third_strip = strips[2].name
    assert bpy.ops.mouthpiece.take_delete(take=third.name) == {"FINISHED"}
    assert third_strip not in strip_states(scene) and len(sound_strips(scene)) == 2


def test_takes_of_one_file_share_its_strip_until_the_last_goes(scene, tmp_path):
    head = make_head("Head", FACEWAREHOUSE_46)
    scene.mouthpiece.target = head
    bpy.ops.mouthpiece.generate(text=LINE)
    wav = bpy.path.abspath(sound_strips(scene)[0].sound.filepath)
    bpy.ops.mouthpiece.generate(audio=wav, transcript=LINE)
    text_take, wav_take = takes.takes_for(head)
    assert len(sound_strips(scene)) == 1 and not sound_strips(scene)[0].mute
    bpy.ops.mouthpiece.take_delete(take=wav_take.name)
    assert len(sound_strips(scene)) == 1
    bpy.ops.mouthpiece.take_delete(take=text_take.name)
    assert not sound_strips(scene)


def test_the_artists_own_strip_is_never_muted_or_removed(scene):
    from blender_addon.sound import add_sound_strip

    head = make_head("Head", FACEWAREHOUSE_46)
    settings = scene.mouthpiece
    settings.target = head
    bpy.ops.mouthpiece.generate(text=LINE)
    wav = bpy.path.abspath(sound_strips(scene)[0].sound.filepath)
    own = add_sound_strip(scene, wav, 100, name="Dialog")
    settings.source, settings.sound_strip = "STRIP", own.name
    bpy.ops.mouthpiece.generate()
    strip_take = takes.active_action(head)
    assert len(sound_strips(scene)) == 2 and takes.take_strip(scene, strip_take) == own
    bpy.ops.mouthpiece.take_activate(take=takes.takes_for(head)[0].name)
    assert not own.mute
    bpy.ops.mouthpiece.take_delete(take=strip_take.name)
    assert "Dialog" in strip_states(scene)


# --- channel groups, still channels, thinning, hand keys -------------------------------------------

def test_a_mouth_only_take_leaves_hand_keyed_brows_untouched(scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    hand = hand_key_brows(head)
    user_action = takes.active_action(head)
    before = key_values(curves_of(user_action)["BrowsU_L"]).copy()
    expected = {f: curves_of(user_action)["BrowsU_L"].evaluate(f) for f in (1, 10, 20, 30, 40)}

    anim = speechlike_animation()
    applied = apply_animation(head, anim, scene, 1, keying=Keying(groups=("MOUTH",)))
    take = applied.write.action
    assert takes.active_action(head) == take
    assert set(applied.write.written) == set(channels_in_groups(["MOUTH"]))
    assert not set(curves_of(take)) & (set(BROWS) - {"BrowsU_L"})  # no brow keys of its own
    block = head.data.shape_keys.key_blocks
    for frame, value in expected.items():
        scene.frame_set(frame)
        assert block["BrowsU_L"].value == pytest.approx(value, abs=1e-6)
    for frame, value in hand.items():
        scene.frame_set(frame)
        assert block["BrowsU_L"].value == pytest.approx(value, abs=1e-6)
    scene.frame_set(20)
    assert block["JawOpen"].value == pytest.approx(curves_of(take)["JawOpen"].evaluate(20), abs=1e-6)
    assert np.array_equal(key_values(curves_of(user_action)["BrowsU_L"]), before)  # the artist's action as it was
    assert takes.clear_take(head) == user_action


def test_hand_keys_win_over_a_full_take_unless_replacing_is_asked(scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    hand_key_brows(head)
    anim = speechlike_animation()
    kept = apply_animation(head, anim, scene, 1)
    assert "BrowsU_L" not in kept.write.written and kept.write.hand_kept == ("BrowsU_L",)
    assert any("hand keys" in line and "BrowsU_L" in line for line in kept.report_lines())
    scene.frame_set(20)
    assert head.data.shape_keys.key_blocks["BrowsU_L"].value == pytest.approx(0.9, abs=1e-6)

    replaced = apply_animation(head, anim, scene, 1, keying=Keying(replace_hand_keys=True))
    assert "BrowsU_L" in replaced.write.written
    scene.frame_set(20)
    row = (20 - 1) * 30 / 24  # scene frame 20 is animation row 23.75
    truth = np.interp(row, np.arange(anim.n_frames), anim.channel("BrowsU_L"))
    assert head.data.shape_keys.key_blocks["BrowsU_L"].value == pytest.approx(truth, abs=1e-4)


def test_keys_added_by_hand_to_a_take_carry_into_the_next(scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    first = apply_animation(head, speechlike_animation(), scene, 1, keying=Keying(groups=("MOUTH",))).write.action
    block = head.data.shape_keys.key_blocks["BrowsD_R"]
    for frame, value in ((5, 0.1), (25, 0.7)):
        block.value = value
        block.keyframe_insert("value", frame=frame)
    assert "BrowsD_R" in curves_of(first)  # keyed into the playing take
    second = apply_animation(head, speechlike_animation(), scene, 1)
    assert "BrowsD_R" in second.write.hand_kept and "BrowsD_R" not in second.write.written
    scene.frame_set(25)
    assert block.value == pytest.approx(0.7, abs=1e-6)
    assert "JawOpen" in second.write.written  # what the first take keyed is the take's, not the artist's

def test_nla_hand_keys_are_not_keyed_over(scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    hand_key_brows(head)
    user_action = takes.active_action(head)
    takes.push_to_nla(head, user_action, 1)
    head.data.shape_keys.animation_data.action = None
    applied = apply_animation(head, speechlike_animation(), scene, 1)
    assert "BrowsU_L" not in applied.write.written and "BrowsU_L" not in curves_of(applied.write.action)
    scene.frame_set(20)
    assert head.data.shape_keys.key_blocks["BrowsU_L"].value == pytest.approx(0.9, abs=1e-6)


@pytest.mark.parametrize("tolerance", [0.001, 0.01])
def test_thinned_take_stays_within_tolerance_and_skips_still_channels(scene, tolerance):
    head = make_head("Head", FACEWAREHOUSE_46)
    scene.render.fps = 30
    anim = speechlike_animation()
    applied = apply_animation(head, anim, scene, 1, keying=Keying(only_moving=True, tolerance=tolerance))
    write = applied.write
    eyes = [n for n in FACEWAREHOUSE_46 if n.startswith("Eye")]
    assert set(write.still) == set(eyes) and not set(eyes) & set(curves_of(write.action))
    assert write.keys_unthinned == (46 - len(eyes)) * anim.n_frames
    assert 0 < write.keys_written < write.keys_unthinned * (0.5 if tolerance >= 0.01 else 1.0)
    summary = applied.summary()
    assert f"{write.keys_written:,} keys" in summary and f"{write.keys_unthinned:,} before" in summary
    curves = curves_of(write.action)
    frames = 1 + np.arange(anim.n_frames, dtype=np.float64)
    dense = np.linspace(frames[0], frames[-1], 8 * anim.n_frames)
    for name in write.written:
        curve, truth = curves[name], anim.channel(name)
        sampled = np.array([curve.evaluate(f) for f in frames])
        assert np.abs(sampled - truth).max() <= tolerance + 1e-5, name
        between = np.array([curve.evaluate(f) for f in dense])
        assert np.abs(between - np.interp(dense, frames, truth)).max() <= tolerance + 1e-5, name


def test_generate_follows_the_panel_key_settings(scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    hand_key_brows(head)
    settings = scene.mouthpiece
    settings.target = head
    settings.channel_groups = {"MOUTH"}
    settings.key_tolerance = 0.005
    assert bpy.ops.mouthpiece.generate(text=LINE) == {"FINISHED"}
    take = takes.active_action(head)
    mouth = set(channels_in_groups(["MOUTH"]))
    assert set(curves_of(take)) - {"BrowsU_L"} <= mouth
    jaw = key_values(curves_of(take)["JawOpen"])
    assert jaw[0, 0] == pytest.approx(1.0) and jaw[:, 1].max() > 0.1
    assert len(jaw) < jaw[-1, 0] - jaw[0, 0]  # fewer keys than frames
    settings.channel_groups = set()
    with pytest.raises(RuntimeError, match="no channel group is chosen"):
        bpy.ops.mouthpiece.generate(text=LINE)


# --- start frame, range, target, take names ---------------------------------------------------------

@pytest.mark.parametrize("mode, expected", [("SCENE", 1), ("CURRENT", 33), ("FRAME", 120)])
def test_start_frame_modes_and_fitted_range(scene, mode, expected):
    head = make_head("Head", FACEWAREHOUSE_46)
    settings = scene.mouthpiece
    settings.target, settings.start, settings.start_frame, settings.fit_range = head, mode, 120, True
    scene.frame_set(33)
    bpy.ops.mouthpiece.generate(text=LINE)
    jaw = key_values(curves_of(takes.active_action(head))["JawOpen"])
    assert jaw[0, 0] == pytest.approx(expected)
    strip = takes.take_strip(scene, takes.active_action(head))
    assert int(strip.frame_start) == expected
    assert scene.frame_start == expected and scene.frame_end >= jaw[-1, 0] and scene.frame_end < jaw[-1, 0] + 3


def test_target_is_filled_in_when_the_scene_has_one_head(scene):
    from blender_fixtures import make_plain

    make_plain("Floor")
    head = make_head("OnlyHead", FACEWAREHOUSE_46)
    assert scene.mouthpiece.target is None
    assert bpy.ops.mouthpiece.generate(text=LINE) == {"FINISHED"}
    assert scene.mouthpiece.target == head and takes.takes_for(head)


def test_takes_keep_creation_order_source_model_and_nla_mark(scene):
    from blender_addon.operators_edit import take_description

    head = make_head("Head", FACEWAREHOUSE_46)
    scene.mouthpiece.target = head
    for line in ("Bob made a map.", "Hello there."):
        bpy.ops.mouthpiece.generate(text=line)
    first, second = takes.takes_for(head)
    assert takes.take_order(first) < takes.take_order(second)
    first.name = "zzz renamed"  # creation order, not names, sorts takes
    assert takes.takes_for(head) == [first, second]
    description = take_description(second)
    assert "Hello there." in description and "phonemes" in description and "NLA" not in description
    takes.push_to_nla(head, second, 1)
    assert takes.in_nla(head, second) and "in the NLA" in take_description(second)


def test_add_menu_appends_the_default_head_as_the_target(scene):
    from blender_addon.add_head import HEAD_FILES

    if not any(path.is_file() for path in HEAD_FILES):
        pytest.skip("no assets/head.blend")
    scene.cursor.location = (1.0, 2.0, 0.0)
    assert bpy.ops.mouthpiece.add_head() == {"FINISHED"}
    head = scene.mouthpiece.target
    assert head is not None and head.name.startswith("MouthpieceHead") and head.name in scene.objects
    assert len(head.data.shape_keys.key_blocks) == 47 and tuple(head.location) == pytest.approx((1.0, 2.0, 0.0))
    assert {o.type for o in scene.objects} == {"MESH"}  # the eyes come along; the shipped camera and lights do not
    assert bpy.ops.mouthpiece.generate(text=LINE) == {"FINISHED"}
    assert takes.takes_for(head)

def test_languages_voices_and_model_notes_for_the_panel(scene):
    from blender_addon import properties

    settings = scene.mouthpiece
    languages = dict(properties.language_suggestions(settings, bpy.context, ""))
    assert languages["en"] == "English" and languages["es"] == "Spanish" and len(languages) > 20
    assert set(dict(properties.language_suggestions(settings, bpy.context, "span"))) == {"es"}
    settings.language = "es"
    voices = dict(properties.voice_suggestions(settings, bpy.context, ""))
    assert "es-419" in voices and not any(name.startswith("en") for name in voices)
    items = {item[0]: item for item in properties.model_items(settings, bpy.context)}
    assert "46 weights" in items["phonemes"][2] and items["phonemes"][3] == "NONE"
    assert properties.model_caveat("cnn-gru-causal") == "weaker on lip closures than cnn-gru"
    assert properties.model_caveat("qlearn") == "coarse (jaw and lip opening only)"
    assert items["qlearn"][3] == "ERROR" and properties.model_caveat("phonemes") == ""


def test_the_chosen_voice_speaks_the_text(scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    settings = scene.mouthpiece
    settings.target = head
    speech = {}
    for voice in ("en-us", "en-GB-x-rp"):
        settings.voice = voice
        assert bpy.ops.mouthpiece.generate(text=LINE) == {"FINISHED"}
        strip = takes.take_strip(scene, takes.active_action(head))
        speech[voice] = Path(bpy.path.abspath(strip.sound.filepath)).read_bytes()
    assert speech["en-us"] != speech["en-GB-x-rp"]
    settings.voice = "no-such-voice"
    with pytest.raises(RuntimeError, match="no-such-voice"):
        bpy.ops.mouthpiece.generate(text=LINE)

class RecordingLayout:
    """Stands in for a panel's layout: every prop it names must exist, every operator must be registered."""

    def __getattr__(self, name):
        def call(*args, **kwargs):
            if name in ("prop", "prop_search") and len(args) >= 2:
                assert args[1] in args[0].bl_rna.properties, args[1]
            if name == "operator":
                module, operator = args[0].split(".")
                assert hasattr(getattr(bpy.ops, module), operator), args[0]
                return type("OperatorProperties", (), {})()
            return self
        return call


def test_panels_draw_every_setting_they_name(scene):
    from types import SimpleNamespace

    from blender_addon import panels

    head = make_head("Head", FACEWAREHOUSE_46)
    bpy.ops.mouthpiece.generate(text=LINE)
    takes.push_to_nla(head, takes.takes_for(head)[0], 1)
    context = SimpleNamespace(scene=scene, screen=None, preferences=bpy.context.preferences)
    for target, start in ((None, "SCENE"), (head, "FRAME")):
        scene.mouthpiece.target, scene.mouthpiece.start = target, start
        for panel in (panels.MOUTHPIECE_PT_main, panels.MOUTHPIECE_PT_options, panels.MOUTHPIECE_PT_keys,
                      panels.MOUTHPIECE_PT_takes, panels.MOUTHPIECE_PT_mapping):
            drawn = type("Drawn", (), {k: v for k, v in vars(panel).items() if callable(v)})()
            drawn.layout = RecordingLayout()
            panel.draw(drawn, context)
    panels.MOUTHPIECE_UL_takes.draw_item(None, context, RecordingLayout(), bpy.data, takes.takes_for(head)[0],
                                         0, None, "", 0)

# --- the same tests in Blender, from a Python without bpy -------------------------------------------

NESTED = "MOUTHPIECE_TAKES_IN_BLENDER"


def skip_unless_outside(version: tuple[int, int], available: bool, why_not: str) -> None:
    """Run a Blender only from outside it (and outside the runs this file starts)."""
    if os.environ.get(NESTED) or (bpy is not None and bpy.app.version[:2] == version):
        pytest.skip("this is that Blender")
    if not available:
        pytest.skip(why_not)


def nested_env() -> dict:
    return dict(os.environ, **{NESTED: "1"})


def passed_in(done: subprocess.CompletedProcess) -> bool:
    """Every test passed, and only the two runners were skipped."""
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return done.returncode == 0 and re.fullmatch(r"\d+ passed, 2 skipped in .*", summary) is not None


def test_in_the_blender_5_module(tmp_path):
    python = REPO / ".venv-bpy5" / "bin" / "python"
    skip_unless_outside((5, 0), python.is_file(), "no .venv-bpy5 (bpy 5.0.1)")
    done = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path),
                           __file__], cwd=REPO, capture_output=True, text=True, timeout=900, env=nested_env())
    assert passed_in(done), done.stdout[-3000:]


def test_in_debian_blender(tmp_path):
    """Blender 3.4's own Python, with this Python's pytest put on its path (both are 3.11)."""
    blender = shutil.which("blender")
    skip_unless_outside((3, 4), blender is not None, "no `blender` executable on PATH")
    tools = tmp_path / "pytest_path"
    tools.mkdir()
    for name in ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "py.py"):
        module = Path(pytest.__file__).parents[1] / name
        if module.exists():
            (tools / name).symlink_to(module)
    code = (f"import sys; sys.path[:0] = {[str(tools), str(REPO), str(REPO / 'tests')]!r}; import pytest; "
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--basetemp', {str(tmp_path / 'run')!r}, "
            f"{__file__!r}]))")
    done = subprocess.run([blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", code],
                          cwd=REPO, capture_output=True, text=True, timeout=900, env=nested_env())
    assert passed_in(done), done.stdout[-3000:]
