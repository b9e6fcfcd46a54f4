"""Landmark animations onto shape keys: the channel layout (`lipNN_x`, `lmNN_x`) and the bounded solve."""
from __future__ import annotations

import re

import numpy as np

from .animation import Animation, split_weight_channels
from .errors import InputError
from .solver import solve_weights

LANDMARK_CHANNEL = re.compile(r"^(lip|lm)(\d+)_([xyz])$")
LIP_FIRST_LANDMARK = 48  # lipNN is iBUG landmark 48 + NN


def landmark_layout(channels: list[str]) -> tuple[list[int], list[str], np.ndarray]:
    """(iBUG landmark indices, axes, [landmarks x axes] column of each channel) of a landmark animation.

    Channels are `lipNN_x` (NN counts the 20 lip points from iBUG 48) or `lmNN_x` (iBUG index NN).
    """
    parsed = []
    for channel in channels:
        match = LANDMARK_CHANNEL.match(channel)
        if match is None:
            raise InputError(None, f"landmark channel {channel!r} is not named like lip00_x or lm48_x")
        offset = LIP_FIRST_LANDMARK if match.group(1) == "lip" else 0
        parsed.append((offset + int(match.group(2)), match.group(3)))
    landmarks = sorted({lm for lm, _ in parsed})
    axes = sorted({axis for _, axis in parsed})
    columns = np.full((len(landmarks), len(axes)), -1, dtype=np.int64)
    for column, (lm, axis) in enumerate(parsed):
        columns[landmarks.index(lm), axes.index(axis)] = column
    if (columns < 0).any():
        raise InputError(None, "landmark animation lacks some axes for some landmarks")
    return landmarks, axes, columns


def solve_landmark_animation(anim: Animation, rest: np.ndarray, offsets: dict[str, np.ndarray],
                             head_name: str = "the head") -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """(key names, [T, K] weights in [0, 1], blink channels with no key of their name) for a landmark
    animation and a head given by its landmarks' rest positions [L, 3] and each key's offsets at them.

    Values are offsets from the rest pose in the head's units; with meta "landmark_space": "absolute" they
    are positions, and the rest pose is subtracted. Blink channels beside the landmarks (EyeBlink_L/R) are
    taken as the weights of the keys of those names, in place of the solved ones.
    """
    anim, direct_names, direct_values = split_weight_channels(anim)
    landmarks, axes, columns = landmark_layout(anim.channels)
    if max(landmarks) >= len(rest):
        raise InputError(None, f"the animation uses landmark {max(landmarks)}, but {head_name} has {len(rest)}")
    axis_index = ["xyz".index(a) for a in axes]
    targets = anim.values[:, columns]  # [T, L, D]
    if anim.meta.get("landmark_space") == "absolute":
        targets = targets - rest[np.ix_(landmarks, axis_index)][None]
    names = list(offsets)
    basis = np.stack([offsets[n][np.ix_(landmarks, axis_index)] for n in names])  # [K, L, D]
    weights = solve_weights(basis, targets)
    for name, column in zip(direct_names, direct_values.T):
        if name in names:
            weights[:, names.index(name)] = np.clip(column, 0.0, 1.0)
    return names, weights, tuple(name for name in direct_names if name not in names)
