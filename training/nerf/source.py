"""Ray batches for the shared trainer: each optimizer step draws random pixels from random training frames.

A batch holds `frames_per_step` frames' conditions (landmarks, blink, audio) and `batch_size` rays spread
evenly over them, each ray with its frame's slot, its origin, direction and target colour. The draw is a
function of (seed, draw count), and the draw count is the checkpoint state, so a resumed run continues
exactly as an unbroken one. In the fine stage (`patch`), each step adds a square of rays around the
mouth of some of its frames, whose rendered and true pixels the perceptual term compares. Validation renders the first `val_items` held-out frames whole and gives
their mean squared error (PSNR = -10 log10 of it).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .frames import FrameClip
from .render import pixel_rays, project_points


class RaySource:
    def __init__(self, model, config, train_config, train: FrameClip, val: FrameClip | None, run_dir, is_main):
        self.config, self.train, self.val = config, train, val
        self.rays, self.seed, self.val_items = train_config.batch_size, train_config.seed, train_config.val_items
        self.frames_per_step = max(1, min(config.frames_per_step, self.rays, len(train)))
        self.draws = 0

    def draw(self, index: int) -> dict:
        """The rays of draw number `index`: random pixels of the step's frames, then (in the fine stage)
        a mouth patch of each of its first `patch_frames` frames."""
        rng = np.random.default_rng([self.seed, index, 17])
        clip, count = self.train, self.frames_per_step
        frames = rng.choice(len(clip), size=count, replace=False)
        slot = np.arange(self.rays) % count
        rows = rng.integers(0, clip.height, size=self.rays)
        columns = rng.integers(0, clip.width, size=self.rays)
        patches = min(self.config.patch_frames, count) if self.config.patch else 0
        for k in range(patches):
            patch_rows, patch_columns = self.mouth_patch(frames[k], rng)
            slot = np.r_[slot, np.full(patch_rows.size, k)]
            rows, columns = np.r_[rows, patch_rows], np.r_[columns, patch_columns]
        chosen = frames[slot]
        origins, directions = pixel_rays(torch.from_numpy(clip.intrinsics[chosen]),
                                         torch.from_numpy(clip.cameras[chosen]),
                                         torch.from_numpy(rows), torch.from_numpy(columns))
        target = clip.images[chosen, rows, columns].astype(np.float32) / 255.0
        return {"origins": origins, "directions": directions, "slot": torch.from_numpy(slot),
                "rgb": torch.from_numpy(target), "landmarks": torch.from_numpy(clip.landmarks[frames]),
                "blink": torch.from_numpy(clip.blink[frames]), "audio": torch.from_numpy(clip.audio[frames]),
                "patches": patches}

    def mouth_patch(self, frame: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Row and column indices (side * side, row by row) of a patch around the frame's lips (iBUG 48-67),
        moved up to a quarter of its side at random and kept inside the image."""
        clip, side = self.train, self.config.patch
        centre = project_points(clip.intrinsics[frame], clip.cameras[frame], clip.landmarks[frame, 48:68]).mean(0)
        centre = centre + rng.uniform(-side / 4, side / 4, size=2)
        left = int(np.clip(np.round(centre[0] - side / 2), 0, max(0, clip.width - side)))
        top = int(np.clip(np.round(centre[1] - side / 2), 0, max(0, clip.height - side)))
        patch_rows, patch_columns = np.meshgrid(np.arange(top, top + side), np.arange(left, left + side),
                                                indexing="ij")
        return (np.clip(patch_rows, 0, clip.height - 1).reshape(-1),
                np.clip(patch_columns, 0, clip.width - 1).reshape(-1))

    def batches(self, model):
        while True:
            batch = self.draw(self.draws)
            self.draws += 1
            yield batch

    def after_step(self, loss: float, metrics: dict) -> None:
        pass

    @property
    def epoch(self) -> int:
        """Passes over the training pixels so far."""
        clip = self.train
        return self.draws * self.rays // (len(clip) * clip.height * clip.width)

    @torch.no_grad()
    def validate(self, model) -> tuple[float, float]:
        if self.val is None or not len(self.val):
            return math.nan, math.nan
        total = 0.0
        count = min(len(self.val), self.val_items)
        device = model.box_min.device
        for i in range(count):
            image = render_frame(model, self.val, i, device)
            truth = torch.from_numpy(self.val.images[i].astype(np.float32) / 255.0).to(device)
            total += float(((image - truth) ** 2).mean())
        return total / count, total / count

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {}, {"draws": self.draws}

    def load_state(self, tensors: dict[str, np.ndarray], scalars: dict) -> None:
        self.draws = int(scalars["draws"])


def render_frame(model, clip: FrameClip, i: int, device=torch.device("cpu")) -> torch.Tensor:
    """Frame i of a clip rendered by the model with its own camera and conditions: (H, W, 3) in [0, 1]."""
    def tensor(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(values).to(device)

    condition = model.frame_conditions(tensor(clip.landmarks[i:i + 1]), tensor(clip.blink[i:i + 1]),
                                       tensor(clip.audio[i:i + 1]))[0]
    return model.render_image(tensor(clip.intrinsics[i]), tensor(clip.cameras[i]), clip.height, clip.width, condition)
