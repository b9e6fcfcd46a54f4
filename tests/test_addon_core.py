"""The add-on's core in the real Blender 4.5 module: writer, mapping, takes, errors, operators."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_addon  # noqa: E402
from blender_addon import keyframes, mapping, takes  # noqa: E402
from blender_addon.sound import sound_strips  # noqa: E402
from blender_addon.apply import MapChoice, apply_animation, take_animation  # noqa: E402
from blender_addon.backend.animation import Animation, save_json  # noqa: E402
from blender_addon.backend.errors import InputError  # noqa: E402
from blender_addon.backend.rig import ARKIT_52, FACEWAREHOUSE_46  # noqa: E402
from blender_fixtures import make_head, make_plain  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def addon():
    blender_addon.register()
    yield
    bpy.ops.wm.read_homefile(use_empty=True)
    blender_addon.unregister()


@pytest.fixture(autouse=True)
def empty_scene():
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start = 24, 1.0, 1
    yield scene


def random_animation(n_frames=60, fps=30.0, channels=FACEWAREHOUSE_46, seed=0) -> Animation:
    values = np.random.default_rng(seed).uniform(0, 1, (n_frames, len(channels))).astype(np.float32)
    return Animation(fps, list(channels), values, meta={"source": "random.wav"})


def curves_by_key(action) -> dict:
    return {keyframes.shape_key_name(c.data_path): c for c in keyframes.action_fcurves(action)}


def test_writer_places_values_at_scene_frames(empty_scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    anim = random_animation(fps=30.0)
    applied = apply_animation(head, anim, empty_scene, frame_start=10)
    curves = curves_by_key(applied.write.action)
    assert set(curves) == set(FACEWAREHOUSE_46) and applied.write.keys_written == 46 * 60
    jaw = curves["JawOpen"]
    co = np.empty(2 * 60, dtype=np.float32)
    jaw.keyframe_points.foreach_get("co", co)
    expected_frames = 10 + np.arange(60) * 24 / 30  # 30 fps rows in a 24 fps scene
    np.testing.assert_allclose(co[0::2], expected_frames, atol=1e-4)
    np.testing.assert_allclose(co[1::2], anim.channel("JawOpen"), atol=1e-6)
    assert {p.interpolation for p in jaw.keyframe_points} == {"LINEAR"}
    empty_scene.frame_set(int(expected_frames[5]))  # row 5 lands on frame 14
    assert head.data.shape_keys.key_blocks["JawOpen"].value == pytest.approx(anim.channel("JawOpen")[5], abs=1e-5)


def test_take_is_active_with_slot_on_layered_actions(empty_scene):
    head = make_head("Head", FACEWAREHOUSE_46[:5])
    applied = apply_animation(head, random_animation(channels=FACEWAREHOUSE_46[:5]), empty_scene, 1)
    anim_data = head.data.shape_keys.animation_data
    assert anim_data.action == applied.write.action and applied.write.action.use_fake_user
    if keyframes.LAYERED_ACTIONS:
        assert anim_data.action_slot is not None and anim_data.action_slot.target_id_type == "KEY"


def test_existing_action_survives_and_second_take_adds_an_action(empty_scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    key = head.data.shape_keys
    key.key_blocks["JawOpen"].value = 0.7
    key.key_blocks["JawOpen"].keyframe_insert("value", frame=1)
    user_action = key.animation_data.action
    first = apply_animation(head, random_animation(seed=1), empty_scene, 1).write.action
    second = apply_animation(head, random_animation(seed=2), empty_scene, 1).write.action
    assert len({user_action.name, first.name, second.name}) == 3
    assert user_action.name in bpy.data.actions and user_action.use_fake_user
    assert takes.takes_for(head) == [first, second] or set(takes.takes_for(head)) == {first, second}
    assert takes.action_before_takes(second) == user_action
    assert takes.clear_take(head) == user_action and key.animation_data.action == user_action
    empty_scene.frame_set(1)
    assert key.key_blocks["JawOpen"].value == pytest.approx(0.7)


def test_push_take_to_nla_and_switch_takes(empty_scene):
    head = make_head("Head", FACEWAREHOUSE_46)
    first = apply_animation(head, random_animation(seed=1), empty_scene, 1).write.action
    second = apply_animation(head, random_animation(seed=2), empty_scene, 1).write.action
    takes.activate_take(head, first)
    assert takes.active_action(head) == first
    strip = takes.push_to_nla(head, second, 1)
    assert strip.action == second and head.data.shape_keys.animation_data.nla_tracks[0].strips[0] == strip


def test_arkit_mapping_on_an_arkit_head(empty_scene):
    head = make_head("ArkitHead", ARKIT_52)
    anim = random_animation()
    applied = apply_animation(head, anim, empty_scene, 1, MapChoice("arkit52"))
    curves = curves_by_key(applied.write.action)
    assert "jawOpen" in curves and "eyeBlinkLeft" in curves
    empty_scene.frame_set(1)
    assert head.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(anim.channel("JawOpen")[0], abs=1e-5)
    # ARKit names with no FaceWarehouse source are not missing shape keys, just never driven
    assert applied.retargeted.missing == ()


def test_auto_match_and_custom_map(empty_scene):
    names = [f"Mouth_{n}" if n.startswith("Lips") else n.lower() for n in FACEWAREHOUSE_46]
    head = make_head("Renamed", names)
    applied = apply_animation(head, random_animation(), empty_scene, 1, MapChoice("auto"))
    assert "jawopen" in curves_by_key(applied.write.action)
    pairs = mapping.suggest_custom_pairs(mapping.animatable_names(head.data.shape_keys))
    assert ("JawOpen", "jawopen") in pairs
    custom = MapChoice("custom", (("JawOpen", "eyeblink_l"),))
    applied = apply_animation(head, random_animation(), empty_scene, 1, custom)
    assert list(curves_by_key(applied.write.action)) == ["eyeblink_l"]
    assert "EyeBlink_L" in applied.retargeted.unmapped


def test_missing_shape_keys_are_reported(empty_scene):
    head = make_head("Partial", FACEWAREHOUSE_46[:30])
    applied = apply_animation(head, random_animation(), empty_scene, 1)
    assert applied.retargeted.missing == tuple(FACEWAREHOUSE_46[30:])
    assert any("16 channel(s) found no shape key" in line for line in applied.report_lines())
    arkit_head = make_head("ArkitOnly", ARKIT_52)
    with pytest.raises(InputError, match="none of the 46 channels"):
        apply_animation(arkit_head, random_animation(), empty_scene, 1, MapChoice("facewarehouse46"))


def test_clear_errors_for_unusable_targets(empty_scene, tmp_path):
    with pytest.raises(InputError, match="has no shape keys"):
        mapping.shape_key_owner(make_plain("Plain"))
    library_file = tmp_path / "library.blend"
    make_head("LinkedHead", FACEWAREHOUSE_46[:3])
    bpy.data.libraries.write(str(library_file), {bpy.data.objects["LinkedHead"]})
    bpy.ops.wm.read_homefile(use_empty=True)
    with bpy.data.libraries.load(str(library_file), link=True) as (source, target):
        target.objects = ["LinkedHead"]
    linked = bpy.data.objects["LinkedHead"]
    with pytest.raises(InputError, match="linked from this library") as caught:
        mapping.shape_key_owner(linked)
    assert "library.blend" in str(caught.value)


def test_operator_errors_are_clear(empty_scene, tmp_path):
    head = make_head("Head", FACEWAREHOUSE_46)
    empty_scene.mouthpiece.target = head
    with pytest.raises(RuntimeError, match="missing.wav: audio file not found"):
        bpy.ops.mouthpiece.generate(audio=str(tmp_path / "missing.wav"))
    make_plain("Plain")
    with pytest.raises(RuntimeError, match="'Plain' has no shape keys"):
        bpy.ops.mouthpiece.generate(text="Hello.", object="Plain")
    assert not bpy.data.actions


def test_json_import_and_export_round_trip(empty_scene, tmp_path):
    head = make_head("Head", FACEWAREHOUSE_46)
    empty_scene.mouthpiece.target = head
    empty_scene.render.fps = 30
    anim = random_animation(n_frames=20, fps=30.0)
    save_json(anim, tmp_path / "in.json")
    assert bpy.ops.mouthpiece.import_json(filepath=str(tmp_path / "in.json")) == {"FINISHED"}
    assert bpy.ops.mouthpiece.export_json(filepath=str(tmp_path / "out.json")) == {"FINISHED"}
    from blender_addon.backend.animation import load_json

    back = load_json(tmp_path / "out.json")
    assert back.n_frames == 20 and back.fps == 30.0
    np.testing.assert_allclose(back.values[:, back.channels.index("JawOpen")], anim.channel("JawOpen"), atol=1e-5)
    exported = take_animation(takes.active_action(head), empty_scene)
    assert exported.meta["source"] == "in.json"


def test_landmark_animation_goes_through_the_solver(empty_scene):
    names = FACEWAREHOUSE_46[:4]
    head = make_head("LandmarkHead", names, with_landmarks=True)  # key i lifts vertex i by 0.1 in z
    truth = np.array([[0.0, 0.5, 1.0, 0.25], [0.8, 0.1, 0.0, 0.6]], dtype=np.float32)
    channels, values = [], []
    for vertex in range(4):
        for axis in "xyz":
            channels.append(f"lm{vertex:02d}_{axis}")
            values.append(truth[:, vertex] * 0.1 if axis == "z" else np.zeros(2, dtype=np.float32))
    anim = Animation(24.0, channels, np.stack(values, axis=1), kind="landmarks")
    applied = apply_animation(head, anim, empty_scene, 1)
    curves = curves_by_key(applied.write.action)
    for j, name in enumerate(names):
        assert curves[name].evaluate(2.0) == pytest.approx(truth[1, j], abs=1e-3)


def test_generate_from_text_then_wav(empty_scene, tmp_path):
    """The phoneme path in Blender's process: text -> speech WAV + take; that WAV -> second take."""
    head = make_head("Head", FACEWAREHOUSE_46)
    settings = empty_scene.mouthpiece
    settings.target = head
    assert bpy.ops.mouthpiece.generate(text="Bob made a map.") == {"FINISHED"}
    first = takes.active_action(head)
    strips = sound_strips(empty_scene)
    wav = bpy.path.abspath(strips[0].sound.filepath)
    assert wav.endswith(".wav")
    jaw = curves_by_key(first)["JawOpen"]
    assert jaw.keyframe_points[0].co[0] == pytest.approx(1.0)
    assert max(p.co[1] for p in jaw.keyframe_points) > 0.1  # the mouth opens
    assert bpy.ops.mouthpiece.generate(audio=wav, transcript="Bob made a map.") == {"FINISHED"}
    assert len(takes.takes_for(head)) == 2 and takes.active_action(head) != first


