"""Batch animation: many lines of dialog from a folder or a CSV/JSON manifest, sharded, resumable.

A line is one row of the manifest: a source (audio or text), the options `mouthpiece animate` takes,
and, for lines that go into a .blend, the head, the object and the start frame. Each finished stage of a
line (its animation, then its .blend) is appended to a small done-log, so a rerun skips it.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .errors import InputError

MANIFEST_SUFFIXES = (".csv", ".json")
FLOAT_FIELDS = ("fps", "strength", "smoothing", "offset")
INT_FIELDS = ("seed", "start_frame")
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "y", "on"), ("0", "false", "no", "n", "off", "")
WORK_FOLDER = ".mouthpiece-batch"
STAGE_ANIMATION, STAGE_BLEND = "animation", "blend"


@dataclass(frozen=True)
class Line:
    """One line of dialog and everything needed to animate it; the field names are the manifest's columns."""

    id: str = ""
    audio: str | None = None
    text: str | None = None
    transcript: str | None = None
    transcript_file: str | None = None
    language: str = "en"
    voice: str | None = None
    aligner: str = "auto"
    model: str = "phonemes"
    fps: float = 30.0
    strength: float = 1.0
    smoothing: float = 0.0
    offset: float = 0.0
    no_blinks: bool = False
    seed: int = 0
    out: str | None = None  # the animation: .json, .csv or .npz (default OUT_DIR/ID.json)
    speech_out: str | None = None  # text lines: the synthesized speech (default OUT_DIR/ID.wav)
    blend: str | None = None  # .blend holding the head (default: the Mouthpiece head)
    object: str | None = None  # mesh to animate (default: the only mesh with shape keys)
    start_frame: int | None = None  # where the take starts (default: the scene's start frame)
    out_blend: str | None = None  # .blend to write; a line with any Blender field gets OUT_DIR/ID.blend
    channel_map: str = "facewarehouse46"
    problem: str | None = None  # why the row cannot run (a bad value); the line fails, the others go on

    @property
    def needs_blend(self) -> bool:
        return bool(self.out_blend)

    @property
    def key(self) -> str:
        """Changes whenever anything about the line changes, so a rerun redoes edited lines."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def outputs(self, stage: str) -> list[str]:
        if stage == STAGE_BLEND:
            return [self.out_blend]
        return [p for p in (self.out, self.speech_out) if p]


COLUMNS = tuple(f.name for f in fields(Line) if f.name != "problem")
BLEND_FIELDS = ("blend", "object", "start_frame", "out_blend")


def read_source(source: str | os.PathLike, defaults: dict, out_dir: str | os.PathLike,
                animation_format: str = "json") -> list[Line]:
    """The lines of a manifest (.csv, .json) or of a folder of audio files, with outputs under `out_dir`
    (animations as ID.`animation_format` unless a row names its `out`)."""
    path = Path(source).resolve()
    if path.is_dir():
        rows, base = folder_rows(path), path
    elif not path.exists():
        raise InputError(path, "manifest not found")
    elif path.suffix.lower() == ".csv":
        rows, base = csv_rows(path), path.parent
    elif path.suffix.lower() == ".json":
        rows, base = json_rows(path), path.parent
    else:
        raise InputError(path, f"unknown manifest format {path.suffix or '(no extension)'!r}; "
                               "give a folder, a .csv or a .json file")
    if not rows:
        raise InputError(path, "holds no lines to animate")
    lines = [resolve_paths(make_line(row, index, defaults), base, Path(out_dir), animation_format)
             for index, row in enumerate(rows)]
    check_unique_ids(lines, path)
    return lines


def folder_rows(folder: Path) -> list[dict]:
    """Every audio file of the folder, with the words from a same-name .txt when there is one."""
    from .audio import SUPPORTED_SUFFIXES

    rows = []
    for audio in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES):
        row = {"id": audio.stem, "audio": str(audio)}
        if audio.with_suffix(".txt").is_file():
            row["transcript_file"] = str(audio.with_suffix(".txt"))
        rows.append(row)
    return rows


def csv_rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            check_columns(reader.fieldnames or [], path)
            return [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]
    except UnicodeDecodeError:
        raise InputError(path, "manifest is not UTF-8 text") from None
    except csv.Error as err:
        raise InputError(path, f"manifest is not valid CSV ({err})") from None


def json_rows(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"manifest is not valid JSON ({err})") from None
    rows = data.get("lines") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(path, 'manifest must be a list of objects, or {"lines": [...]}')
    for row in rows:
        check_columns(row, path)
    return [{k: v for k, v in row.items() if v is not None and v != ""} for row in rows]


def check_columns(names, path: Path) -> None:
    unknown = [n for n in names if n is not None and n.replace("-", "_") not in COLUMNS]
    if unknown:
        raise InputError(path, f"unknown column {unknown[0]!r}; columns are {', '.join(COLUMNS)}")


def make_line(row: dict, index: int, defaults: dict) -> Line:
    """A Line from the CLI defaults overridden by the row; a bad value becomes the line's problem."""
    values = {**defaults, **{k.replace("-", "_"): v for k, v in row.items()}}
    try:
        values = typed(values)
        problem = None
    except ValueError as err:
        values, problem = {k: v for k, v in values.items() if k in ("id", "audio", "text")}, str(err)
    line = Line(**{k: v for k, v in values.items() if k in COLUMNS})
    line = replace(line, id=str(line.id or (Path(line.audio).stem if line.audio else f"line{index + 1:04d}")))
    if bool(line.audio) == bool(line.text) and problem is None:
        problem = "has both audio and text; give one" if line.audio else "has neither audio nor text"
    return replace(line, problem=problem and f"row {index + 1}: {problem}")


