import numpy as np
import pytest

from backend.articulation import ArticulationStyle, articulate, rule_for
from backend.phones import Phone, PhoneTimeline
from backend.rig import CHANNEL_INDEX

OPENING = ["JawOpen", "LipsUpperOpen", "LipsLowerOpen", "LipsLowerDown", "LipsFunnel"]


def timeline(spec, phone_set="arpabet") -> PhoneTimeline:
    return PhoneTimeline(tuple(Phone(label, start, end) for label, start, end in spec), phone_set)


def frames_within(anim, start, end):
    times = np.arange(anim.n_frames) / anim.fps
    return (times >= start) & (times <= end)


def opening(anim) -> np.ndarray:
    return sum(anim.channel(name) for name in OPENING)


# "bob ate a map": short bilabials between open vowels, the hard case for closure.
SPEECH = [("SIL", 0, 0.2), ("B", 0.2, 0.25), ("AA", 0.25, 0.4), ("B", 0.4, 0.45), ("EY", 0.45, 0.6),
          ("T", 0.6, 0.65), ("AH", 0.65, 0.75), ("M", 0.75, 0.8), ("AE", 0.8, 1.0), ("P", 1.0, 1.04),
          ("SIL", 1.04, 1.5)]


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0, 100.0])
def test_bilabials_close_the_lips_at_any_fps(fps):
    anim = articulate(timeline(SPEECH), fps=fps)
    for label, start, end in SPEECH:
        if label in ("P", "B", "M"):
            closed = frames_within(anim, start - 0.02, end + 0.02)
            assert closed.any(), f"no frame lands on {label} at {start}"
            assert opening(anim)[closed].min() == 0.0
            assert anim.channel("LipsUpperClose")[closed].max() > 0.15


def test_open_vowels_open_the_jaw_more_than_consonants():
    anim = articulate(timeline(SPEECH), fps=100.0)
    jaw = anim.channel("JawOpen")
    for label, start, end in SPEECH:
        if label in ("AA", "AE"):
            assert jaw[frames_within(anim, start, end)].max() > 0.45
    assert jaw[frames_within(anim, 0.6, 0.65)].max() < 0.45  # T


def test_rounding_and_labiodentals():
    anim = articulate(timeline([("SIL", 0, .1), ("F", .1, .2), ("UW", .2, .45), ("W", .45, .55),
                                ("IY", .55, .8), ("SIL", .8, 1.2)]), fps=100.0)
    f = frames_within(anim, 0.12, 0.18)
    uw = frames_within(anim, 0.25, 0.4)
    iy = frames_within(anim, 0.6, 0.75)
    assert anim.channel("LipsLowerClose")[f].mean() > 0.3
    assert anim.channel("LipsPucker")[uw].mean() > 0.5
    assert anim.channel("LipsPucker")[iy].mean() < 0.2 < anim.channel("LipsStretch_L")[iy].mean()


def test_silence_relaxes_to_neutral():
    anim = articulate(timeline([("SIL", 0, 1.0), ("AA", 1.0, 1.3), ("SIL", 1.3, 3.0)]), fps=30.0)
    assert np.abs(anim.values[:20]).max() < 1e-3
    assert np.abs(anim.values[-30:]).max() < 1e-3


def test_anticipation_moves_the_mouth_before_the_sound():
    anim = articulate(timeline([("SIL", 0, 0.5), ("AA", 0.5, 0.8), ("SIL", 0.8, 1.2)]), fps=100.0)
    assert anim.channel("JawOpen")[45] > 0.05  # 50 ms before the vowel starts


def test_style_amplitude_and_jitter():
    base = articulate(timeline(SPEECH), fps=100.0)
    louder = articulate(timeline(SPEECH), fps=100.0, style=ArticulationStyle(amplitude=1.3))
    assert louder.channel("JawOpen").max() > 1.2 * base.channel("JawOpen").max()
    jittered = articulate(timeline(SPEECH), fps=100.0, style=ArticulationStyle(jitter_s=0.02, seed=3))
    assert not np.allclose(jittered.values, base.values)


def test_spanish_and_generic_tables():
    es = articulate(timeline([("SIL", 0, .1), ("P", .1, .15), ("A", .15, .35), ("SIL", .35, .6)], "spanish"))
    assert es.channel("JawOpen").max() > 0.45
    assert rule_for("p", "espeak").phone_class == "bilabial"
    assert rule_for("a:", "espeak").phone_class == "open"
    assert rule_for("u:", "espeak").phone_class == "rounded"
    assert rule_for("AH0", "arpabet").phone_class == "open"


def test_meta_carries_the_phones():
    anim = articulate(timeline(SPEECH), fps=30.0)
    assert anim.meta["phones"][1] == ["B", 0.2, 0.25]
    assert anim.n_frames == 45 and anim.channels[CHANNEL_INDEX["JawOpen"]] == "JawOpen"
