"""The Q-learning lip agent's world: three lip measures, 16 actions that move them, and the reward.

The paper (Nevárez Porras et al.) scores a mouth by three offsets, in pixels of the head camera's
512 x 512 image (y down):
  u = y(upper-lip centre, iBUG 51) - y(mouth centre)
  l = y(lower-lip centre, iBUG 57) - y(mouth centre)
  c = x(left corner, iBUG 48) - x(mouth centre)
where the mouth centre is the midpoint of the corners 48 and 54, and rewards a frame with
  r = -[(u_agent - u_speaker)^2 + (l_agent - l_speaker)^2 + (c_agent - c_speaker)^2].
It leaves the 16 actions undefined. Here each action moves those measures, since nothing else is
scored: a point's x on the lip centres or y at the corners would be actions the reward never sees.
Corners move symmetrically, so the mouth centre stays put and `c` is half the mouth width (negative).

  0 hold                       8 lower lip up, large
  1 upper lip up, small        9 corners apart (wider), small
  2 upper lip down, small     10 corners together (narrower), small
  3 upper lip up, large       11 corners apart, large
  4 upper lip down, large     12 corners together, large
  5 lower lip down, small     13 open: lower lip down large, upper lip up small
  6 lower lip up, small       14 close: lower lip up large, upper lip down small
  7 lower lip down, large     15 relax: every measure a large step (at most) towards the neutral mouth

Every measure is clamped to the range the speakers' lips cover. Pure numpy: the environment, the
baselines and the torch-free runtime share it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURES = ("upper", "lower", "corner")
LIP_POINTS = (48, 54, 51, 57)  # left corner, right corner, upper-lip centre, lower-lip centre (iBUG)
N_ACTIONS = 16
RELAX = 15
ACTION_NAMES = ("hold", "upper up", "upper down", "upper up (large)", "upper down (large)", "lower down",
                "lower up", "lower down (large)", "lower up (large)", "wider", "narrower", "wider (large)",
                "narrower (large)", "open", "close", "relax")


def action_steps(small: float, large: float) -> np.ndarray:
    """(16, 3) change of (u, l, c) per action in pixels; the relax row is zero (it depends on the state)."""
    s, g = float(small), float(large)
    return np.array([
        (0, 0, 0), (-s, 0, 0), (s, 0, 0), (-g, 0, 0), (g, 0, 0),
        (0, s, 0), (0, -s, 0), (0, g, 0), (0, -g, 0),
        (0, 0, -s), (0, 0, s), (0, 0, -g), (0, 0, g),
        (-s, g, 0), (s, -g, 0), (0, 0, 0),
    ], dtype=np.float32)


@dataclass(frozen=True)
class LipSpace:
    """Where the measures live: the neutral mouth and the range the speakers cover, in pixels."""

    neutral: np.ndarray  # (3,)
    low: np.ndarray  # (3,)
    high: np.ndarray  # (3,)
    small: float = 1.5
    large: float = 5.0

    def __post_init__(self) -> None:
        for name in ("neutral", "low", "high"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float32).reshape(3))

    @property
    def steps(self) -> np.ndarray:
        return action_steps(self.small, self.large)

    def apply(self, lips: np.ndarray, actions) -> np.ndarray:
        """(..., 3) measures after taking `actions` (an int or an array broadcast against lips[..., 0])."""
        lips = np.asarray(lips, dtype=np.float32)
        actions = np.asarray(actions)
        moved = lips + self.steps[actions]
        toward = np.clip(self.neutral - lips, -self.large, self.large)
        moved = np.where((actions == RELAX)[..., None], lips + toward, moved)
        return np.clip(moved, self.low, self.high).astype(np.float32)

    def all_moves(self, lips: np.ndarray) -> np.ndarray:
        """(..., 16, 3): the measures after each action from `lips` (...,3)."""
        lips = np.asarray(lips, dtype=np.float32)
        return self.apply(lips[..., None, :], np.arange(N_ACTIONS))


def lip_measures(points2d: np.ndarray) -> np.ndarray:
    """(..., 3) u, l, c from (..., 68, 2) iBUG points in pixels, or (..., 4, 2) points in LIP_POINTS order."""
    points = np.asarray(points2d, dtype=np.float32)
    if points.shape[-2] == 68:
        points = points[..., list(LIP_POINTS), :]
    left, right, upper, lower = (points[..., i, :] for i in range(4))
    centre = 0.5 * (left + right)
    return np.stack([upper[..., 1] - centre[..., 1], lower[..., 1] - centre[..., 1], left[..., 0] - centre[..., 0]],
                    axis=-1)


def reward(agent: np.ndarray, speaker: np.ndarray) -> np.ndarray:
    """The paper's reward, px^2: 0 when the agent copies the speaker, more negative the further it is."""
    difference = np.asarray(agent, dtype=np.float32) - np.asarray(speaker, dtype=np.float32)
    return -np.sum(difference * difference, axis=-1)
