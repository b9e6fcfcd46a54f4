"""Checkpoints: tensors in a safetensors file plus a JSON file (family, config, step, metrics).

A checkpoint NAME is the pair NAME.safetensors and NAME.json. Each file is written atomically and
the JSON goes last, carrying the SHA-256 of the tensor file, so a checkpoint exists exactly when its
JSON exists and a kill at any moment leaves either the old pair or the new one. Never pickle.

Reading needs numpy only: `safetensors.numpy` where it is installed, else a reader of the format's
documented layout (8-byte little-endian header size, JSON header, raw little-endian data), because
Blender's Python carries numpy but not safetensors.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .fileio import atomic_path, write_text_atomic

FORMAT = "mouthpiece.checkpoint"
VERSION = 1
DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


@dataclass
class Checkpoint:
    """What a checkpoint holds: named arrays and the JSON record."""

    tensors: dict[str, np.ndarray]
    family: str
    config: dict
    step: int = 0
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def paths(stem: str | os.PathLike) -> tuple[Path, Path]:
    """(NAME.safetensors, NAME.json) for a checkpoint named by its path without suffix."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save(stem: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write the pair atomically (tensors first, JSON last); returns the JSON path."""
    from safetensors.numpy import save_file

    tensor_path, json_path = paths(stem)
    arrays = {name: np.array(value, order="C", copy=False) for name, value in checkpoint.tensors.items()}
    with atomic_path(tensor_path) as tmp:
        save_file(arrays, str(tmp))
        digest = sha256(tmp)
    metrics = {key: None if isinstance(value, float) and not math.isfinite(value) else value
               for key, value in checkpoint.metrics.items()}  # strict JSON has no NaN
    record = {"format": FORMAT, "version": VERSION, "family": checkpoint.family,
              "config": checkpoint.config, "step": int(checkpoint.step), "metrics": metrics,
              "extra": checkpoint.extra, "tensors": tensor_path.name, "sha256": digest}
    write_text_atomic(json_path, json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return json_path


def load(stem: str | os.PathLike, verify: bool = True) -> Checkpoint:
    """Read a checkpoint pair; raises InputError naming the file and what is wrong with it."""
    record = read_record(stem)
    tensor_path = paths(stem)[0]
    if not tensor_path.is_file():
        raise InputError(tensor_path, "checkpoint tensors missing")
    if verify and sha256(tensor_path) != record.get("sha256"):
        raise InputError(tensor_path, "checkpoint tensors do not match their JSON (incomplete or replaced)")
    return Checkpoint(tensors=read_tensors(tensor_path), family=record["family"], config=record["config"],
                      step=int(record.get("step", 0)), metrics=record.get("metrics", {}),
                      extra=record.get("extra", {}))


def read_record(stem: str | os.PathLike) -> dict:
    json_path = paths(stem)[1]
    if not json_path.is_file():
        raise InputError(json_path, "checkpoint not found")
    try:
        record = json.loads(json_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(json_path, f"checkpoint JSON is not valid ({err})") from None
    if record.get("format") != FORMAT or record.get("version") != VERSION:
        raise InputError(json_path, f"not a version-{VERSION} Mouthpiece checkpoint")
    for key in ("family", "config", "sha256"):
        if key not in record:
            raise InputError(json_path, f"checkpoint JSON lacks {key!r}")
    return record


def remove(stem: str | os.PathLike) -> None:
    """Delete a checkpoint, JSON first so that it stops existing before its tensors go."""
    for path in reversed(paths(stem)):
        path.unlink(missing_ok=True)


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
    except ImportError:
        return read_tensors_numpy(path)
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own SafetensorError for corrupt files
        raise InputError(path, f"not a readable safetensors file ({err})") from None


def read_tensors_numpy(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Parse a safetensors file with numpy only."""
    data = Path(path).read_bytes()
    try:
        (header_size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + header_size])
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"not a readable safetensors file ({err})") from None
    body = memoryview(data)[8 + header_size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in DTYPES:
            raise InputError(path, f"tensor {name!r} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(info["shape"]).copy()
    return tensors
