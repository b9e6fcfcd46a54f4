"""Add-on preferences, keyed by the package name (which differs between extension and legacy installs)."""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

ADDON_PACKAGE = __package__
RUNNER_ITEMS = (
    ("AUTO", "Automatic", "In Blender when the model runs here, otherwise in the external Python"),
    ("BLENDER", "Blender", "Always in Blender's own Python (torch-free models only)"),
    ("EXTERNAL", "External Python", "Always in the external Python set below"),
)


def default_python() -> str:
    """The project's venv when the add-on runs from a checkout; otherwise nothing."""
    candidate = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
    return str(candidate) if candidate.is_file() else ""


class MOUTHPIECE_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    runner: EnumProperty(name="Run Models In", items=RUNNER_ITEMS, default="AUTO")
    external_python: StringProperty(name="External Python", subtype="FILE_PATH", default=default_python(),
                                    description="A Python with the mouthpiece package's dependencies "
                                                "(torch for the learned models), e.g. the project's .venv")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "runner")
        layout.prop(self, "external_python")
        if self.runner != "BLENDER" and self.external_python and not Path(self.external_python).is_file():
            layout.label(text="External Python not found", icon="ERROR")


def preferences(context=None) -> MOUTHPIECE_AP_preferences | None:
    addon = (context or bpy.context).preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon else None


def runner_and_python(context=None) -> tuple[str, str]:
    prefs = preferences(context)
    if prefs is None:
        return "AUTO", default_python()
    return prefs.runner, bpy.path.abspath(prefs.external_python) if prefs.external_python else ""


classes = (MOUTHPIECE_AP_preferences,)
register, unregister = bpy.utils.register_classes_factory(classes)
