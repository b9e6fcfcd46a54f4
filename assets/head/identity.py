"""Identities: other faces of the same rig, drawn from a seed. Seed 0 is the default head exactly.

An identity varies the head's proportions (width, depth, height), lips (width, heights, fullness), nose,
jaw (hinge, opening, chin), eye placement, skin tone (lips follow it), iris colour and brow colour. The
ranges are moderate, so every identity keeps the 46 keys, the 68 landmarks and the inner mouth inside.
Numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .design import DESIGN, Design
from .materials import MATERIALS

RGBA = tuple[float, float, float, float]

# Base colours (linear, as Blender takes them) from light to dark skin; a tone is a point along them.
SKIN_TONES = ((0.87, 0.68, 0.58), (0.80, 0.58, 0.47), (0.66, 0.44, 0.32), (0.48, 0.29, 0.18),
              (0.30, 0.16, 0.09), (0.16, 0.08, 0.045))
LIPS_OF_SKIN = (0.90, 0.62, 0.70)  # the default head's lips over its skin, channel by channel
IRIS_COLOURS = ((0.09, 0.045, 0.02), (0.16, 0.09, 0.04), (0.26, 0.18, 0.08), (0.17, 0.26, 0.14),
                (0.23, 0.38, 0.52), (0.34, 0.38, 0.41))  # dark brown, brown, hazel, green, blue, grey
BROW_COLOURS = ((0.02, 0.015, 0.012), (0.06, 0.035, 0.02), (0.11, 0.065, 0.04), (0.24, 0.15, 0.08),
                (0.42, 0.31, 0.17), (0.22, 0.08, 0.035))  # black, dark brown, brown, light, blond, auburn
DARK_SKIN = 0.45  # tone beyond which irises and brows are drawn from the darker half of their palettes


@dataclass(frozen=True)
class Identity:
    seed: int
    design: Design
    colours: dict[str, RGBA]  # material name -> base colour, for every material of the head


def default_colours() -> dict[str, RGBA]:
    return {name: tuple(colour) for name, (colour, _) in MATERIALS.items()}


def identity(seed: int) -> Identity:
    """The identity of `seed` (a non-negative integer); 0 is the default head."""
    if seed < 0:
        raise ValueError(f"identity seeds are non-negative, not {seed}")
    if seed == 0:
        return Identity(0, DESIGN, default_colours())
    rng = np.random.default_rng(seed)
    design = varied_design(rng)
    return Identity(seed, design, varied_colours(rng))


def scaled(rng: np.random.Generator, value: float, spread: float) -> float:
    return float(value * rng.uniform(1.0 - spread, 1.0 + spread))


def varied_design(rng: np.random.Generator) -> Design:
    d = DESIGN
    ex, ey, ez = d.eye_center
    hinge_y, hinge_z = d.jaw_hinge
    return replace(
        d,
        scale=(scaled(rng, 1.0, 0.08), scaled(rng, 1.0, 0.06), scaled(rng, 1.0, 0.07)),
        mouth_half_width=scaled(rng, d.mouth_half_width, 0.1),
        upper_lip_height=scaled(rng, d.upper_lip_height, 0.15),
        lower_lip_height=scaled(rng, d.lower_lip_height, 0.15),
        upper_lip_fullness=scaled(rng, 1.0, 0.2),
        lower_lip_fullness=scaled(rng, 1.0, 0.2),
        nose_size=scaled(rng, 1.0, 0.2),
        nose_width=scaled(rng, 1.0, 0.15),
        chin_size=scaled(rng, 1.0, 0.3),
        jaw_hinge=(hinge_y + float(rng.uniform(-0.003, 0.003)), hinge_z + float(rng.uniform(-0.003, 0.003))),
        jaw_open_angle=scaled(rng, d.jaw_open_angle, 0.12),
        eye_center=(ex + float(rng.uniform(-0.0015, 0.0015)), ey, ez + float(rng.uniform(-0.0015, 0.0015))),
    )


def along(palette, t: float) -> np.ndarray:
    """The colour a fraction t (0..1) of the way through a palette, linearly between its entries."""
    position = t * (len(palette) - 1)
    k = min(int(position), len(palette) - 2)
    return np.array(palette[k]) + (position - k) * (np.array(palette[k + 1]) - np.array(palette[k]))


def varied_colours(rng: np.random.Generator) -> dict[str, RGBA]:
    tone = float(rng.uniform(0.0, 1.0))
    skin = along(SKIN_TONES, tone) * rng.uniform(0.96, 1.04, 3)
    lips = skin * np.array(LIPS_OF_SKIN) * rng.uniform(0.93, 1.07, 3)
    dark = tone > DARK_SKIN
    iris = IRIS_COLOURS[int(rng.integers(0, 2 if dark else len(IRIS_COLOURS)))] * rng.uniform(0.9, 1.1, 3)
    brow = BROW_COLOURS[int(rng.integers(0, 2 if dark else len(BROW_COLOURS)))] * rng.uniform(0.9, 1.1, 3)
    colours = default_colours()
    for name, rgb in (("Skin", skin), ("Lips", lips), ("Iris", iris), ("Brows", brow)):
        colours[name] = (*(float(v) for v in np.clip(rgb, 0.0, 1.0)), 1.0)
    return colours