@pytest.fixture
def speech_wav(tmp_path):
    """Real speech: espeak-ng through the backend's text path."""
    from blender_addon.generation import GenerateRequest, run_in_process

    path = tmp_path / "speech.wav"
    run_in_process(GenerateRequest(text="Bob made a map.", speech_out=str(path)), lambda f, m: None)
    return path


def test_generate_from_a_sound_strip_starts_at_the_strip(empty_scene, speech_wav):
    from blender_addon.sound import add_sound_strip

    head = make_head("Head", FACEWAREHOUSE_46)
    settings = empty_scene.mouthpiece
    settings.target, settings.source = head, "STRIP"
    settings.sound_strip = add_sound_strip(empty_scene, str(speech_wav), 40).name
    assert bpy.ops.mouthpiece.generate() == {"FINISHED"}
    jaw = curves_by_key(takes.active_action(head))["JawOpen"]
    assert jaw.keyframe_points[0].co[0] == pytest.approx(40.0)
    assert len(sound_strips(empty_scene)) == 1  # the strip is used, not duplicated


def test_m4a_soundtracks_are_decoded_by_the_backend(speech_wav, tmp_path):
    import shutil
    import subprocess

    from blender_addon.generation import GenerateRequest, run_in_process

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is needed to make an AAC file")
    m4a = tmp_path / "speech.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(speech_wav), "-c:a", "aac", str(m4a)], check=True)
    anim = run_in_process(GenerateRequest(audio_path=str(m4a), transcript="Bob made a map."), lambda f, m: None)
    reference = run_in_process(GenerateRequest(audio_path=str(speech_wav), transcript="Bob made a map."),
                               lambda f, m: None)
    assert abs(anim.n_frames - reference.n_frames) <= 2 and anim.channel("JawOpen").max() > 0.1
