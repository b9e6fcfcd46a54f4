"""From an Animation's channels to a head's shape keys: presets, custom maps, and the landmark solver."""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .backend.animation import Animation
from .backend.errors import InputError
from .backend.landmark_solve import solve_landmark_animation
from .backend.rig import FACEWAREHOUSE_46, RetargetMap, auto_match_map, preset_map

PRESET_ITEMS = (
    ("facewarehouse46", "FaceWarehouse-46", "Shape keys named like the 46 FaceWarehouse channels"),
    ("arkit52", "ARKit-52", "Shape keys named like Apple ARKit's 52 blendshapes"),
    ("auto", "Auto-match", "Match channels to shape keys by normalized name (FaceWarehouse or ARKit)"),
    ("custom", "Custom", "The channel map edited in the panel"),
)
LANDMARK_PROPERTY = "mouthpiece_landmarks"


@dataclass(frozen=True)
class Retargeted:
    targets: list[str]
    values: np.ndarray  # frames x targets
    unmapped: tuple[str, ...]  # source channels that drive nothing
    missing: tuple[str, ...]  # targets the object has no shape key for

    def report_lines(self) -> list[str]:
        lines = []
        if self.missing:
            lines.append(f"{len(self.missing)} channel(s) found no shape key: {', '.join(self.missing)}")
        if self.unmapped:
            lines.append(f"{len(self.unmapped)} source channel(s) have no mapping: {', '.join(self.unmapped)}")
        return lines


def shape_key_owner(obj: bpy.types.Object | None, purpose: str = "animate") -> bpy.types.Key:
    """The object's shape keys, or a clear error saying why it cannot be animated."""
    if obj is None:
        raise InputError(None, f"no target object: pick a mesh with shape keys to {purpose}")
    if obj.library is not None or (obj.data is not None and obj.data.library is not None):
        library = obj.library or obj.data.library
        raise InputError(library.filepath, f"object {obj.name!r} is linked from this library and cannot be "
                                           "edited; make it local or a library override first")
    key = getattr(obj.data, "shape_keys", None)
    if key is None or len(key.key_blocks) < 2:
        raise InputError(None, f"object {obj.name!r} has no shape keys to {purpose}; add shape keys "
                               "(a Basis plus expressions) or pick the Mouthpiece head")
    if key.library is not None:
        raise InputError(key.library.filepath, f"the shape keys of {obj.name!r} are linked and cannot be keyed")
    return key


def animatable_names(key: bpy.types.Key) -> list[str]:
    return [block.name for block in key.key_blocks if block != key.reference_key]


def custom_map(pairs: list[tuple[str, str]]) -> RetargetMap:
    routes: dict[str, list[tuple[str, float]]] = {}
    for source, target in pairs:
        if source and target:
            routes.setdefault(source, []).append((target, 1.0))
    return RetargetMap("custom", routes)


def suggest_custom_pairs(key_names: list[str], sources=FACEWAREHOUSE_46) -> list[tuple[str, str]]:
    """One (source, shape key) row per source channel, filled in where a name matches."""
    routes = auto_match_map(list(sources), key_names).routes
    return [(source, routes[source][0][0] if routes.get(source) else "") for source in sources]


def build_map(preset: str, source_channels: list[str], key_names: list[str],
              pairs: list[tuple[str, str]] = ()) -> RetargetMap:
    if preset == "auto":
        return auto_match_map(source_channels, key_names, name="auto")
    if preset == "custom":
        return custom_map(list(pairs))
    return preset_map(preset)


def no_channel_matched(object_name: str, key_names: list[str], map_name: str, n_channels: int) -> InputError:
    shown = ", ".join(key_names[:6]) + (", ..." if len(key_names) > 6 else "")
    return InputError(None, f"no channel matched a shape key of {object_name!r}: none of the {n_channels} "
                            f"channels of the {map_name!r} map finds one (it has {shown}); "
                            "pick another channel map or fill a custom one")


def retarget(anim: Animation, key_names: list[str], retarget_map: RetargetMap,
             object_name: str = "") -> Retargeted:
    """Apply the map; report targets absent from `key_names` and sources that drive nothing."""
    if anim.kind != "blendshape":
        raise ValueError("landmark animations go through solve_landmarks, not a channel map")
    present = set(key_names)
    if not any(t in present for channel in anim.channels for t, _ in retarget_map.routes.get(channel, [])):
        raise no_channel_matched(object_name or "the target", key_names, retarget_map.name, len(anim.channels))
    mapped = retarget_map.apply(anim)
    driven = [j for j, column in enumerate(retarget_map.matrix(anim.channels)[1].T) if column.any()]
    targets = [mapped.channels[j] for j in driven]  # targets no channel of `anim` drives stay unkeyed
    missing = tuple(t for t in targets if t not in present)
    return Retargeted(targets, mapped.values[:, driven], tuple(retarget_map.unmapped_sources(anim.channels)),
                      missing)


def landmark_basis(obj: bpy.types.Object, key: bpy.types.Key) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rest positions of the head's landmark vertices and each shape key's offsets at them."""
    indices = obj.get(LANDMARK_PROPERTY) or obj.data.get(LANDMARK_PROPERTY)
    if indices is None:
        raise InputError(None, f"object {obj.name!r} has no {LANDMARK_PROPERTY!r} property, so landmark "
                               "animations cannot be solved onto its shape keys")
    indices = np.asarray(list(indices), dtype=np.int64)
    rest = block_coords(key.reference_key)[indices]
    offsets = {name: block_coords(key.key_blocks[name])[indices] - rest for name in animatable_names(key)}
    return rest, offsets


def block_coords(block: bpy.types.ShapeKey) -> np.ndarray:
    coords = np.empty(len(block.data) * 3, dtype=np.float32)
    block.data.foreach_get("co", coords)
    return coords.reshape(-1, 3)


def solve_landmarks(anim: Animation, obj: bpy.types.Object, key: bpy.types.Key) -> Retargeted:
    """Landmark animation -> shape-key weights by the backend's bounded least squares (weights in [0, 1]);
    see backend/landmark_solve.py for units and blink channels."""
    rest, offsets = landmark_basis(obj, key)
    names, weights, missing = solve_landmark_animation(anim, rest, offsets, repr(obj.name))
    return Retargeted(names, weights, (), missing)