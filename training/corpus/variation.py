"""Per-utterance looks for the rendered corpus: which face speaks (an identity of assets/head/identity.py)
and how the clip is shot (light, camera orbit, focal length, background). Both come from the corpus seed
and the utterance id alone, so a resumed or parallel build renders every utterance the same way.
Numpy only; training/corpus/render.py applies a variation in Blender.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

# Workbench's bundled studio lights (the same names from Blender 3.4 on); "Default" is the head's own.
STUDIO_LIGHTS = ("Default", "basic.sl", "outdoor.sl", "rim.sl", "studio.sl")
MAX_ORBIT_DEG = 10.0
MAX_LIGHT_TURN_DEG = 60.0
FOCAL_SPREAD = 0.10
EXPOSURE_STOPS = 0.5


@dataclass(frozen=True)
class RenderVariation:
    studio_light: str
    light_rotation_deg: float  # turn of the studio light about the vertical axis
    exposure: float  # stops
    yaw_deg: float  # camera orbit about the head's centre, positive toward the character's left (+X)
    pitch_deg: float  # positive: the camera rises and looks down
    focal_scale: float  # focal length over the head's own
    background: tuple[float, float, float]  # linear RGB


def sample_variation(seed: int) -> RenderVariation:
    rng = np.random.default_rng(seed)
    grey = float(rng.uniform(0.02, 0.6))
    tint = rng.uniform(-0.25, 0.25, 3) * grey
    return RenderVariation(
        studio_light=STUDIO_LIGHTS[int(rng.integers(0, len(STUDIO_LIGHTS)))],
        light_rotation_deg=round(float(rng.uniform(-MAX_LIGHT_TURN_DEG, MAX_LIGHT_TURN_DEG)), 3),
        exposure=round(float(rng.uniform(-EXPOSURE_STOPS, EXPOSURE_STOPS)), 3),
        yaw_deg=round(float(rng.uniform(-MAX_ORBIT_DEG, MAX_ORBIT_DEG)), 3),
        pitch_deg=round(float(rng.uniform(-MAX_ORBIT_DEG, MAX_ORBIT_DEG)), 3),
        focal_scale=round(float(rng.uniform(1.0 - FOCAL_SPREAD, 1.0 + FOCAL_SPREAD)), 4),
        background=tuple(round(float(v), 4) for v in np.clip(grey + tint, 0.0, 1.0)),
    )


def stable_seed(*parts) -> int:
    """A 63-bit seed from the parts' text (the same in every process, unlike hash())."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Looks:
    """The corpus-wide choice: `identities` faces (0: the default head only) and whether clips vary."""

    seed: int = 0
    identities: int = 0
    vary_render: bool = False

    def identity_of(self, utterance_id: str) -> int:
        if self.identities <= 1:
            return 0
        return stable_seed(self.seed, utterance_id, "identity") % self.identities

    def variation_of(self, utterance_id: str) -> RenderVariation | None:
        return sample_variation(stable_seed(self.seed, utterance_id, "render")) if self.vary_render else None


def orbit(location, target, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """The camera `location` turned about `target`: yaw about the vertical axis, then pitch about the
    camera's horizontal axis (positive raises it)."""
    offset = np.asarray(location, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    horizontal = np.hypot(offset[0], offset[1])
    distance = np.linalg.norm(offset)
    heading = np.arctan2(offset[0], -offset[1]) + yaw  # 0: in front of the face (-Y), +90 degrees: at +X
    elevation = np.arctan2(offset[2], horizontal) + pitch
    moved = distance * np.array([np.cos(elevation) * np.sin(heading), -np.cos(elevation) * np.cos(heading),
                                 np.sin(elevation)])
    return np.asarray(target, dtype=np.float64) + moved
