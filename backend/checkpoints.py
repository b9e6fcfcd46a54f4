"""Checkpoints: tensors in a safetensors file plus a JSON file (family, config, step, metrics).

A checkpoint NAME is the pair NAME.safetensors and NAME.json. Each file is written atomically and
the JSON goes last, carrying the SHA-256 of the tensor file, so a checkpoint exists exactly when its
JSON exists and a kill at any moment leaves either the old pair or the new one. Never pickle.

Reading needs numpy only: `safetensors.numpy` where it is installed, else a reader of the format's
documented layout (8-byte little-endian header size, JSON header, raw little-endian data), because
Blender's Python carries numpy but not safetensors.

Loading checks a checkpoint once, here, for every family: a truncated file, NaN or infinite weights, and,
given the family's `Layout` (config -> tensor names and shapes), a missing config field, a missing or
extra tensor or a shape its config does not call for, each as one InputError naming the file.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

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


# A family's layout: its JSON config -> the name and shape of every tensor a checkpoint of it holds. It may
# raise KeyError (a config field is missing) or ValueError/TypeError (a field's value is not usable).
Layout = Callable[[dict], "dict[str, tuple[int, ...]]"]
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def load(stem: str | os.PathLike, verify: bool = True, family: str | None = None,
         layout: Layout | None = None) -> Checkpoint:
    """Read a checkpoint pair; raises InputError naming the file and what is wrong with it.

    Every float tensor must be finite. With `family`, the checkpoint must be of that family; with
    `layout`, its tensors must be exactly the ones the layout derives from its config, in those shapes.
    """
    stem = stem_of(stem)
    record = read_record(stem)
    tensor_path, json_path = paths(stem)
    if family is not None and record["family"] != family:
        raise InputError(json_path, f"holds a {record['family']!r} model, not {family!r}")
    if not tensor_path.is_file():
        raise InputError(tensor_path, "checkpoint tensors missing")
    check_complete(tensor_path)
    if verify and sha256(tensor_path) != record.get("sha256"):
        raise InputError(tensor_path, "checkpoint tensors do not match their JSON (incomplete or replaced)")
    tensors = read_tensors(tensor_path)
    check_finite(tensor_path, tensors)
    if layout is not None:
        check_layout(tensor_path, tensors, expected_shapes(json_path, record["config"], layout))
    return Checkpoint(tensors=tensors, family=record["family"], config=record["config"],
                      step=int(record.get("step", 0)), metrics=record.get("metrics", {}),
                      extra=record.get("extra", {}))


def stem_of(path: str | os.PathLike) -> Path:
    """The checkpoint NAME for NAME, NAME.json or NAME.safetensors; a pickle is refused unopened."""
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        return path.with_suffix("")
    if path.suffix.lower() in PICKLE_SUFFIXES and not paths(path)[1].is_file():
        raise InputError(path, "pickle and torch files are never loaded (they can run code); "
                               "give a NAME.safetensors + NAME.json checkpoint")
    return path


def expected_shapes(json_path: Path, config: dict, layout: Layout) -> dict[str, tuple[int, ...]]:
    try:
        return {name: tuple(int(n) for n in shape) for name, shape in layout(config).items()}
    except KeyError as err:
        raise InputError(json_path, f"checkpoint config lacks the field {err.args[0]!r}") from None
    except (ValueError, TypeError, AttributeError) as err:
        raise InputError(json_path, f"checkpoint config is not usable ({err})") from None


def check_layout(path: Path, tensors: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]]) -> None:
    """The tensors are exactly the expected ones, in the expected shapes."""
    missing = [name for name in expected if name not in tensors]
    if missing:
        raise InputError(path, f"lacks the tensor{'s' * (len(missing) > 1)} {', '.join(missing)} "
                               "that its config calls for")
    unexpected = sorted(name for name in tensors if name not in expected)
    if unexpected:
        raise InputError(path, f"holds tensor{'s' * (len(unexpected) > 1)} its config does not call for: "
                               f"{', '.join(unexpected)}")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise InputError(path, f"tensor {name!r} has shape {tuple(tensors[name].shape)}, but its config "
                                   f"calls for {shape}")


def check_finite(path: Path, tensors: dict[str, np.ndarray]) -> None:
    for name, value in tensors.items():
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise InputError(path, f"tensor {name!r} holds NaN or infinite weights")


def check_complete(path: Path) -> None:
    """The file is as long as its header says: a truncated copy is named as such."""
    header_size, header = read_header(path)
    ends = [info["data_offsets"][1] for name, info in header.items() if name != "__metadata__"]
    needed = 8 + header_size + max(ends, default=0)
    size = path.stat().st_size
    if size < needed:
        raise InputError(path, f"truncated safetensors file ({size} bytes; its header needs {needed})")


def read_header(path: Path) -> tuple[int, dict]:
    """(header size, header) of a safetensors file."""
    with open(path, "rb") as handle:
        head = handle.read(8)
        try:
            (header_size,) = struct.unpack("<Q", head)
        except struct.error:
            raise InputError(path, "not a safetensors file (shorter than its 8-byte header size)") from None
        raw = handle.read(min(header_size, 100_000_000))
    try:
        if len(raw) < header_size:
            raise ValueError(f"header of {header_size} bytes, file holds {len(raw)}")
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        for name, info in header.items():
            if name != "__metadata__":
                start, end = info["data_offsets"]
                if not 0 <= start <= end:
                    raise ValueError(f"tensor {name!r} has bad offsets")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable safetensors file ({err})") from None
    return header_size, header


def read_record(stem: str | os.PathLike) -> dict:
    json_path = paths(stem)[1]
    if not json_path.is_file():
        raise InputError(json_path, "checkpoint not found")
    try:
        record = json.loads(json_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(json_path, f"checkpoint JSON is not valid ({err})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("version") != VERSION:
        raise InputError(json_path, f"not a version-{VERSION} Mouthpiece checkpoint")
    for key in ("family", "config", "sha256"):
        if key not in record:
            raise InputError(json_path, f"checkpoint JSON lacks {key!r}")
    if not isinstance(record["config"], dict):
        raise InputError(json_path, "checkpoint config is not a JSON object")
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
    header_size, header = read_header(Path(path))
    body = memoryview(Path(path).read_bytes())[8 + header_size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in DTYPES:
            raise InputError(path, f"tensor {name!r} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        try:
            tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(info["shape"]).copy()
        except ValueError as err:
            raise InputError(path, f"tensor {name!r} does not fit its stored bytes ({err})") from None
    return tensors
