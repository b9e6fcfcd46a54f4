"""A software renderer for face crops: z-buffered triangles, Gouraud-lit, in numpy.

It draws the 96x96 face crop (or its lower half, what the lip-sync expert sees) of a head with linear
shape keys, about a thousand frames a second on one core: fast enough to score a take without Blender.
The crop follows Wav2Lip's face box: the jaw and brow landmarks' bounds, padded 10% below the chin,
scaled to 96x96.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from .facemesh import FaceMesh

try:  # the command line has numba (librosa needs it); Blender's Python does not
    from .raster_jit import rasterize as _compiled_rasterize
except ImportError:
    _compiled_rasterize = None

CROP_SIZE = 96
FACE_OUTLINE = tuple(range(27))  # jaw 0-16 and brows 17-26
CHIN_PAD = 0.10
FRAMES_PER_CHUNK = 16
WINDOW_CLASSES = (1, 2, 4, 8, 16, 32, 64, 128)
MARGIN_PX = 6  # triangles whose rest centroid is this close to the crop are drawn (larger ones are rare)


@dataclass(frozen=True)
class Camera:
    world_to_camera: np.ndarray  # [4, 4], OpenCV axes (x right, y down, z forward)
    intrinsics: np.ndarray  # [3, 3] pinhole, pixels of the full frame

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """([..., 2] pixels, [..., 1] depth) of [..., 3] world points."""
        rotation, translation = self.world_to_camera[:3, :3], self.world_to_camera[:3, 3]
        flat = np.asarray(points, dtype=np.float32).reshape(-1, 3)  # one BLAS call, not one per frame
        camera = flat @ rotation.T.astype(np.float32) + translation.astype(np.float32)
        pixels = camera @ self.intrinsics.T.astype(np.float32)
        shape = np.shape(points)[:-1]
        return (pixels[:, :2] / pixels[:, 2:3]).reshape(*shape, 2), camera[:, 2:3].reshape(*shape, 1)


@dataclass(frozen=True)
class Lighting:
    """Directional lights in camera space (x right, y down, z into the scene), plus ambient."""
    directions: tuple[tuple[float, float, float], ...] = ((-0.45, -0.55, 0.70), (0.6, -0.1, 0.8))
    strengths: tuple[float, ...] = (0.75, 0.30)
    ambient: float = 0.28
    background: tuple[float, float, float] = (0.05, 0.055, 0.06)  # linear RGB
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class CropBox:
    """A face box in full-frame pixels (x0, y0, x1, y1) and which rows of its 96x96 crop to draw."""
    x0: float
    y0: float
    x1: float
    y1: float
    rows: tuple[int, int] = (CROP_SIZE // 2, CROP_SIZE)  # the lower half

    def to_crop(self, pixels: np.ndarray) -> np.ndarray:
        """Full-frame pixels to crop pixels of the drawn rows."""
        scale = np.array([CROP_SIZE / (self.x1 - self.x0), CROP_SIZE / (self.y1 - self.y0)], dtype=np.float32)
        return (pixels - np.array([self.x0, self.y0], dtype=np.float32)) * scale - np.array(
            [0.0, self.rows[0]], dtype=np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0], CROP_SIZE


def face_box(landmarks2d: np.ndarray, rows: tuple[int, int] = (CROP_SIZE // 2, CROP_SIZE)) -> CropBox:
    """The face box of [68, 2] (or [T, 68, 2], the union) pixel landmarks: jaw and brows, chin padded."""
    outline = np.asarray(landmarks2d, dtype=np.float64).reshape(-1, 68, 2)[:, FACE_OUTLINE].reshape(-1, 2)
    x0, y0 = outline.min(axis=0)
    x1, y1 = outline.max(axis=0)
    return CropBox(float(x0), float(y0), float(x1), float(y1 + CHIN_PAD * (y1 - y0)), rows)


@dataclass
class FaceRenderer:
    """Renders crops of one mesh through one camera; build once per take, then call `render`.

    The crop box is the rest pose's face box (from the landmarks), unless `face` gives one; a mesh without
    landmarks gets one guessed from what its mouth keys move (backend/unmarked_face.py). Only
    triangles near the drawn rows are kept.
    """
    mesh: FaceMesh
    camera: Camera
    lighting: Lighting = field(default_factory=Lighting)
    rows: tuple[int, int] = (CROP_SIZE // 2, CROP_SIZE)
    supersample: int = 1  # 2 draws 4x the samples and averages them: smoother edges, 3.5x the time
    face: CropBox | None = None  # the face box in frame pixels, for heads without landmarks

    def __post_init__(self) -> None:
        if self.face is not None:
            self.box = CropBox(self.face.x0, self.face.y0, self.face.x1, self.face.y1, self.rows)
        elif len(self.mesh.landmark_indices) == 0:  # a head without landmarks (backend/unmarked_face.py)
            from .unmarked_face import face_box_from_motion

            self.box = face_box_from_motion(self.mesh, self.camera, self.rows)
        else:
            rest = np.zeros((1, len(self.mesh.channels)), dtype=np.float32)
            self.box = face_box(self.camera.project(self.mesh.landmarks(rest))[0], self.rows)
        self.mesh = self.mesh.subset(self._near_crop(self.mesh, self.box))
        rest = self.mesh.positions[None]
        self._rest_normals = vertex_normals(rest, self.mesh.triangles)[0]
        self._key_normals = vertex_normals(rest + self.mesh.deltas, self.mesh.triangles) - self._rest_normals[None]

    def _near_crop(self, mesh: FaceMesh, box: CropBox) -> np.ndarray:
        """Triangles whose rest centroid is within a few pixels of the crop (the crop holds the moving parts)."""
        centroid = box.to_crop(self.camera.project(mesh.positions)[0])[mesh.triangles].mean(axis=1)
        height, width = box.shape
        margin = MARGIN_PX
        return ((centroid[:, 0] > -margin) & (centroid[:, 0] < width + margin)
                & (centroid[:, 1] > -margin) & (centroid[:, 1] < height + margin))

    def render(self, weights: np.ndarray) -> np.ndarray:
        """uint8 [T, rows, 96, 3]: the crop of each frame of [T, K] weights."""
        values = np.asarray(weights, dtype=np.float32).reshape(-1, len(self.mesh.channels))
        chunks = [self._render_chunk(values[i:i + FRAMES_PER_CHUNK], self.box)
                  for i in range(0, len(values), FRAMES_PER_CHUNK)]
        return np.concatenate(chunks) if chunks else np.zeros((0, *self.box.shape, 3), dtype=np.uint8)

    def _render_chunk(self, weights: np.ndarray, box: CropBox) -> np.ndarray:
        s = self.supersample
        height, width = box.shape[0] * s, box.shape[1] * s
        vertices = self.mesh.vertices(weights)
        pixels, depth = self.camera.project(vertices)
        xy = box.to_crop(pixels) * s
        light = self._vertex_light(weights, vertices)
        triangle, bary = rasterize(xy, depth[..., 0], self.mesh.triangles, height, width)
        image = shade(triangle, bary, light, self.mesh.triangles, self.mesh.face_colour, self.lighting)
        image = image.reshape(len(weights), height // s, s, width // s, s, 3).mean(axis=(2, 4))
        return encode_srgb(image)

    def _vertex_light(self, weights: np.ndarray, vertices: np.ndarray) -> np.ndarray:
        """[T, V] light intensity at each vertex (two-sided Lambert in camera space + ambient).

        Normals blend linearly with the weights (the rest normals plus each key's change at weight 1), which
        is close for the small bends of a face and costs a fraction of recomputing them per frame.
        """
        frames, n_vertices = vertices.shape[:2]
        rotation = self.camera.world_to_camera[:3, :3].astype(np.float32)
        normals = self._rest_normals[None] + np.tensordot(weights, self._key_normals, axes=1)
        normals = normals.reshape(-1, 3) @ rotation.T  # flat: one BLAS call rather than T small ones
        normals /= np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)
        camera_space = vertices.reshape(-1, 3) @ rotation.T + self.camera.world_to_camera[:3, 3].astype(np.float32)
        towards_viewer = np.where(np.einsum("nd,nd->n", normals, camera_space) > 0, -1.0, 1.0).astype(np.float32)
        intensity = np.full(len(normals), self.lighting.ambient, dtype=np.float32)
        for direction, strength in zip(self.lighting.directions, self.lighting.strengths):
            towards_light = -np.asarray(direction, dtype=np.float32)
            towards_light /= np.linalg.norm(towards_light)
            intensity += strength * np.maximum(towards_viewer * (normals @ towards_light), 0.0)
        intensity = intensity.reshape(frames, n_vertices)
        return intensity


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """[T, V, 3] unit normals: the area-weighted mean of the adjacent triangles' normals."""
    frames, n_vertices = vertices.shape[:2]
    a, b, c = (vertices[:, triangles[:, k]] for k in range(3))
    face_normals = np.cross(b - a, c - a)  # [T, F, 3], length = twice the area
    slots = (np.arange(frames)[:, None, None] * n_vertices + triangles[None]).ravel()  # [T, F, 3] corners
    corner_normals = np.broadcast_to(face_normals[:, :, None, :], (frames, len(triangles), 3, 3)).reshape(-1, 3)
    normals = np.stack([np.bincount(slots, corner_normals[:, axis], minlength=frames * n_vertices)
                        for axis in range(3)], axis=-1)
    normals = normals.reshape(frames, n_vertices, 3).astype(np.float32)
    return normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)


