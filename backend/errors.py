"""Errors the backend raises for bad input: each names the file (or input) and the problem."""
from __future__ import annotations

import os


class MouthpieceError(Exception):
    """Base class: a problem the user can fix, reported as one clear line."""


class InputError(MouthpieceError):
    """Bad user input, e.g. a missing or corrupt audio file."""

    def __init__(self, source: str | os.PathLike | None, problem: str):
        self.source = None if source is None else os.fspath(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)


class ToolError(MouthpieceError):
    """A speech tool (espeak-ng, pocketsphinx, ffmpeg) is missing or failed."""
