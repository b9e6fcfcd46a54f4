"""The 46 FaceWarehouse-style shape keys as vertex offsets at weight 1.

Offsets are in metres on the rest mesh. Sides are the character's own: `_L` is +X. The skin's keys are
functions of smooth weight fields; the inner mouth and the eyebrows follow the skin vertices they are
anchored to, except for the jaw keys, which move every vertex by its jaw weight.
"""
from __future__ import annotations

import numpy as np

from .design import DESIGN, Design, brow_height, gauss, smoothstep, soft_abs
from .fields import Fields, corner_weight, side_weight, skin_fields
from .lids import Lids, blink, gaze_sideways, lid_motion, lids_for, rotate_about_x
from .mesh import HeadMesh

SIDES = {"L": 1.0, "R": -1.0}
JAW_KEYS = ("JawOpen", "JawFwd", "JawLeft", "JawRight")


def stack(dx=0.0, dy=0.0, dz=0.0, n: int = 0) -> np.ndarray:
    return np.column_stack([np.broadcast_to(np.asarray(v, float), (n,)) for v in (dx, dy, dz)])


def eye_keys(p: np.ndarray, lids: Lids, side: str, f: Fields) -> dict[str, np.ndarray]:
    sign = SIDES[side]
    n = len(p)
    ex, _, ez = lids.centre
    under_eye = gauss(np.hypot(f.x - ex - sign * 0.006, f.z - ez + 0.021), 0.011) * smoothstep(-0.06, -0.08, f.y)
    toward_nose = -sign
    return {
        f"EyeBlink_{side}": blink(p, lids),
        f"EyeSquint_{side}": lid_motion(p, lids, -0.12, 0.42) + stack(0, -0.0008 * under_eye, 0.0022 * under_eye, n=n),
        f"EyeDown_{side}": lid_motion(p, lids, -0.28, -0.10),
        f"EyeIn_{side}": gaze_sideways(p, lids, 0.09 * toward_nose),
        f"EyeOpen_{side}": lid_motion(p, lids, 0.30, -0.12),
        f"EyeOut_{side}": gaze_sideways(p, lids, -0.09 * toward_nose),
        f"EyeUp_{side}": lid_motion(p, lids, 0.16, 0.08),
    }


