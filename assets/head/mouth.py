"""The inner mouth: inner lip surfaces curling into a dark cavity, two rows of teeth and a tongue."""
from __future__ import annotations

import numpy as np

from .design import DESIGN, Design
from .part import Part, single_anchors

# Rings behind the lips: (depth +Y, rise away from the seam, widening of x, how much the ring follows its lip).
# The first ring hugs the seam and the second narrows toward the corners, so no pair of lip and mouth keys
# pulls them out through the lips' skin (tests/test_head_mouthbag.py).
INNER_RINGS = ((0.0030, 0.0010, 1.00, 1.0), (0.0062, 0.0046, 0.97, 0.6), (0.0095, 0.0085, 1.15, 0.25),
               (0.0170, 0.0140, 1.30, 0.05), (0.0300, 0.0160, 1.35, 0.0), (0.0440, 0.0110, 1.22, 0.0))


def cavity(skin_positions: np.ndarray, upper: np.ndarray, lower: np.ndarray, design: Design = DESIGN) -> Part:
    """Rings grown inward from the mouth slit's loop and closed at the back: lips' inner side and cavity."""
    loop = np.concatenate([upper, lower[1:-1][::-1]])
    side = np.concatenate([[0.0], np.ones(len(upper) - 2), [0.0], -np.ones(len(lower) - 2)])
    seam = skin_positions[loop]
    rings, follows = [], []
    for depth, rise, widen, follow in INNER_RINGS:
        ring = seam + np.column_stack([np.zeros(len(loop)), np.full(len(loop), depth), side * rise])
        ring[:, 0] *= widen
        rings.append(ring)
        follows.append(np.full(len(loop), follow))
    back = np.array([[0.0, seam[:, 1].max() + INNER_RINGS[-1][0] + 0.006, design.mouth_z]])
    positions = np.vstack(rings + [back])
    n = len(loop)
    faces = []
    for r in range(len(rings) - 1):
        here, there = r * n, (r + 1) * n
        faces += [(here + k, here + (k + 1) % n, there + (k + 1) % n, there + k) for k in range(n)]
    last = (len(rings) - 1) * n
    faces += [(last + k, last + (k + 1) % n, len(positions) - 1) for k in range(n)]
    jaw = np.zeros(len(positions))
    jaw[-1] = 0.5  # the back of the throat stretches halfway with the jaw
    anchors, weights = single_anchors(np.concatenate([np.tile(loop, len(rings)), [-1]]))
    return Part(positions, faces, "MouthInside", anchors, weights, follow=np.concatenate(follows + [[0.0]]),
                jaw=jaw, joins=seam_joins(upper, lower))


def seam_joins(upper: np.ndarray, lower: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Quads from the skin's mouth loop to the first inner ring (ring vertex k follows loop vertex k)."""
    loop = np.concatenate([upper, lower[1:-1][::-1]])
    n = len(loop)
    return [(int(loop[k]), int(loop[(k + 1) % n]), -1 - (k + 1) % n, -1 - k) for k in range(n)]


def teeth_row(seam_y: float, top_z: float, bottom_z: float, half_width: float, depth: float,
              jaw: float, notch_at_bottom: bool) -> Part:
    """An arch of teeth as one closed band, scalloped at the biting edge."""
    count = 29
    t = np.linspace(-1.0, 1.0, count)
    x = half_width * np.sin(t * np.pi / 2.2) / np.sin(np.pi / 2.2)
    y = seam_y + depth * t ** 2
    scallop = 0.0009 * np.abs(np.sin(t * np.pi * 3.5)) ** 0.5
    edge = bottom_z + scallop if notch_at_bottom else top_z - scallop
    tops = np.full(count, top_z) if notch_at_bottom else edge
    bottoms = edge if notch_at_bottom else np.full(count, bottom_z)
    thickness = 0.0038
    dx, dy = np.gradient(x), np.gradient(y)
    inward = np.column_stack([-dy, dx]) / np.hypot(dx, dy)[:, None]  # toward the tongue
    outer = np.column_stack([x, y])
    inner = outer + thickness * inward
    section = [np.column_stack([outer, tops]), np.column_stack([outer, bottoms]),
               np.column_stack([inner, bottoms]), np.column_stack([inner, tops])]
    positions = np.vstack(section)
    faces = []
    for s in range(4):
        a, b = s * count, ((s + 1) % 4) * count
        faces += [(a + k, a + k + 1, b + k + 1, b + k) for k in range(count - 1)]
    faces.append((0, count, 2 * count, 3 * count))
    end = count - 1
    faces.append((3 * count + end, 2 * count + end, count + end, end))
    n = len(positions)
    return Part(positions, faces, "Teeth", *single_anchors(np.full(n, -1)), np.zeros(n), np.full(n, jaw))


def tongue(seam_y: float, design: Design = DESIGN) -> Part:
    segments, rings = 20, 10
    # The tip stays behind the lower teeth: further forward, closing lips push the chin's skin onto it.
    centre = np.array([0.0, seam_y + 0.0325, design.mouth_z - 0.0095])
    radii = np.array([0.0160, 0.0195, 0.0065])
    points = []
    for r in range(1, rings):
        polar = np.pi * r / rings
        for a in range(segments):
            azimuth = 2 * np.pi * a / segments
            unit = np.array([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)])
            points.append(centre + unit * radii)
    points += [centre + [0, 0, radii[2]], centre - [0, 0, radii[2]]]
    faces = []
    for r in range(rings - 2):
        for a in range(segments):
            b = (a + 1) % segments
            faces.append((r * segments + a, (r + 1) * segments + a, (r + 1) * segments + b, r * segments + b))
    top, bottom = len(points) - 2, len(points) - 1
    last = (rings - 2) * segments
    faces += [(top, a, (a + 1) % segments) for a in range(segments)]
    faces += [(bottom, last + (a + 1) % segments, last + a) for a in range(segments)]
    positions = np.array(points)
    n = len(positions)
    return Part(positions, faces, "Tongue", *single_anchors(np.full(n, -1)), np.zeros(n), np.full(n, 1.0))


def inner_parts(skin_positions: np.ndarray, upper: np.ndarray, lower: np.ndarray,
                design: Design = DESIGN) -> list[Part]:
    seam_y = float(skin_positions[upper[len(upper) // 2], 1])
    mz = design.mouth_z
    return [
        teeth_row(seam_y + 0.0062, mz + 0.0095, mz - 0.0028, 0.0178, 0.030, 0.0, notch_at_bottom=True),
        teeth_row(seam_y + 0.0104, mz - 0.0012, mz - 0.0105, 0.0165, 0.028, 1.0, notch_at_bottom=False),
        tongue(seam_y, design),
    ]
