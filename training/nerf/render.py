"""Rays from a pinhole camera, their span inside the head's box, stratified samples, and volume compositing.

Cameras follow Blender's convention: the camera looks along its local -Z with +Y up, `camera_to_world` is its
4 x 4 matrix_world, and image rows run from the top. Intrinsics are (fx, fy, cx, cy) in pixels, rays pass
through pixel centres. Compositing is the NeRF quadrature: alpha_i = 1 - exp(-sigma_i delta_i),
T_i = prod_{j<i} (1 - alpha_j), w_i = T_i alpha_i, C = sum w_i c_i + (1 - sum w_i) background.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MIN_DIRECTION = 1e-9  # keeps 1 / direction finite for rays parallel to a face of the box


def pixel_rays(intrinsics: torch.Tensor, camera_to_world: torch.Tensor, rows: torch.Tensor,
               columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Origins and unit directions (R, 3) of the rays through pixels (rows, columns), each ray with its own
    (R, 4) intrinsics and (R, 4, 4) camera (or one of each, broadcast)."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    x = (columns.to(fx.dtype) + 0.5 - cx) / fx
    y = -(rows.to(fy.dtype) + 0.5 - cy) / fy
    local = torch.stack([x, y, -torch.ones_like(x)], dim=-1)
    rotation = camera_to_world[..., :3, :3]
    directions = (rotation @ local[..., None])[..., 0]
    directions = directions / directions.norm(dim=-1, keepdim=True)
    origins = camera_to_world[..., :3, 3].expand_as(directions)
    return origins, directions


def image_rays(intrinsics: torch.Tensor, camera_to_world: torch.Tensor, height: int,
               width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All rays of one (height x width) image, row by row: (H * W, 3) origins and directions."""
    device = intrinsics.device
    rows, columns = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device),
                                   indexing="ij")
    return pixel_rays(intrinsics, camera_to_world, rows.reshape(-1), columns.reshape(-1))


def project_points(intrinsics: np.ndarray, camera_to_world: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(..., 2) pixel (column, row) positions of world points (..., 3), in the index units of `pixel_rays`
    (the pixel whose ray passes through a point is its position rounded)."""
    local = (np.c_[np.reshape(points, (-1, 3)), np.ones(int(np.prod(np.shape(points)[:-1])))]
             @ np.linalg.inv(camera_to_world).T)
    fx, fy, cx, cy = intrinsics
    depth = -local[:, 2]
    columns = cx + fx * local[:, 0] / depth - 0.5
    rows = cy - fy * local[:, 1] / depth - 0.5
    return np.stack([columns, rows], axis=-1).reshape(*np.shape(points)[:-1], 2)


def ray_box(origins: torch.Tensor, directions: torch.Tensor, box_min: torch.Tensor,
            box_max: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slab intersection with an axis-aligned box: (near, far, hit), each (R,). A ray that starts inside
    has near 0; a ray that misses (or meets the box only behind its origin) has hit False and near = far."""
    safe = torch.where(directions.abs() < MIN_DIRECTION, torch.full_like(directions, MIN_DIRECTION), directions)
    to_min, to_max = (box_min - origins) / safe, (box_max - origins) / safe
    near = torch.minimum(to_min, to_max).amax(dim=-1).clamp_min(0.0)
    far = torch.maximum(to_min, to_max).amin(dim=-1)
    hit = far > near
    far = torch.where(hit, far, near)
    return near, far, hit


def sample_depths(near: torch.Tensor, far: torch.Tensor, samples: int,
                  jitter: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratified depths (R, S) in equal bins between near and far (a uniform draw inside each bin when
    `jitter`, its middle otherwise), and each sample's interval delta (R, S): its bin's width."""
    bins = torch.arange(samples, dtype=near.dtype, device=near.device)
    offset = torch.rand(*near.shape, samples, dtype=near.dtype, device=near.device) if jitter else 0.5
    width = (far - near) / samples
    depths = near[:, None] + (bins + offset) * width[:, None]
    return depths, width[:, None].expand_as(depths)


@dataclass
class Composite:
    rgb: torch.Tensor      # (R, 3)
    depth: torch.Tensor    # (R,)  expected depth sum w_i t_i (0 where nothing is hit)
    opacity: torch.Tensor  # (R,)  accumulated alpha sum w_i
    weights: torch.Tensor  # (R, S)


def composite(sigmas: torch.Tensor, colours: torch.Tensor, depths: torch.Tensor, deltas: torch.Tensor,
              background: torch.Tensor) -> Composite:
    """Volume rendering of (R, S) densities and (R, S, 3) colours over a background colour (3,)."""
    optical = sigmas * deltas
    before = torch.cumsum(optical, dim=-1) - optical  # sum over the samples in front of each one
    transmittance = torch.exp(-before)
    weights = transmittance * (1.0 - torch.exp(-optical))
    opacity = weights.sum(dim=-1)
    rgb = (weights[..., None] * colours).sum(dim=-2) + (1.0 - opacity)[..., None] * background
    return Composite(rgb=rgb, depth=(weights * depths).sum(dim=-1), opacity=opacity, weights=weights)
