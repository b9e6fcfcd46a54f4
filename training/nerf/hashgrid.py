"""Multi-resolution 2-D hash-grid encoding (Instant-NGP, Müller et al. 2022) and the tri-plane built from three.

Level l has a grid of N_l cells per side, N_l = floor(base * b ** l) with b chosen so the last level has
`finest` cells; its (N_l + 1)^2 corner vertices index a table of feature vectors. A level whose vertices
fit in the 2^log2_table entries is indexed densely (one entry per vertex); a finer one shares its entries
through the spatial hash (x * 1) XOR (y * 2654435761) mod 2^log2_table. A point's feature at a level is the
bilinear blend of its cell's four corners, and the encoding is all levels' features side by side. The
tables are one parameter, each level a slice of it, initialised uniformly in ±1e-4 as in the paper.
"""
from __future__ import annotations

import math

import torch
from torch import nn

PRIMES = (1, 2654435761)
INIT_SCALE = 1e-4


def level_resolutions(levels: int, base: int, finest: int) -> list[int]:
    """Cells per side of each level: a geometric series from `base` to `finest`."""
    if levels < 1 or base < 1 or finest < base:
        raise ValueError(f"a hash grid needs levels >= 1 and 1 <= base <= finest (got {levels}, {base}, {finest})")
    if levels == 1:
        return [base]
    growth = math.exp((math.log(finest) - math.log(base)) / (levels - 1))
    return [int(math.floor(base * growth ** level + 1e-6)) for level in range(levels)]


class HashGrid2D(nn.Module):
    """(..., 2) points in [0, 1]^2 (clamped) -> (..., levels * features)."""

    def __init__(self, levels: int, features: int, log2_table: int, base: int, finest: int):
        super().__init__()
        self.features = features
        self.resolutions = level_resolutions(levels, base, finest)
        self.table_size = 2 ** log2_table
        sizes = [min((n + 1) ** 2, self.table_size) for n in self.resolutions]
        self.dense = [(n + 1) ** 2 <= self.table_size for n in self.resolutions]
        self.offsets = [0, *torch.tensor(sizes).cumsum(0).tolist()]
        self.tables = nn.Parameter(torch.empty(self.offsets[-1], features).uniform_(-INIT_SCALE, INIT_SCALE))

    @property
    def output_dim(self) -> int:
        return len(self.resolutions) * self.features

    def vertex_index(self, level: int, corner: torch.Tensor) -> torch.Tensor:
        """(..., 2) integer corners of one level -> (...) rows of the shared table."""
        n = self.resolutions[level]
        if self.dense[level]:
            local = corner[..., 0] + corner[..., 1] * (n + 1)
        else:
            local = torch.bitwise_xor(corner[..., 0] * PRIMES[0], corner[..., 1] * PRIMES[1]) % self.table_size
        return local + self.offsets[level]

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        points = points.clamp(0.0, 1.0)
        encoded = []
        for level, n in enumerate(self.resolutions):
            scaled = points * n
            cell = scaled.floor().clamp_max(n - 1)
            fraction = scaled - cell
            cell = cell.long()
            blended = 0.0
            for dx in (0, 1):
                for dy in (0, 1):
                    corner = cell + torch.tensor([dx, dy], device=cell.device)
                    wx = fraction[..., 0] if dx else 1 - fraction[..., 0]
                    wy = fraction[..., 1] if dy else 1 - fraction[..., 1]
                    values = self.tables[self.vertex_index(level, corner)]
                    blended = blended + (wx * wy)[..., None] * values
            encoded.append(blended)
        return torch.cat(encoded, dim=-1)


class TriPlane(nn.Module):
    """(..., 3) points in [0, 1]^3 -> the three planes' encodings at (x, y), (y, z), (x, z), concatenated."""

    PLANES = ((0, 1), (1, 2), (0, 2))

    def __init__(self, levels: int, features: int, log2_table: int, base: int, finest: int):
        super().__init__()
        self.planes = nn.ModuleList(HashGrid2D(levels, features, log2_table, base, finest) for _ in self.PLANES)

    @property
    def output_dim(self) -> int:
        return 3 * self.planes[0].output_dim

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return torch.cat([grid(points[..., list(axes)]) for grid, axes in zip(self.planes, self.PLANES)], dim=-1)
