"""Channel tables (FaceWarehouse-46, ARKit-52, Rhubarb visemes) and retarget maps.

A retarget map turns an Animation's source channels into target channel names: each source
channel drives zero or more targets with a gain, and targets driven by several sources sum.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import DATA_DIR
from .animation import Animation


@dataclass(frozen=True)
class ChannelInfo:
    index: int
    name: str
    region: str
    arkit: str
    meaning: str


@lru_cache(maxsize=None)
def facewarehouse_table() -> tuple[ChannelInfo, ...]:
    text = (DATA_DIR / "facewarehouse46.tsv").read_text("utf-8")
    rows = [r for r in csv.reader(text.splitlines(), delimiter="\t") if r and not r[0].startswith("#")]
    return tuple(ChannelInfo(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows)


FACEWAREHOUSE_46: tuple[str, ...] = tuple(c.name for c in facewarehouse_table())
CHANNEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(FACEWAREHOUSE_46)}

# Channel groups an artist keys separately: the table's regions in each.
CHANNEL_GROUPS: dict[str, tuple[str, ...]] = {
    "MOUTH": ("jaw", "mouth", "lips", "chin"),
    "EYES": ("eyes",),
    "BROWS": ("brows",),
    "CHEEKS": ("cheeks", "nose"),
}


def channels_in_groups(groups) -> tuple[str, ...]:
    """FaceWarehouse-46 channels in any of `groups` (keys of CHANNEL_GROUPS), in table order."""
    unknown = set(groups) - set(CHANNEL_GROUPS)
    if unknown:
        raise ValueError(f"unknown channel group(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(CHANNEL_GROUPS)}")
    regions = {region for group in groups for region in CHANNEL_GROUPS[group]}
    return tuple(c.name for c in facewarehouse_table() if c.region in regions)

ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

# Rhubarb Lip Sync's mouth shapes, expressed as FaceWarehouse-46 poses.
RHUBARB_VISEMES: dict[str, dict[str, float]] = {
    "X": {},  # idle, lips relaxed and closed
    "A": {"LipsUpperClose": 0.35, "LipsLowerClose": 0.35, "ChinLowerRaise": 0.2},  # P B M
    "B": {"JawOpen": 0.12, "LipsUpperOpen": 0.25, "LipsLowerOpen": 0.25,
          "MouthDimple_L": 0.2, "MouthDimple_R": 0.2},  # K S T, most consonants
    "C": {"JawOpen": 0.3, "LipsLowerDown": 0.3, "LipsStretch_L": 0.25, "LipsStretch_R": 0.25},  # EH AE
    "D": {"JawOpen": 0.65, "LipsLowerDown": 0.35, "LipsUpperUp": 0.15},  # AA
    "E": {"JawOpen": 0.3, "LipsFunnel": 0.45},  # AO ER
    "F": {"JawOpen": 0.12, "LipsPucker": 0.75, "LipsFunnel": 0.25},  # UW OW W
    "G": {"JawOpen": 0.08, "LipsLowerClose": 0.55, "LipsUpperUp": 0.2},  # F V
    "H": {"JawOpen": 0.3, "LipsUpperOpen": 0.3, "LipsLowerOpen": 0.2},  # L
}


def pose_vector(pose: dict[str, float]) -> np.ndarray:
    """A FaceWarehouse-46 weight vector from a {channel: weight} pose."""
    vec = np.zeros(len(FACEWAREHOUSE_46), dtype=np.float32)
    for name, weight in pose.items():
        vec[CHANNEL_INDEX[name]] = weight
    return vec


def normalize_name(name: str) -> str:
    """Lower-case, drop separators and common prefixes, spell sides one way: 'Mouth_Smile.L' -> 'mouthsmilel'."""
    text = name.strip()
    text = re.sub(r"^(?:key|shape|blendshape|bs)[_.\s-]+", "", text, flags=re.I)
    text = re.sub(r"(?i)(left)$", "L", text)
    text = re.sub(r"(?i)(right)$", "R", text)
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class RetargetMap:
    """source channel -> [(target name, gain), ...]"""

    name: str
    routes: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def targets(self) -> list[str]:
        seen: dict[str, None] = {}
        for pairs in self.routes.values():
            for target, _ in pairs:
                seen.setdefault(target, None)
        return list(seen)

    def unmapped_sources(self, channels: list[str] | tuple[str, ...]) -> list[str]:
        return [c for c in channels if not self.routes.get(c)]

    def matrix(self, channels: list[str] | tuple[str, ...]) -> tuple[list[str], np.ndarray]:
        """(target names, [len(channels) x len(targets)] gain matrix)."""
        targets = self.targets()
        column = {t: j for j, t in enumerate(targets)}
        gains = np.zeros((len(channels), len(targets)), dtype=np.float32)
        for i, channel in enumerate(channels):
            for target, gain in self.routes.get(channel, []):
                gains[i, column[target]] += gain
        return targets, gains

    def apply(self, anim: Animation) -> Animation:
        if anim.kind != "blendshape":
            raise ValueError("only blendshape animations retarget through a channel map")
        targets, gains = self.matrix(anim.channels)
        values = np.clip(anim.values @ gains, 0.0, 1.0).astype(np.float32)
        meta = dict(anim.meta, retarget=self.name)
        return Animation(fps=anim.fps, channels=targets, values=values, kind=anim.kind, meta=meta)


def identity_map() -> RetargetMap:
    return RetargetMap("facewarehouse46", {n: [(n, 1.0)] for n in FACEWAREHOUSE_46})


def arkit_map() -> RetargetMap:
    """FaceWarehouse-46 -> ARKit-52 from the table's `arkit` column ('a+b' drives both)."""
    routes: dict[str, list[tuple[str, float]]] = {}
    for info in facewarehouse_table():
        if info.arkit.startswith("(none"):
            # "(none; approx 0.5*mouthUpperUp*)": half of the listed family, both sides.
            family = re.search(r"\*\s*(\w+?)\*", info.arkit)
            stem = family.group(1) if family else ""
            routes[info.name] = [(n, 0.5) for n in ARKIT_52 if stem and n.startswith(stem)]
        else:
            routes[info.name] = [(n, 1.0) for n in info.arkit.split("+")]
    return RetargetMap("arkit52", routes)