def typed(values: dict) -> dict:
    out = dict(values)
    for name in FLOAT_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = parse_number(name, out[name], float)
    for name in INT_FIELDS:
        if out.get(name) is not None and not isinstance(out[name], int):
            out[name] = parse_number(name, out[name], int)
    if isinstance(out.get("no_blinks"), str):
        word = out["no_blinks"].strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ValueError(f"no_blinks must be true or false, not {out['no_blinks']!r}")
        out["no_blinks"] = word in TRUE_WORDS
    return out


def parse_number(name: str, text, kind):
    try:
        return kind(str(text).strip())
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, not {text!r}") from None


def resolve_paths(line: Line, base: Path, out_dir: Path, animation_format: str = "json") -> Line:
    """Inputs resolve against the manifest's folder, outputs against `out_dir`."""
    def inside(folder: Path, value: str | None) -> str | None:
        return str(folder / value) if value and not os.path.isabs(value) else value

    changes = {name: inside(base, getattr(line, name)) for name in ("audio", "transcript_file", "blend")}
    changes.update({name: inside(out_dir, getattr(line, name)) for name in ("out", "speech_out", "out_blend")})
    changes["out"] = changes["out"] or str(out_dir / f"{line.id}.{animation_format}")
    if line.text and not changes["speech_out"]:
        changes["speech_out"] = str(out_dir / f"{line.id}.wav")
    if not changes["out_blend"] and any(getattr(line, name) is not None for name in BLEND_FIELDS):
        changes["out_blend"] = str(out_dir / f"{line.id}.blend")
    return replace(line, **changes)


def check_unique_ids(lines: list[Line], manifest: Path) -> None:
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if line.id in seen:
            raise InputError(manifest, f"line id {line.id!r} appears in rows {seen[line.id]} and {number}; "
                                       "give every row its own id")
        seen[line.id] = number


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), with 0 <= I < N (e.g. SLURM_ARRAY_TASK_ID / the array size)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(None, f"--shard {text!r}: write it as I/N, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(None, f"--shard {text!r}: need 0 <= I < N")
    return index, count


def in_shard(line_id: str, index: int, count: int) -> bool:
    """A stable hash of the line's id, so every machine agrees with no coordinator and edits to the
    manifest do not move the other lines."""
    return int(hashlib.sha1(line_id.encode("utf-8")).hexdigest(), 16) % count == index


def shard(lines: list[Line], index: int, count: int) -> list[Line]:
    return [line for line in lines if in_shard(line.id, index, count)]


class DoneLog:
    """Append-only JSON lines of finished stages; every shard writes its own file in the work folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.folder = self.path.parent

    @classmethod
    def for_shard(cls, out_dir: str | os.PathLike, index: int, count: int) -> "DoneLog":
        return cls(Path(out_dir) / WORK_FOLDER / f"done-{index}of{count}.jsonl")

    def finished(self) -> set[tuple[str, str, str]]:
        entries = set()
        for path in sorted(self.folder.glob("done-*.jsonl")) if self.folder.is_dir() else []:
            for text in path.read_text("utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(text)
                    entries.add((entry["id"], entry["key"], entry["stage"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by a kill
        return entries

    def is_done(self, line: Line, stage: str, finished: set | None = None) -> bool:
        entries = self.finished() if finished is None else finished
        return (line.id, line.key, stage) in entries and all(os.path.exists(p) for p in line.outputs(stage))

    def record(self, line: Line, stage: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = json.dumps({"id": line.id, "key": line.key, "stage": stage}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            os.write(fd, entry.encode("utf-8"))  # one write: lines never interleave
        finally:
            os.close(fd)


def remove_stale_temporaries(output: str | os.PathLike) -> None:
    """Delete the temporary files a killed run left beside `output` (the atomic writer's `.NAME.*.part`, and
    the temporaries of a writer given such a temporary)."""
    path = Path(output)
    if path.parent.is_dir():
        for stale in [*path.parent.glob(f".{path.name}.*.part"), *path.parent.glob(f"..{path.name}.*.part*")]:
            stale.unlink(missing_ok=True)


def animation_for_blender(line: Line, out_dir: str | os.PathLike) -> str:
    """The Animation JSON the Blender stage reads: the line's own output, or a copy in the work folder."""
    if line.out.lower().endswith(".json"):
        return line.out
    return str(Path(out_dir) / WORK_FOLDER / "animations" / f"{line.id}.json")
