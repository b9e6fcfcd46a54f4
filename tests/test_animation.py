import json

import numpy as np
import pytest

from backend.animation import Animation, load_json, save, save_json
from backend.errors import InputError
from backend.post import PostOptions, add_blinks, postprocess, resample, shift, smooth
from backend.rig import FACEWAREHOUSE_46


def ramp(frames=30, fps=30.0) -> Animation:
    values = np.zeros((frames, 46), dtype=np.float32)
    values[:, FACEWAREHOUSE_46.index("JawOpen")] = np.linspace(0, 1, frames)
    return Animation(fps, list(FACEWAREHOUSE_46), values, meta={"model": "test"})


def test_json_round_trip_follows_the_contract(tmp_path):
    anim = ramp()
    path = tmp_path / "a.json"
    save_json(anim, path)
    data = json.loads(path.read_text())
    assert data["format"] == "mouthpiece.animation" and data["version"] == 1
    assert data["kind"] == "blendshape" and data["fps"] == 30.0
    assert len(data["values"]) == 30 and len(data["values"][0]) == 46
    back = load_json(path)
    np.testing.assert_allclose(back.values, anim.values, atol=1e-5)
    assert back.channels == anim.channels and back.meta == {"model": "test"}


def test_csv_and_npz_exports(tmp_path):
    anim = ramp()
    save(anim, tmp_path / "a.csv")
    save(anim, tmp_path / "a.npz")
    header = (tmp_path / "a.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["frame", "time_s", "EyeBlink_L"]
    npz = np.load(tmp_path / "a.npz")
    np.testing.assert_allclose(npz["values"], anim.values)
    assert list(npz["channels"]) == anim.channels


def test_existing_files_are_kept_unless_overwrite(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("precious")
    with pytest.raises(FileExistsError):
        save_json(ramp(), path, overwrite=False)
    assert path.read_text() == "precious"
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("payload,problem", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "other"}), "not a Mouthpiece animation"),
    (json.dumps({"format": "mouthpiece.animation", "version": 1, "fps": 30, "channels": ["a", "b"],
                 "values": [[0.1]]}), "expected rows of 2"),
    (json.dumps({"format": "mouthpiece.animation", "version": 1, "fps": -1, "channels": ["a"],
                 "values": [[0.1]]}), "fps must be"),
])
def test_bad_animation_files_are_reported(tmp_path, payload, problem):
    path = tmp_path / "bad.json"
    path.write_text(payload)
    with pytest.raises(InputError) as err:
        load_json(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_resample_keeps_duration_and_shape():
    anim = resample(ramp(30, 30.0), 24.0)
    assert anim.n_frames == 24 and anim.fps == 24.0
    assert anim.channel("JawOpen")[0] == 0 and anim.channel("JawOpen")[-1] > 0.9


def test_smoothing_reduces_frame_to_frame_jumps():
    anim = ramp()
    anim.values[::2, 21] = 0.0
    before = np.abs(np.diff(anim.values[:, 21])).mean()
    after = np.abs(np.diff(smooth(anim, 0.05).values[:, 21])).mean()
    assert after < 0.5 * before


def test_offset_delays_and_advances():
    anim = ramp()
    delayed = shift(anim, 0.1)
    assert delayed.n_frames == 33 and delayed.channel("JawOpen")[3] == 0
    advanced = shift(anim, -0.1)
    assert advanced.n_frames == 27 and advanced.channel("JawOpen")[0] > 0


def test_strength_scales_and_clips():
    out = postprocess(ramp(), PostOptions(strength=2.0, blinks=False))
    assert out.values.max() == pytest.approx(1.0)
    assert out.channel("JawOpen")[5] == pytest.approx(2 * ramp().channel("JawOpen")[5], abs=1e-6)


def test_blink_layer_closes_both_eyes_and_can_be_off():
    anim = Animation(30.0, list(FACEWAREHOUSE_46), np.zeros((30 * 20, 46)))
    blinked = add_blinks(anim, seed=1)
    left, right = blinked.channel("EyeBlink_L"), blinked.channel("EyeBlink_R")
    np.testing.assert_array_equal(left, right)
    assert left.max() == pytest.approx(1.0)
    starts = np.flatnonzero((left[1:] > 0.5) & (left[:-1] <= 0.5))
    assert 3 <= len(starts) <= 10  # one every 2-6 s over 20 s
    assert postprocess(anim, PostOptions(blinks=False)).values.max() == 0
