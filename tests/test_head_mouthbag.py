"""The default head's inner mouth (cavity, teeth, tongue) stays behind the skin, seen from the camera, on
closures and on every pair of mouth keys at full weight: nothing pokes through under the lower lip."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.articulation import rule_table
from backend.rig import FACEWAREHOUSE_46, facewarehouse_table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "assets"))

from head.design import DESIGN, Design  # noqa: E402
from head.keys import shape_key_offsets  # noqa: E402
from head.mesh import build_mesh  # noqa: E402

MM = 0.001
MARGIN = 0.5 * MM  # the subdivided skin sits a little inside its cage on the lips' bulge
SEARCH_RADIUS = 0.012  # skin triangles this close (in x, z at rest) can cover an inner vertex
MOUTH_REGIONS = ("jaw", "mouth", "lips", "chin")
MOUTH_KEYS = [info.name for info in facewarehouse_table() if info.region in MOUTH_REGIONS] + ["Puff", "Sneer"]
CLOSURE_CLASSES = ("bilabial", "labiodental")


class ViewDepth:
    """How far each inner-mouth vertex lies behind the skin along the camera's axis (+Y), per pose."""

    def __init__(self, design: Design = DESIGN):
        mesh = build_mesh(design)
        self.rest = mesh.positions
        self.offsets = shape_key_offsets(mesh, FACEWAREHOUSE_46, design)
        inner = np.arange(mesh.n_skin, len(self.rest))
        z = self.rest[inner, 2]
        self.inner = inner[(z > -0.09) & (z < -0.03)]  # cavity, teeth and tongue; not the brows
        triangles = np.array([(f[0], f[k], f[k + 1]) for f in mesh.skin.faces for k in range(1, len(f) - 1)])
        centres = self.rest[triangles].mean(axis=1)
        triangles = triangles[centres[:, 1] < 0.0]  # the face, not the back of the head
        centres = centres[centres[:, 1] < 0.0]
        points = self.rest[self.inner]
        near = np.hypot(points[:, None, 0] - centres[None, :, 0], points[:, None, 2] - centres[None, :, 2])
        near = near < SEARCH_RADIUS
        width = int(near.sum(axis=1).max())
        self.candidates = np.zeros((len(points), width, 3), dtype=np.int64)
        self.valid = np.zeros((len(points), width), dtype=bool)
        for i, row in enumerate(near):
            found = triangles[row]
            self.candidates[i, :len(found)] = found
            self.valid[i, :len(found)] = True

    def positions(self, pose: dict[str, float]) -> np.ndarray:
        out = self.rest.copy()
        for name, weight in pose.items():
            out += weight * self.offsets[name]
        return out

    def depths(self, pose: dict[str, float]) -> np.ndarray:
        """[inner vertices] metres behind the front-most skin in line with each (inf where none covers it)."""
        positions = self.positions(pose)
        point = positions[self.inner][:, None, :]
        a, b, c = (positions[self.candidates[..., k]] for k in range(3))
        u, v, w = b - a, c - a, point - a
        det = u[..., 0] * v[..., 2] - v[..., 0] * u[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (w[..., 0] * v[..., 2] - v[..., 0] * w[..., 2]) / det
            t = (u[..., 0] * w[..., 2] - w[..., 0] * u[..., 2]) / det
        covers = self.valid & (np.abs(det) > 1e-14) & (s >= 0) & (t >= 0) & (s + t <= 1)
        skin_y = np.where(covers, a[..., 1] + s * u[..., 1] + t * v[..., 1], np.inf).min(axis=1)
        return np.where(np.isfinite(skin_y), positions[self.inner, 1] - skin_y, np.inf)

    def worst(self, pose: dict[str, float]) -> tuple[float, np.ndarray]:
        depths = self.depths(pose)
        vertex = int(np.argmin(depths))
        return float(depths[vertex]), self.rest[self.inner[vertex]]


@pytest.fixture(scope="module")
def view() -> ViewDepth:
    return ViewDepth()


def closure_poses() -> dict[str, dict[str, float]]:
    """Every bilabial and labiodental rule of the articulation tables, each channel it uses at 1."""
    poses = {}
    for phone_set in ("arpabet", "espeak", "spanish"):
        for rule in rule_table(phone_set):
            if rule.phone_class in CLOSURE_CLASSES:
                used = np.flatnonzero(rule.pose > 0)
                poses[f"{phone_set}:{rule.pattern.pattern}"] = {FACEWAREHOUSE_46[i]: 1.0 for i in used}
    return poses


def test_rest_pose_keeps_the_tongue_and_cavity_well_inside(view):
    depth, where = view.worst({})
    assert depth > 1 * MM, f"{depth / MM:.2f} mm behind the skin at rest, at {np.round(where / MM, 1)} mm"


@pytest.mark.parametrize("name, pose", closure_poses().items(), ids=list(closure_poses()))
def test_closures_at_full_weight_stay_behind_the_skin(view, name, pose):
    depth, where = view.worst(pose)
    assert depth > MARGIN, f"{name} pokes {-depth / MM:.2f} mm through the skin at {np.round(where / MM, 1)} mm"


def test_every_pair_of_mouth_keys_at_full_weight_stays_behind_the_skin(view):
    pokes = []
    for first, second in itertools.combinations_with_replacement(MOUTH_KEYS, 2):
        depth, where = view.worst({first: 1.0} if first == second else {first: 1.0, second: 1.0})
        if depth <= MARGIN:
            pokes.append(f"{first}+{second}: {depth / MM:.2f} mm at {np.round(where / MM, 1)}")
    assert not pokes, "inner mouth through the skin: " + "; ".join(pokes)


def test_a_full_closure_with_any_other_mouth_key_stays_behind_the_skin(view):
    closure = {"LipsUpperClose": 1.0, "LipsLowerClose": 1.0, "ChinLowerRaise": 1.0}
    for key in MOUTH_KEYS:
        depth, where = view.worst(dict(closure, **{key: 1.0}))
        assert depth > MARGIN, f"M/B/P + {key}: {depth / MM:.2f} mm at {np.round(where / MM, 1)} mm"


def test_the_measure_sees_a_poke(view):
    """The old tongue (tip 4 mm behind the lip seam) came through under the lower lip on M/B/P."""
    tongue = view.rest[view.inner, 2] < -0.050
    shifted = ViewDepth.__new__(ViewDepth)
    shifted.__dict__.update(view.__dict__)
    shifted.rest = view.rest.copy()
    shifted.rest[view.inner[tongue], 1] -= 0.0095  # 9.5 mm forward, where the old tongue's tip was
    depth, _ = shifted.worst({"LipsUpperClose": 1.0, "LipsLowerClose": 1.0, "ChinLowerRaise": 1.0})
    assert depth < 0.0
