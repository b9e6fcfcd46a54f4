import numpy as np
import pytest

from backend.animation import Animation
from backend.rig import (ARKIT_52, FACEWAREHOUSE_46, arkit_map, auto_match_map, normalize_name,
                         pose_vector, RHUBARB_VISEMES)


def test_tables_have_the_canonical_names():
    assert len(FACEWAREHOUSE_46) == 46 and FACEWAREHOUSE_46[21] == "JawOpen"
    assert len(ARKIT_52) == 52 == len(set(ARKIT_52))


def test_arkit_map_routes_every_channel_to_real_arkit_names():
    routes = arkit_map().routes
    assert set(routes) == set(FACEWAREHOUSE_46)
    for pairs in routes.values():
        assert pairs and all(name in ARKIT_52 for name, _ in pairs)
    assert routes["LipsUpperUp"] == [("mouthUpperUpLeft", 1.0), ("mouthUpperUpRight", 1.0)]
    assert routes["LipsUpperOpen"] == [("mouthUpperUpLeft", 0.5), ("mouthUpperUpRight", 0.5)]


def test_arkit_retarget_values():
    values = np.zeros((2, 46), dtype=np.float32)
    values[1, FACEWAREHOUSE_46.index("Sneer")] = 0.8
    values[1, FACEWAREHOUSE_46.index("LipsUpperUp")] = 0.6
    values[1, FACEWAREHOUSE_46.index("LipsUpperOpen")] = 0.6
    out = arkit_map().apply(Animation(30, list(FACEWAREHOUSE_46), values))
    assert out.channel("noseSneerLeft")[1] == np.float32(0.8) == out.channel("noseSneerRight")[1]
    assert out.channel("mouthUpperUpLeft")[1] == pytest.approx(0.9)  # 0.6 + 0.5 * 0.6


def test_auto_match_by_normalized_name_and_through_arkit():
    custom = auto_match_map(FACEWAREHOUSE_46, ["jaw_open", "EyeBlinkLeft", "Mouth.Smile.L", "unrelated"])
    assert custom.routes["JawOpen"] == [("jaw_open", 1.0)]
    assert custom.routes["EyeBlink_L"] == [("EyeBlinkLeft", 1.0)]
    assert custom.routes["MouthSmile_L"] == [("Mouth.Smile.L", 1.0)]
    assert "Puff" in custom.unmapped_sources(FACEWAREHOUSE_46)
    assert normalize_name("Key_MouthSmile_Left") == normalize_name("mouthSmile_L")


def test_viseme_poses_use_known_channels():
    for pose in RHUBARB_VISEMES.values():
        assert pose_vector(pose).shape == (46,)
