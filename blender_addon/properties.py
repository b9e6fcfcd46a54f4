"""The add-on's settings: one PropertyGroup on each Scene (`scene.mouthpiece`)."""
from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty,
                       PointerProperty, StringProperty)

from .mapping import PRESET_ITEMS

SOURCE_ITEMS = (
    ("AUDIO", "Audio File", "Animate from an audio file (wav, flac, ogg, mp3, or anything Blender plays)"),
    ("STRIP", "Sound Strip", "Animate from a sound strip already in the sequencer"),
    ("TEXT", "Text", "Synthesize speech from typed text and animate it"),
)
_model_items_cache: list = []


def model_items(self, context):
    """Models from the backend's registry (kept alive: Blender needs the strings to stay referenced)."""
    if not _model_items_cache:
        from .backend.models import model_names

        _model_items_cache.extend((name, name, f"Mouthpiece model {name!r}") for name in model_names())
    return _model_items_cache


def is_mesh(self, obj) -> bool:
    return obj.type == "MESH"


class MOUTHPIECE_PG_route(bpy.types.PropertyGroup):
    """One row of the custom channel map: a source channel drives one shape key."""

    source: StringProperty(name="Channel", description="Animation channel, e.g. JawOpen")
    target: StringProperty(name="Shape Key", description="Shape key it drives (empty: drives nothing)")


class MOUTHPIECE_PG_settings(bpy.types.PropertyGroup):
    source: EnumProperty(name="Source", items=SOURCE_ITEMS, default="AUDIO")
    audio_path: StringProperty(name="Audio", subtype="FILE_PATH", description="Dialog audio file")
    sound_strip: StringProperty(name="Strip", description="Sound strip to animate from")
    text: StringProperty(name="Text", description="Line of dialog to speak and animate")
    transcript: StringProperty(name="Transcript", description="Words spoken in the audio (optional, improves sync)")
    language: StringProperty(name="Language", default="en", description="Language code, e.g. en, es, de")
    model: EnumProperty(name="Model", items=model_items, description="Animation model")
    target: PointerProperty(name="Target", type=bpy.types.Object, poll=is_mesh,
                            description="Mesh whose shape keys are animated")
    channel_map: EnumProperty(name="Channel Map", items=PRESET_ITEMS, default="facewarehouse46")
    routes: CollectionProperty(type=MOUTHPIECE_PG_route)
    route_index: IntProperty(name="Route", default=0)
    strength: FloatProperty(name="Strength", default=1.0, min=0.0, soft_max=2.0, description="Gain on every channel")
    smoothing: FloatProperty(name="Smoothing", default=0.0, min=0.0, soft_max=0.2, subtype="TIME_ABSOLUTE",
                             unit="TIME_ABSOLUTE", description="Gaussian smoothing, sigma in seconds")
    offset: FloatProperty(name="Time Offset", default=0.0, soft_min=-0.5, soft_max=0.5, subtype="TIME_ABSOLUTE",
                          unit="TIME_ABSOLUTE", description="Positive delays the face, negative makes it lead")
    blinks: BoolProperty(name="Blinks", default=True, description="Add natural eye blinks")
    add_strip: BoolProperty(name="Add Sound Strip", default=True,
                            description="Add the audio (or the synthesized speech) as a sound strip")
    take_index: IntProperty(name="Take", default=0)
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(name="Status", default="")
    running: BoolProperty(name="Running", default=False)


classes = (MOUTHPIECE_PG_route, MOUTHPIECE_PG_settings)
_register, _unregister = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register()
    bpy.types.Scene.mouthpiece = PointerProperty(type=MOUTHPIECE_PG_settings)


def unregister() -> None:
    del bpy.types.Scene.mouthpiece
    _unregister()
