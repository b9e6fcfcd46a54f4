"""Choosing what to key, without Blender: key thinning within a tolerance, still channels, channel
groups, and auto-matching channels to prefixed or differently cased shape-key names."""
from __future__ import annotations

import numpy as np
import pytest

from backend.keythin import moving_columns, thin_keys, thinning_error
from backend.rig import ARKIT_52, CHANNEL_GROUPS, FACEWAREHOUSE_46, auto_match_map, channels_in_groups


def speech_like_curve(n=600, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A jaw-like channel: smooth bumps, flat silences, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    bumps = np.clip(np.sin(t / 7.0) * np.sin(t / 53.0), 0, None)
    return t, np.clip(bumps + rng.normal(0, 0.002, n), 0, 1)


@pytest.mark.parametrize("tolerance", [0.0, 0.001, 0.005, 0.02, 0.1])
def test_thinned_curve_stays_within_tolerance(tolerance):
    times, values = speech_like_curve()
    kept = thin_keys(times, values, tolerance)
    assert kept[0] == 0 and kept[-1] == len(values) - 1 and np.all(np.diff(kept) > 0)
    assert thinning_error(times, values, kept) <= tolerance + 1e-12
    # between keys too: a dense resampling of both linear curves
    dense = np.linspace(times[0], times[-1], 20 * len(times))
    gap = np.abs(np.interp(dense, times, values) - np.interp(dense, times[kept], values[kept]))
    assert gap.max() <= tolerance + 1e-9


def test_thinning_reduces_keys_more_as_tolerance_grows():
    times, values = speech_like_curve()
    counts = [len(thin_keys(times, values, tol)) for tol in (0.001, 0.005, 0.02)]
    assert counts[0] > counts[1] > counts[2] and counts[0] < len(values)


def test_lines_and_flats_reduce_to_their_corners():
    times = np.arange(10.0)
    values = np.array([0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1, 1], dtype=np.float64)
    assert thin_keys(times, values, 0.0).tolist() == [0, 2, 6, 9]
    assert thin_keys(times, np.zeros(10), 0.0).tolist() == [0, 9]
    assert thin_keys(times[:2], values[:2], 0.5).tolist() == [0, 1]


def test_uneven_times_and_bad_input():
    times = np.array([0.0, 1.0, 3.0, 4.0])
    values = np.array([0.0, 1.0, 3.0, 0.0])  # collinear up to t=3
    assert thin_keys(times, values, 0.0).tolist() == [0, 2, 3]
    with pytest.raises(ValueError, match="tolerance"):
        thin_keys(times, values, float("nan"))
    with pytest.raises(ValueError, match="alike"):
        thin_keys(times, values[:3], 0.1)


def test_moving_columns_skip_channels_at_rest():
    values = np.zeros((5, 3), dtype=np.float32)
    values[2, 1] = 0.3
    values[:, 2] = 0.0005
    assert moving_columns(values).tolist() == [False, True, True]
    assert moving_columns(values, tolerance=0.001).tolist() == [False, True, False]


def test_channel_groups_cover_every_channel_once():
    groups = {name: set(channels_in_groups([name])) for name in CHANNEL_GROUPS}
    assert sum(len(g) for g in groups.values()) == len(FACEWAREHOUSE_46)
    assert set().union(*groups.values()) == set(FACEWAREHOUSE_46)
    assert {"JawOpen", "LipsPucker", "ChinLowerRaise", "MouthSmile_L"} <= groups["MOUTH"]
    assert groups["BROWS"] == {"BrowsD_L", "BrowsD_R", "BrowsU_C", "BrowsU_L", "BrowsU_R"}
    assert "EyeBlink_L" in groups["EYES"]
    with pytest.raises(ValueError, match="unknown channel group"):
        channels_in_groups(["TEETH"])


@pytest.mark.parametrize("rename", [
    lambda n: "Face." + n,
    lambda n: "CC_Base_" + n,
    lambda n: n.upper(),
    lambda n: n.lower(),
    lambda n: n[0].upper() + n[1:],
    lambda n: "Head:Blendshape_" + n,
], ids=["dotted-prefix", "cc-prefix", "upper", "lower", "capitalized", "namespace"])
def test_auto_match_finds_prefixed_and_recased_arkit_names(rename):
    targets = [rename(n) for n in ARKIT_52]
    routes = auto_match_map(FACEWAREHOUSE_46, targets).routes
    assert routes["JawOpen"] == [(rename("jawOpen"), 1.0)]
    assert routes["MouthSmile_L"] == [(rename("mouthSmileLeft"), 1.0)]
    assert routes["EyeBlink_R"] == [(rename("eyeBlinkRight"), 1.0)]
    assert sum(bool(r) for r in routes.values()) >= 40


def test_a_whole_name_wins_over_a_prefixed_one():
    routes = auto_match_map(["JawOpen"], ["Old_JawOpen", "JawOpen"]).routes
    assert routes["JawOpen"] == [("JawOpen", 1.0)]


@pytest.mark.parametrize("names", [["A", "I", "U", "E", "O"], ["MBP", "FV", "AI", "Rest"]], ids=["vrm", "rhubarb"])
def test_viseme_rigs_match_nothing(names):
    assert not any(auto_match_map(FACEWAREHOUSE_46, names).routes.values())