def brow_band(f: Fields) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band around the brows, inner-brow weight, outer-brow weight)."""
    ax = soft_abs(f.x)
    height = f.z - brow_height(ax)
    band = np.where(height > 0, gauss(height, 0.022), gauss(height, 0.0075))
    band = band * (1.0 - smoothstep(0.052, 0.068, ax)) * smoothstep(-0.055, -0.08, f.y)
    inner = 1.0 - smoothstep(0.012, 0.032, ax)
    outer = smoothstep(0.022, 0.048, ax)
    return band, inner, outer


def brow_keys(f: Fields) -> dict[str, np.ndarray]:
    n = len(f.x)
    band, inner, outer = brow_band(f)
    keys = {}
    for side, sign in SIDES.items():
        half = band * side_weight(f.x, sign, 0.003)
        keys[f"BrowsD_{side}"] = stack(-0.0016 * half * sign * (0.4 + inner), -0.0014 * half, -0.0050 * half, n=n)
        keys[f"BrowsU_{side}"] = stack(0.0005 * half * sign, 0.0, 0.0066 * half * outer, n=n)
    keys["BrowsU_C"] = stack(0.0006 * band * np.sign(f.x) * inner, -0.0004 * band * inner,
                             0.0064 * band * (0.25 + inner) / 1.25, n=n)
    return keys


def jaw_keys(p: np.ndarray, jaw: np.ndarray, design: Design = DESIGN) -> dict[str, np.ndarray]:
    hinge_y, hinge_z = design.jaw_hinge
    hinge = np.array([0.0, hinge_y, hinge_z])
    opened = rotate_about_x(p, hinge, -design.jaw_open_angle * jaw)
    opened[:, 1] -= design.jaw_open_slide * jaw  # the condyles glide forward as the jaw drops
    n = len(p)
    return {
        "JawOpen": opened - p,
        "JawFwd": stack(0.0, -0.0045 * jaw, 0.0, n=n),
        "JawLeft": stack(0.0055 * jaw, 0.0, 0.0, n=n),
        "JawRight": stack(-0.0055 * jaw, 0.0, 0.0, n=n),
    }


def mouth_keys(f: Fields) -> dict[str, np.ndarray]:
    n = len(f.x)
    wide = f.mouth_area
    lips = f.lips
    keys = {}
    curvature = 17.0  # d(depth)/dx per metre of x: the face curves back away from the midline
    for side, sign in SIDES.items():
        keys[f"Mouth{'Left' if side == 'L' else 'Right'}"] = stack(
            0.0055 * sign * wide, curvature * f.x * 0.0055 * sign * wide, 0.0, n=n)
    for side, sign in SIDES.items():
        corner = corner_weight(f, sign)
        half_lips = lips * smoothstep(-0.2, 0.9, sign * f.s)
        pull = np.maximum(corner, 0.7 * half_lips)
        cheek = gauss(np.hypot(f.x - sign * 0.04, f.z + 0.012), 0.014) * smoothstep(-0.05, -0.07, f.y)
        keys[f"MouthFrown_{side}"] = stack(0.0015 * sign * pull, 0.0008 * pull, -0.0066 * pull, n=n)
        keys[f"MouthSmile_{side}"] = stack(0.0048 * sign * pull, 0.0050 * pull,
                                          0.0062 * pull + 0.0030 * cheek, n=n)
        keys[f"MouthDimple_{side}"] = stack(0.0025 * sign * pull, 0.0056 * pull, 0.0, n=n)
        stretch = np.maximum(corner, half_lips)
        keys[f"LipsStretch_{side}"] = stack(0.0055 * sign * stretch, 0.0012 * stretch,
                                           -0.0015 * stretch - 0.0022 * f.lower_lip * stretch, n=n)
    return keys


def lip_keys(f: Fields) -> dict[str, np.ndarray]:
    n = len(f.x)
    up, low, edge = f.upper_lip, f.lower_lip, f.lip_edge
    lips = f.lips
    centre = 1.0 - 0.55 * np.clip(f.s, -1, 1) ** 2
    lateral = 0.65 + 0.35 * np.clip(np.abs(f.s), 0, 1)
    purse = lips * (1.0 - 0.45 * np.clip(f.s, -1, 1) ** 2)
    gather = np.maximum(lips, f.mouth_area * (1.0 - smoothstep(0.004, 0.016, np.abs(f.z - f.seam_z))))
    return {
        "LipsUpperClose": stack(0.0, up * (0.0020 + 0.0012 * edge), -up * (0.0028 + 0.0030 * edge), n=n),
        "LipsLowerClose": stack(0.0, low * (0.0020 + 0.0012 * edge), low * (0.0028 + 0.0032 * edge), n=n),
        "LipsUpperUp": stack(0.0, -0.0012 * up, 0.0058 * up * lateral, n=n),
        "LipsLowerDown": stack(0.0, -0.0012 * low, -0.0060 * low * lateral, n=n),
        "LipsUpperOpen": stack(0.0, -0.0006 * up, 0.0034 * up * centre, n=n),
        "LipsLowerOpen": stack(0.0, -0.0006 * low, -0.0036 * low * centre, n=n),
        "LipsFunnel": stack(-0.26 * f.x * gather, -0.0055 * purse - 0.0022 * lips * edge,
                            (0.0030 * up - 0.0032 * low) * edge * centre, n=n),
        "LipsPucker": stack(-0.5 * f.x * gather, -0.0085 * purse, (-0.0008 * up + 0.0008 * low) * (1 - edge), n=n),
    }


def face_keys(f: Fields) -> dict[str, np.ndarray]:
    n = len(f.x)
    ax = soft_abs(f.x)
    chin = gauss(np.hypot(f.x, (f.z + 0.078) * 0.9), 0.019) * smoothstep(-0.06, -0.08, f.y)
    alae = gauss(np.hypot(ax - 0.013, f.z + 0.012), 0.010) * smoothstep(-0.07, -0.09, f.y)
    lip_sides = f.upper_lip * gauss(np.abs(f.s) - 0.5, 0.35)
    cheeks = gauss(np.hypot(ax - 0.043, f.z + 0.032), 0.021) * smoothstep(-0.03, -0.07, f.y)
    outward = np.column_stack([f.x, f.y + 0.025, np.zeros(n)])
    outward /= np.linalg.norm(outward, axis=1, keepdims=True)
    keys = {
        "ChinLowerRaise": stack(0.0, -0.0015 * chin - 0.0028 * f.lower_lip, 0.0032 * chin + 0.0016 * f.lower_lip, n=n),
        "Sneer": stack(0.0006 * np.sign(f.x) * alae, -0.0008 * alae, 0.0045 * alae + 0.0045 * lip_sides, n=n),
        "Puff": 0.0100 * cheeks[:, None] * outward + stack(0.0, -0.0012 * f.mouth_area, 0.0, n=n),
    }
    for side, sign in SIDES.items():
        cheek = gauss(np.hypot(f.x - sign * 0.042, f.z + 0.004), 0.015) * smoothstep(-0.05, -0.075, f.y)
        keys[f"CheekSquint_{side}"] = stack(0.0005 * sign * cheek, -0.0015 * cheek, 0.0050 * cheek, n=n)
    return keys


def shape_key_offsets(mesh: HeadMesh, names, design: Design = DESIGN) -> dict[str, np.ndarray]:
    """{name: [N, 3] offsets} for every name, the whole mesh (skin and inner mouth)."""
    skin = mesh.skin
    p = skin.positions
    f = skin_fields(skin, design)
    skin_keys: dict[str, np.ndarray] = {}
    for side in SIDES:
        skin_keys.update(eye_keys(p, lids_for(skin, side, design), side, f))
    skin_keys.update(brow_keys(f))
    skin_keys.update(mouth_keys(f))
    skin_keys.update(lip_keys(f))
    skin_keys.update(face_keys(f))

    anchored = mesh.anchor_weights.sum(axis=1) > 0
    jaw = np.where(anchored, np.sum(mesh.anchor_weights * f.jaw[mesh.anchors], axis=1), mesh.free_jaw)
    whole_jaw = jaw_keys(mesh.positions, jaw, design)
    weight = (mesh.anchor_weights * mesh.follow[:, None])[:, :, None]
    offsets = {}
    for name in names:
        if name in JAW_KEYS:
            offsets[name] = whole_jaw[name]
        else:
            offsets[name] = np.sum(skin_keys[name][mesh.anchors] * weight, axis=1)
    return offsets
