"""Mouthpiece for Blender: dialog audio or typed text -> keyframes on a head's shape keys.

Submodules import bpy; they load in `register()`, so the package itself (and its `worker` and
`render` entry points' imports of the vendored backend) import without Blender.
"""
import importlib

bl_info = {
    "name": "Mouthpiece",
    "author": "Mouthpiece contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "3D View > Sidebar > Mouthpiece",
    "description": "Lip sync and facial animation from dialog audio or text, on a head's shape keys",
    "category": "Animation",
}

MODULES = ("properties", "preferences", "operators", "operators_edit", "score_take", "panels", "add_head")


def _modules():
    return [importlib.import_module(f".{name}", __package__) for name in MODULES]


def register():
    from . import site_wheels

    site_wheels.use_site()  # a legacy install's wheels, once unpacked on first use
    for module in _modules():
        module.register()


def unregister():
    for module in reversed(_modules()):
        module.unregister()
