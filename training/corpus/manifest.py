"""The corpus on disk: manifest.jsonl (one utterance a line), splits.json and corpus.json.

A manifest line is appended (flushed and synced) only after every file of its utterance is complete on
disk, so a reader never meets an utterance that is half written. A build killed mid-line leaves at most
one torn last line; `read_manifest` drops it and `repair` rewrites the file without it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from backend.errors import InputError
from backend.fileio import write_text_atomic

MANIFEST = "manifest.jsonl"
SPLITS = "splits.json"
CONFIG = "corpus.json"
SPLIT_NAMES = ("train", "val", "test")
RECORD_KEYS = ("id", "language", "voice", "engine", "split", "text", "duration_s", "sample_rate", "audio",
               "labels", "frames")


def record_is_complete(root: Path, record: dict) -> bool:
    if not isinstance(record, dict) or any(key not in record for key in RECORD_KEYS):
        return False
    paths = [record["audio"], record["labels"]] + ([record["frames"]] if record["frames"] else [])
    return all((root / p).is_file() for p in paths)


def read_manifest(root: str | os.PathLike, strict: bool = False) -> list[dict]:
    """The complete records of `root`'s manifest; torn or incomplete lines are skipped (or, with
    `strict`, reported as an InputError naming the file and line)."""
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        if strict:
            raise InputError(path, "no manifest here; is this a corpus folder?")
        return []
    records = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        record = _parse(line)
        if record is not None and record_is_complete(root, record):
            records.append(record)
        elif strict and line.strip():
            raise InputError(path, f"line {number} is not a complete utterance record")
    return records


def _parse(line: str) -> dict | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def rewrite(root: str | os.PathLike, records: list[dict]) -> None:
    """Replace the manifest atomically with `records`, sorted by id."""
    lines = [json.dumps(r, ensure_ascii=False) for r in sorted(records, key=lambda r: r["id"])]
    write_text_atomic(Path(root) / MANIFEST, "".join(line + "\n" for line in lines))


def repair(root: str | os.PathLike) -> list[dict]:
    """Keep only complete records (dropping a torn last line or duplicates) and return them."""
    path = Path(root) / MANIFEST
    records = read_manifest(root)
    unique = list({r["id"]: r for r in records}.values())
    if path.is_file() and len(path.read_text("utf-8").splitlines()) != len(unique):
        rewrite(root, unique)
    return unique


class ManifestAppender:
    """Appends one record a line and makes it durable before returning."""

    def __init__(self, root: str | os.PathLike):
        self.handle = open(Path(root) / MANIFEST, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> "ManifestAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_json(path: str | os.PathLike, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON ({err})") from None


def read_splits(root: str | os.PathLike) -> dict[str, list[str]]:
    splits = read_json(Path(root) / SPLITS)
    if set(splits) != set(SPLIT_NAMES):
        raise InputError(Path(root) / SPLITS, f"expected the keys {', '.join(SPLIT_NAMES)}")
    return splits
