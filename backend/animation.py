"""The Animation type and its file formats (JSON contract, CSV, NPZ)."""
from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .fileio import atomic_path, write_text_atomic

FORMAT = "mouthpiece.animation"
VERSION = 1
KINDS = ("blendshape", "landmarks")
# Shape-key channels a landmark animation may carry beside its landmarks: weights in [0, 1], keyed as they are.
BLINK_CHANNELS = ("EyeBlink_L", "EyeBlink_R")


@dataclass
class Animation:
    """Frames x channels of values at a fixed fps; `kind` says how to read the channels."""

    fps: float
    channels: list[str]
    values: np.ndarray
    kind: str = "blendshape"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.channels = list(self.channels)
        self.values = np.asarray(self.values, dtype=np.float32).reshape(-1, len(self.channels))
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"fps must be a positive number, not {self.fps!r}")

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def channel(self, name: str) -> np.ndarray:
        return self.values[:, self.channels.index(name)]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "fps": float(self.fps), "kind": self.kind,
                "channels": self.channels,
                "values": [[round(float(v), 5) for v in row] for row in self.values],
                "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict, source: str | os.PathLike | None = None) -> "Animation":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(source, f"not a Mouthpiece animation (expected format {FORMAT!r})")
        if data.get("version") != VERSION:
            raise InputError(source, f"unsupported animation version {data.get('version')!r}")
        try:
            channels = [str(c) for c in data["channels"]]
            values = np.asarray(data["values"], dtype=np.float32)
            fps = float(data["fps"])
            kind = data.get("kind", "blendshape")
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(source, f"malformed animation: {err}") from None
        if values.size == 0:
            values = values.reshape(0, len(channels))
        if values.ndim != 2 or values.shape[1] != len(channels):
            raise InputError(source, f"values are {values.shape}, expected rows of {len(channels)} channels")
        if not np.isfinite(values).all():
            raise InputError(source, "values contain NaN or infinity")
        try:
            return cls(fps=fps, channels=channels, values=values, kind=kind, meta=dict(data.get("meta") or {}))
        except ValueError as err:
            raise InputError(source, str(err)) from None


def split_weight_channels(anim: Animation) -> tuple[Animation, list[str], np.ndarray]:
    """(the landmark channels alone, the names and [T, n] values of the shape-key channels beside them) of a
    landmark animation; landmark animations without such channels come back whole with none."""
    direct = [i for i, name in enumerate(anim.channels) if name in BLINK_CHANNELS]
    keep = [i for i in range(len(anim.channels)) if i not in direct]
    landmarks = Animation(anim.fps, [anim.channels[i] for i in keep], anim.values[:, keep], anim.kind, anim.meta)
    return landmarks, [anim.channels[i] for i in direct], anim.values[:, direct]


def save_json(anim: Animation, path: str | os.PathLike, overwrite: bool = True) -> None:
    write_text_atomic(path, json.dumps(anim.to_dict(), separators=(",", ":")), overwrite)


def load_json(path: str | os.PathLike) -> Animation:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"not valid JSON ({err})") from None
    return Animation.from_dict(data, path)


def save_csv(anim: Animation, path: str | os.PathLike, overwrite: bool = True) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["frame", "time_s", *anim.channels])
    for i, row in enumerate(anim.values):
        writer.writerow([i, f"{i / anim.fps:.5f}", *(f"{v:.5f}" for v in row)])
    write_text_atomic(path, buffer.getvalue(), overwrite)


def save_npz(anim: Animation, path: str | os.PathLike, overwrite: bool = True) -> None:
    with atomic_path(path, overwrite) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, values=anim.values, channels=np.array(anim.channels),
                                fps=np.float32(anim.fps), kind=np.array(anim.kind),
                                meta=np.array(json.dumps(anim.meta)))


WRITERS = {".json": save_json, ".csv": save_csv, ".npz": save_npz}


def save(anim: Animation, path: str | os.PathLike, overwrite: bool = True) -> None:
    """Write by extension: .json (the contract), .csv or .npz."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        raise InputError(path, f"unknown animation format {suffix!r}; use one of {', '.join(WRITERS)}")
    WRITERS[suffix](anim, path, overwrite)