def rasterize(xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, height: int, width: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered coverage of pixel centres. xy [T, V, 2] raster pixels, depth [T, V].

    Returns the nearest triangle at each pixel ([T, H, W], -1 for none) and its barycentric weights
    ([T, H, W, 3]): compiled with numba where it is installed, in numpy otherwise.
    """
    if _compiled_rasterize is not None:
        return _compiled_rasterize(xy, depth, triangles, height, width)
    return rasterize_numpy(xy, depth, triangles, height, width)


def rasterize_numpy(xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, height: int, width: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """`rasterize` in numpy: triangles grouped by bounding-box size, each group testing a fixed window."""
    frames = xy.shape[0]
    corners = xy[:, triangles]  # [T, F, 3, 2]
    lo = np.clip(np.ceil(corners.min(axis=2) - 0.5), 0, [width, height]).astype(np.int32)
    hi = np.clip(np.floor(corners.max(axis=2) - 0.5), -1, [width - 1, height - 1]).astype(np.int32)
    extent = (hi - lo + 1).max(axis=-1)  # [T, F]
    frame_index, tri_index = np.nonzero(extent > 0)
    extent = extent[frame_index, tri_index]
    pixel_keys, depths, owners, barys = [], [], [], []
    for window in WINDOW_CLASSES:
        smaller = window // 2
        chosen = (extent > smaller) & ((extent <= window) | (window == WINDOW_CLASSES[-1]))
        if not chosen.any():
            continue
        f, t = frame_index[chosen], tri_index[chosen]
        found = _cover(corners[f, t], depth[f[:, None], triangles[t]], lo[f, t], hi[f, t],
                       min(window, max(height, width)))
        sample, px, py, z, bary = found
        pixel_keys.append((f[sample].astype(np.int64) * height + py) * width + px)
        depths.append(z)
        owners.append(t[sample])
        barys.append(bary)
    triangle = np.full(frames * height * width, -1, dtype=np.int64)
    weights = np.zeros((frames * height * width, 3), dtype=np.float32)
    if pixel_keys:
        keys, z = np.concatenate(pixel_keys), np.concatenate(depths)
        z_span = max(float(z.max() - z.min()), 1e-9)
        order = np.argsort(keys + 0.5 * (z - z.min()) / z_span)  # by pixel, then nearest first
        keys = keys[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        nearest = order[first]
        triangle[keys[first]] = np.concatenate(owners)[nearest]
        weights[keys[first]] = np.concatenate(barys)[nearest]
    return triangle.reshape(frames, height, width), weights.reshape(frames, height, width, 3)


def _cover(corners: np.ndarray, corner_depth: np.ndarray, lo: np.ndarray, hi: np.ndarray, window: int):
    """Pixel centres inside each triangle, testing a window x window block from its box's corner."""
    offsets = np.arange(window, dtype=np.int32)
    px = lo[:, 0:1, None] + offsets[None, None, :]  # [N, 1, W]
    py = lo[:, 1:2, None] + offsets[None, :, None]  # [N, W, 1]
    in_box = (px <= hi[:, 0:1, None]) & (py <= hi[:, 1:2, None])
    cx, cy = px.astype(np.float32) + 0.5, py.astype(np.float32) + 0.5
    (x0, y0), (x1, y1), (x2, y2) = ((corners[:, k, 0, None, None], corners[:, k, 1, None, None]) for k in range(3))
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    safe = np.where(np.abs(area) < 1e-9, 1e-9, area)
    b0 = ((x1 - cx) * (y2 - cy) - (x2 - cx) * (y1 - cy)) / safe
    b1 = ((x2 - cx) * (y0 - cy) - (x0 - cx) * (y2 - cy)) / safe
    b2 = 1.0 - b0 - b1
    inside = in_box & (b0 >= 0) & (b1 >= 0) & (b2 >= 0) & (np.abs(area) >= 1e-9)
    sample, row, col = np.nonzero(inside)
    bary = np.stack([b0[sample, row, col], b1[sample, row, col], b2[sample, row, col]], axis=-1)
    z = (bary * corner_depth[sample]).sum(axis=-1)
    return sample, px[sample, 0, col], py[sample, row, 0], z, bary.astype(np.float32)


def shade(triangle: np.ndarray, bary: np.ndarray, light: np.ndarray, triangles: np.ndarray,
          face_colour: np.ndarray, lighting: Lighting) -> np.ndarray:
    """[T, H, W, 3] linear RGB: each covered pixel's triangle colour times its interpolated light."""
    image = np.empty((*triangle.shape, 3), dtype=np.float32)
    image[:] = np.asarray(lighting.background, dtype=np.float32)
    frame, row, col = np.nonzero(triangle >= 0)
    owner = triangle[frame, row, col]
    corner_light = light[frame[:, None], triangles[owner]]  # [N, 3]
    intensity = (corner_light * bary[frame, row, col]).sum(axis=-1, keepdims=True)
    image[frame, row, col] = face_colour[owner] * intensity * np.asarray(lighting.tint, dtype=np.float32)
    return image


def encode_srgb(linear: np.ndarray) -> np.ndarray:
    value = np.clip(linear, 0.0, 1.0)
    encoded = np.where(value <= 0.0031308, 12.92 * value, 1.055 * np.power(value, 1 / 2.4) - 0.055)
    return np.round(encoded * 255.0).astype(np.uint8)


def look_at_camera(location, target, intrinsics: np.ndarray, focal_scale: float = 1.0) -> Camera:
    """A camera at `location` aimed at `target` with world +Z up, as Blender aims the head's camera."""
    location, target = np.asarray(location, dtype=np.float64), np.asarray(target, dtype=np.float64)
    forward = (target - location) / np.linalg.norm(target - location)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = np.stack([right, down, forward])
    world_to_camera[:3, 3] = -world_to_camera[:3, :3] @ location
    scaled = np.array(intrinsics, dtype=np.float64)
    scaled[0, 0] *= focal_scale
    scaled[1, 1] *= focal_scale
    return Camera(world_to_camera, scaled)
