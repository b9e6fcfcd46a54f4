"""The panel's word on where the chosen model runs: a model this Blender cannot run, with no external
Python set, gets a note and a button to the add-on preferences."""
from __future__ import annotations

import sys
from pathlib import Path

from . import site_wheels
from .preferences import ADDON_PACKAGE, runner_and_python

_CACHE: dict[tuple, tuple[bool, str]] = {}


def runs_in_blender(model: str) -> tuple[bool, str]:
    """Whether `model` runs in Blender's Python, and why not; cached (the panel redraws often)."""
    key = (model, tuple(sys.path))
    if key not in _CACHE:
        from .generation import model_availability

        _CACHE[key] = model_availability(model)
    return _CACHE[key]


def external_python_ready(runner: str, python: str) -> bool:
    return runner != "BLENDER" and bool(python) and Path(python).is_file()


def draw_runtime_note(layout, context, model: str) -> None:
    if site_wheels.needed():  # the wheels unpack on the first Generate; until then nothing is known
        return
    runner, python = runner_and_python(context)
    usable, why = runs_in_blender(model)
    if usable or external_python_ready(runner, python):
        return
    column = layout.column(align=True)
    column.label(text=f"{model} needs an external Python here", icon="ERROR")
    column.label(text=why)
    column.operator("preferences.addon_show", text="Set External Python", icon="PREFERENCES").module = ADDON_PACKAGE
