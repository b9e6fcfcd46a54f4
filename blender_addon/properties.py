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
GROUP_ITEMS = (
    ("MOUTH", "Mouth", "Jaw, lips, mouth corners and chin"),
    ("EYES", "Eyes", "Blinks, squints and gaze"),
    ("BROWS", "Brows", "Brows up and down"),
    ("CHEEKS", "Cheeks", "Cheek puff and squint, nose sneer"),
)
START_ITEMS = (
    ("SCENE", "Scene Start", "At the scene's first frame (a sound strip source starts at its strip)"),
    ("CURRENT", "Current Frame", "At the current frame"),
    ("FRAME", "Frame", "At the frame chosen below"),
)
_model_items_cache: list = []


_model_notes: dict[str, str] = {}
WEAK_WORDS = ("weak", "coarse")  # words a model's own description uses for what it does poorly


def model_description(name: str) -> str:
    try:
        from .backend.models import get_model

        return get_model(name).info.description
    except Exception:  # a model whose dependencies are not installed yet still gets listed
        return f"Mouthpiece model {name!r}"


def model_items(self, context):
    """Models from the backend's registry with their descriptions (kept alive: Blender needs the strings
    to stay referenced)."""
    if not _model_items_cache:
        from .backend.models import model_names

        for name in model_names():
            description = model_description(name)
            clauses = [clause.strip() for part in description.split(";") for clause in part.split(", ")]
            _model_notes[name] = next((c for c in clauses if any(word in c.lower() for word in WEAK_WORDS)), "")
            _model_items_cache.append((name, name, description, "ERROR" if _model_notes[name] else "NONE",
                                       len(_model_items_cache)))
    return _model_items_cache


def model_caveat(name: str) -> str:
    """What the model's own description says it does poorly ("" for none)."""
    model_items(None, None)
    return _model_notes.get(name, "")


def installed_voices(language: str = ""):
    try:
        from .backend.text import list_voices

        return list_voices(language or None)
    except Exception:  # espeak-ng not loadable yet (a legacy install before its wheels are unpacked)
        return []


def language_suggestions(self, context, edit_text):
    """The languages of the installed espeak-ng voices, as (code, name) pairs."""
    names: dict[str, str] = {}
    for voice in installed_voices():
        code = voice.language.split("-")[0]
        names.setdefault(code, voice.title.split(" (")[0] or code)
    text = edit_text.lower()
    return [(code, name) for code, name in sorted(names.items())
            if text in code.lower() or text in name.lower() or text == ""]


def voice_suggestions(self, context, edit_text):
    """The installed espeak-ng voices of the chosen language."""
    return [(voice.name, f"{voice.title} ({voice.gender})") for voice in installed_voices(self.language)
            if edit_text.lower() in voice.name.lower() or edit_text.lower() in voice.title.lower()]


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
    language: StringProperty(name="Language", default="en", search=language_suggestions,
                             description="Language code, e.g. en, es, de (the list shows the installed ones)")
    voice: StringProperty(name="Voice", default="", search=voice_suggestions,
                          description="espeak-ng voice that speaks typed text or, for languages other than "
                                      "English, the transcript (empty: the language's default)")
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
    channel_groups: EnumProperty(name="Channels", items=GROUP_ITEMS, options={"ENUM_FLAG"},
                                 default={"MOUTH", "EYES", "BROWS", "CHEEKS"},
                                 description="Channel groups a take keys; the others keep what they have")
    only_moving: BoolProperty(name="Only Moving Channels", default=True,
                              description="Leave channels that never move unkeyed")
    thin_keys: BoolProperty(name="Thin Keys", default=True,
                            description="Drop keys the curve can do without, within the tolerance")
    key_tolerance: FloatProperty(name="Tolerance", default=0.002, min=0.0, soft_max=0.05, precision=4,
                                 description="Largest change of any shape key value that thinning may make")
    replace_hand_keys: BoolProperty(name="Replace Hand Keys", default=False,
                                    description="Key channels you animated by hand too (else they keep your keys)")
    start: EnumProperty(name="Start", items=START_ITEMS, default="SCENE", description="Where a take starts")
    start_frame: IntProperty(name="Start Frame", default=1, description="First frame of a take started at a frame")
    fit_range: BoolProperty(name="Fit Scene Range", default=False,
                            description="Set the scene's frame range to the new take")
    take_index: IntProperty(name="Take", default=0)
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(name="Status", default="")
    running: BoolProperty(name="Running", default=False)
    score_take: StringProperty(name="Scored Take", default="", description="The take the score below is of")
    score_confidence: FloatProperty(name="Confidence", default=0.0, precision=3,
                                    description="LSE-C of the lip-sync expert: higher is better")
    score_distance: FloatProperty(name="Distance", default=0.0, precision=3,
                                  description="LSE-D of the lip-sync expert: lower is better")
    score_offset: IntProperty(name="Offset", default=0,
                              description="How many frames (at 25 fps) the mouth runs behind the sound")
    score_summary: StringProperty(name="Score", default="")


classes = (MOUTHPIECE_PG_route, MOUTHPIECE_PG_settings)
_register, _unregister = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register()
    bpy.types.Scene.mouthpiece = PointerProperty(type=MOUTHPIECE_PG_settings)


def unregister() -> None:
    del bpy.types.Scene.mouthpiece
    _unregister()
