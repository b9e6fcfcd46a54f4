"""`mouthpiece batch`: animate every line of a folder or manifest; the .blend files in one Blender launch.

The backend work runs on a process pool, one line per task; a line that fails is named in the summary and
the others go on; lines already done (their outputs exist and the done-log lists them) are skipped. Lines
with a head (`blend`, `object`, `start_frame` or `out_blend`) then go into their .blend files in one
Blender run of `blender_addon/batch.py`. The exit code is 1 when any line failed.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .batch import (COLUMNS, STAGE_ANIMATION, STAGE_BLEND, DoneLog, Line, animation_for_blender, parse_shard,
                    read_source, remove_stale_temporaries, shard)
from .errors import InputError, MouthpieceError

REPO_ROOT = Path(__file__).resolve().parents[1]
BLENDER_SCRIPT = REPO_ROOT / "blender_addon" / "batch.py"
REPORT_PREFIX = "mouthpiece-batch: "  # the lines the Blender side prints for this process to show


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch options; every `animate` option is a default for the lines that do not set it."""
    parser.add_argument("source", help="a folder of audio files (same-name .txt = transcript) or a .csv/.json "
                                       f"manifest with the columns {', '.join(COLUMNS)}")
    parser.add_argument("--out-dir", required=True, help="where outputs go (relative manifest outputs too)")
    parser.add_argument("--shard", default="0/1", help="I/N: this machine's share of the lines, 0 <= I < N")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="backend processes")
    parser.add_argument("--blender", help="Blender executable, or a Python with the bpy module, for the lines "
                                          "that go into a .blend (default: $MOUTHPIECE_BLENDER, this Python "
                                          "if it has bpy, else `blender`)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    defaults = parser.add_argument_group("defaults for every line (a manifest column overrides them)")
    defaults.add_argument("--language", default="en")
    defaults.add_argument("--voice")
    defaults.add_argument("--aligner", default="auto", choices=("auto", "pocketsphinx", "dtw"))
    defaults.add_argument("--model", default="phonemes")
    defaults.add_argument("--fps", type=float, default=30.0)
    defaults.add_argument("--strength", type=float, default=1.0)
    defaults.add_argument("--smoothing", type=float, default=0.0, help="seconds")
    defaults.add_argument("--offset", type=float, default=0.0, help="seconds")
    defaults.add_argument("--no-blinks", action="store_true")
    defaults.add_argument("--seed", type=int, default=0)
    defaults.add_argument("--format", default="json", choices=("json", "csv", "npz"),
                          help="animation files written as OUT_DIR/ID.FORMAT")
    defaults.add_argument("--blend", help=".blend holding the head (default: the Mouthpiece head)")
    defaults.add_argument("--object", help="mesh to animate")
    defaults.add_argument("--start-frame", type=int, help="frame where each take starts")
    defaults.add_argument("--channel-map", default="facewarehouse46", choices=("facewarehouse46", "arkit52", "auto"))


def line_defaults(args: argparse.Namespace) -> dict:
    values = {name: getattr(args, name) for name in COLUMNS if getattr(args, name, None) is not None}
    values.pop("id", None)
    return values


@dataclass
class Summary:
    total: int
    in_shard: int
    skipped: list[str] = field(default_factory=list)
    animated: list[str] = field(default_factory=list)
    blended: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def lines(self, shard_text: str) -> list[str]:
        head = (f"batch: {self.in_shard} of {self.total} lines (shard {shard_text}): {len(self.skipped)} done "
                f"earlier, {len(self.animated)} animated, {len(self.blended)} .blend written, "
                f"{len(self.failed)} failed")
        return [head] + [f"failed: {line_id}: {problem}" for line_id, problem in sorted(self.failed.items())]


BlenderStage = Callable[[list[dict], Path, bool, "Report"], dict[str, str]]
Report = Callable[[str], None]


def run_batch(args: argparse.Namespace, blender_stage: BlenderStage | None = None, report: Report | None = None) -> int:
    """Both stages over this shard's lines; prints the summary and returns the exit code."""
    report = report or (lambda text: print(text, file=sys.stderr, flush=True))
    index, count = parse_shard(args.shard)
    out_dir = Path(args.out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "is a file; --out-dir needs a folder")
    lines = read_source(args.source, line_defaults(args), out_dir, args.format)
    mine = shard(lines, index, count)
    if blender_stage is None and any(line.needs_blend for line in mine):
        find_blender(args.blender)  # a wrong --blender is reported before any work
    summary = Summary(total=len(lines), in_shard=len(mine))
    log = DoneLog.for_shard(out_dir, index, count)
    animation_stage(mine, log, out_dir, args, summary, report)
    blend_stage(mine, log, out_dir, args.overwrite, blender_stage or launch_blender(args.blender), summary, report)
    for text in summary.lines(args.shard):
        report(text)
    return 1 if summary.failed else 0


def blend_stage(lines: list[Line], log: DoneLog, out_dir: Path, overwrite: bool, stage: BlenderStage,
                summary: Summary, report: Report) -> None:
    """The .blend files of the lines whose animation is ready, all in one Blender run."""
    finished = log.finished()
    todo = [line for line in lines if line.needs_blend and line.id not in summary.failed
            and not log.is_done(line, STAGE_BLEND, finished)]
    if not todo:
        return
    summary.failed.update(stage([blender_job(line, out_dir) for line in todo], log.path, overwrite, report))
    finished = log.finished()
    summary.blended = [line.id for line in todo if log.is_done(line, STAGE_BLEND, finished)]
    for line in todo:
        if line.id not in summary.blended and line.id not in summary.failed:
            summary.failed[line.id] = "Blender stopped before this line"


def animation_stage(lines: list[Line], log: DoneLog, out_dir: Path, args, summary: Summary, report: Report) -> None:
    from .parallel import map_chunks

    payloads = [{"line": asdict(line), "out_dir": str(out_dir), "log": str(log.path), "overwrite": args.overwrite}
                for line in lines]
    total = len(payloads)
    progress = (lambda fraction, message: report(f"animations: {round(fraction * total)}/{total} lines"))
    for result in map_chunks(animate_job, payloads, max(1, args.workers), progress if total else None):
        if result["status"] == "failed":
            summary.failed[result["id"]] = result["error"]
        else:
            getattr(summary, "skipped" if result["status"] == "skipped" else "animated").append(result["id"])


def animate_job(payload: dict) -> dict:
    """One line's backend work, in a pool worker: never raises, so one bad line stops nothing else."""
    line = Line(**payload["line"])
    log = DoneLog(payload["log"])
    if log.is_done(line, STAGE_ANIMATION):
        return {"id": line.id, "status": "skipped"}
    try:
        animate_line(line, Path(payload["out_dir"]), payload["overwrite"])
    except MouthpieceError as err:
        return {"id": line.id, "status": "failed", "error": str(err)}
    except Exception as err:  # a bug on one line must not take the batch down
        return {"id": line.id, "status": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0]}
    log.record(line, STAGE_ANIMATION)
    return {"id": line.id, "status": "animated"}


