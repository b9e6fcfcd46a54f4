"""Mouthpiece backend: dialog in, facial animation out. Never imports bpy.

Imports inside the package are relative so the same tree works as `backend` and, vendored in the
Blender add-on, as `<addon>.backend`.
"""
from pathlib import Path

__version__ = "0.1.0"
DATA_DIR = Path(__file__).resolve().parent / "data"