NAME_SEPARATOR = re.compile(r"[._:|\s-]+")


def name_index(target_names) -> dict[str, str]:
    """Normalized name -> target name, also under each name's suffixes after a separator, so
    prefixed names ('Face.jawOpen', 'CC_Base_JawOpen') match; a whole name wins over a suffix."""
    index = {normalize_name(t): t for t in target_names}
    for target in target_names:
        for separator in NAME_SEPARATOR.finditer(target.strip()):
            index.setdefault(normalize_name(target.strip()[separator.end():]), target)
    index.pop("", None)
    return index


def auto_match_map(source_channels, target_names, name: str = "custom") -> RetargetMap:
    """Match channels to target names by normalized name, in any case and behind any prefix;
    ARKit names match through the ARKit map."""
    by_norm = name_index(target_names)
    arkit = arkit_map().routes
    routes: dict[str, list[tuple[str, float]]] = {}
    for channel in source_channels:
        direct = by_norm.get(normalize_name(channel))
        if direct:
            routes[channel] = [(direct, 1.0)]
            continue
        via_arkit = [(by_norm[normalize_name(t)], g) for t, g in arkit.get(channel, [])
                     if normalize_name(t) in by_norm]
        routes[channel] = via_arkit
    return RetargetMap(name, routes)


PRESETS = {"facewarehouse46": identity_map, "arkit52": arkit_map}


def preset_map(name: str) -> RetargetMap:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown channel map preset {name!r}; known: {', '.join(PRESETS)}") from None