def animate_line(line: Line, out_dir: Path, overwrite: bool) -> None:
    """Animate one line and write its outputs; the speech WAV and the animation appear only on success."""
    from .animation import save, save_json
    from .api import AnimateOptions, animate_audio, animate_text
    from .cli import check_writable, read_transcript
    from .fileio import atomic_path
    from .post import PostOptions

    if line.problem:
        raise InputError(None, line.problem)
    for path in line.outputs(STAGE_ANIMATION):
        check_writable(path, overwrite)
        remove_stale_temporaries(path)
    transcript = read_transcript(types.SimpleNamespace(transcript=line.transcript,
                                                       transcript_file=line.transcript_file))
    options = AnimateOptions(
        model=line.model, language=line.language, transcript=transcript, voice=line.voice, aligner=line.aligner,
        fps=line.fps, post=PostOptions(smoothing_s=line.smoothing, strength=line.strength, offset_s=line.offset,
                                       blinks=not line.no_blinks, seed=line.seed))
    if line.audio:
        anim = animate_audio(line.audio, options)
        save(anim, line.out, overwrite=overwrite)
    else:
        with atomic_path(line.speech_out, overwrite) as speech:  # renamed into place only on success
            anim = animate_text(line.text, options, speech)
            save(anim, line.out, overwrite=overwrite)
    if line.needs_blend and animation_for_blender(line, out_dir) != line.out:
        save_json(anim, animation_for_blender(line, out_dir))


