"""Run a request in another Python process that speaks JSON lines: an external Python (the `mouthpiece`
venv), or Blender's own Python where Blender's process cannot load the packed wheels."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .backend.animation import Animation, load_json
from .backend.errors import InputError, MouthpieceError
from .generation import GenerateRequest, Progress, check_request

PACKAGE_DIR = Path(__file__).resolve().parent


class Cancelled(Exception):
    """The user stopped the generation."""


def worker_command(python: str) -> list[str]:
    return [python, "-m", f"{PACKAGE_DIR.name}.worker"]


def check_python(python: str) -> None:
    if not python:
        raise InputError(None, "no external Python set: choose one in the Mouthpiece add-on preferences")
    if not Path(python).is_file():
        raise InputError(python, "external Python not found; fix it in the Mouthpiece add-on preferences")


def run_external(python: str, request: GenerateRequest, progress: Progress,
                 cancel: threading.Event | None = None, env: dict | None = None) -> Animation:
    """Send `request` to `python`, relay its progress, and load the Animation it writes."""
    check_python(python)
    check_request(request)
    with tempfile.TemporaryDirectory(prefix="mouthpiece-") as folder:
        out = os.path.join(folder, "animation.json")
        message = json.dumps({"request": request.to_dict(), "out": out}) + "\n"
        process = subprocess.Popen(worker_command(python), cwd=PACKAGE_DIR.parent, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        stderr_tail: list[str] = []
        drain = threading.Thread(target=_keep_tail, args=(process.stderr, stderr_tail), daemon=True)
        drain.start()
        if cancel is not None:
            threading.Thread(target=_kill_on_cancel, args=(process, cancel), daemon=True).start()
        process.stdin.write(message)
        process.stdin.close()
        try:
            result = _follow(process, progress, cancel)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            drain.join(timeout=5)
        if result is None:
            detail = "".join(stderr_tail[-5:]).strip() or f"exit code {process.returncode}"
            raise MouthpieceError(f"external Python {python} stopped without a result: {detail}")
        return load_json(result)


def _kill_on_cancel(process: subprocess.Popen, cancel: threading.Event) -> None:
    while process.poll() is None:
        if cancel.wait(0.1):
            process.kill()
            return


def _follow(process: subprocess.Popen, progress: Progress, cancel: threading.Event | None) -> str | None:
    for line in process.stdout:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        event = _parse(line)
        if event.get("event") == "progress":
            progress(float(event.get("fraction", 0.0)), str(event.get("message", "")))
        elif event.get("event") == "error":
            raise MouthpieceError(event.get("message", "external Python failed"))
        elif event.get("event") == "result":
            return event["path"]
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    return None


def _parse(line: str) -> dict:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}


def _keep_tail(stream, tail: list[str], keep: int = 50) -> None:
    for line in stream:
        tail.append(line)
        del tail[:-keep]


def uses_external(runner: str, python: str, model: str) -> bool:
    """Where a request runs: the user's choice, or in Blender when the model can run there."""
    if runner == "EXTERNAL":
        return True
    if runner == "BLENDER":
        return False
    from .generation import model_availability

    return bool(python) and not model_availability(model)[0]


def blenders_own_python() -> str:
    """The interpreter of the Python Blender embeds (sys.executable can name another one on PATH)."""
    prefix, version = Path(sys.prefix), f"{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (prefix / "bin" / f"python{version}", prefix / "bin" / "python3", prefix / "python.exe",
                      prefix / "bin" / "python.exe", Path(sys.executable)):
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def own_python_env() -> dict:
    """This Python's package folders (the add-on's unpacked wheels, Blender's extension packages) for a worker."""
    folders = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and os.path.isdir(p)]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(folders))


def run_request(request: GenerateRequest, runner: str, python: str, progress: Progress,
                cancel: threading.Event) -> Animation:
    if uses_external(runner, python, request.model):
        return run_external(python, request, progress, cancel)
    from . import site_wheels
    from .generation import run_in_process

    if site_wheels.blender_links_a_clashing_library():  # Blender's own Python, in a process of its own
        return run_external(blenders_own_python(), request, progress, cancel, env=own_python_env())
    return run_in_process(request, progress)