def blender_job(line: Line, out_dir: Path) -> dict:
    return {"line": asdict(line), "animation": animation_for_blender(line, out_dir),
            "audio": line.audio or line.speech_out}


def launch_blender(choice: str | None) -> BlenderStage:
    """The Blender stage as one child process: a Blender executable, or a Python with the bpy module."""
    def stage(jobs: list[dict], log_path: Path, overwrite: bool, report: Report) -> dict[str, str]:
        executable = find_blender(choice)
        if executable is None:
            return {job["line"]["id"]: "no Blender found for the .blend; pass --blender PATH" for job in jobs}
        work, name = log_path.parent, log_path.stem.removeprefix("done-")
        jobs_file = work / f"jobs-{name}.json"
        results = work / f"blender-failures-{name}.jsonl"
        results.unlink(missing_ok=True)
        from .fileio import write_text_atomic

        write_text_atomic(jobs_file, json.dumps({"jobs": jobs, "log": str(log_path), "failures": str(results),
                                                 "overwrite": overwrite}))
        report(f"opening Blender for {len(jobs)} .blend files ({executable})")
        returncode, tail = follow_blender(blender_command(executable, jobs_file), work / f"blender-{name}.log",
                                          report)
        failures = read_failures(results)
        if returncode != 0:
            finished = DoneLog(log_path).finished()
            for job in jobs:
                line = Line(**job["line"])
                if line.id not in failures and not DoneLog(log_path).is_done(line, STAGE_BLEND, finished):
                    failures[line.id] = f"Blender stopped before this line (exit code {returncode}: {tail})"
        return failures
    return stage


def find_blender(choice: str | None) -> str | None:
    choice = choice or os.environ.get("MOUTHPIECE_BLENDER")
    if choice:
        found = shutil.which(choice)
        if found is None:
            raise InputError(choice, "Blender not found (--blender takes a Blender executable or a Python with bpy)")
        return found
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    return shutil.which("blender")


def is_python(executable: str) -> bool:
    return re.fullmatch(r"python[0-9.]*(\.exe)?", Path(executable).name) is not None


def blender_command(executable: str, jobs_file: Path) -> list[str]:
    if is_python(executable):
        return [executable, "-m", "blender_addon.batch", "--jobs", str(jobs_file)]
    return [executable, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(BLENDER_SCRIPT),
            "--", "--jobs", str(jobs_file)]


def follow_blender(command: list[str], log_file: Path, report: Report) -> tuple[int, str]:
    """Run Blender with its chatter in `log_file`; show only the lines our script prints for the user."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    last = ""
    with open(log_file, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, errors="replace")
        for text in process.stdout:
            log.write(text)
            if text.startswith(REPORT_PREFIX):
                report(text[len(REPORT_PREFIX):].rstrip())
            elif text.strip():
                last = text.strip()
        process.wait()
    return process.returncode, last[-300:]


def read_failures(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    failures = {}
    for text in path.read_text("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(text)
            failures[entry["id"]] = entry["error"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return failures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mouthpiece batch", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_batch(parser.parse_args(argv))
