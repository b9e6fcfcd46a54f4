"""Generate: run the backend (off the main thread in the UI, synchronously in background mode) and
write the result as a new take, in one undo step."""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import bpy
from bpy.props import FloatProperty, IntProperty, StringProperty

from .apply import MapChoice, apply_animation, scene_fps
from .backend.errors import MouthpieceError
from .bridge import Cancelled, run_request
from .generation import GenerateRequest, check_request
from .jobs import Job, run_now
from .mapping import shape_key_owner
from .preferences import runner_and_python
from .sound import add_sound_strip, find_sound_strip, strip_audio_path, strip_playing

ACTIVE_JOBS: dict[str, Job] = {}  # scene name -> its running generation


@dataclass(frozen=True)
class Plan:
    """A generation resolved against the scene: what runs, and where its result goes."""

    request: GenerateRequest
    object_name: str
    frame_start: float
    choice: MapChoice
    strip_audio: str  # audio to add as a sound strip when done ("" for none)
    runner: str
    python: str


def map_choice(settings) -> MapChoice:
    pairs = tuple((route.source, route.target) for route in settings.routes)
    return MapChoice(settings.channel_map, pairs)


SHIPPED_FOLDERS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "assets")


def speech_folder() -> Path:
    """Beside the saved .blend, unless it is the head shipped with the add-on; else the temp folder."""
    blend = Path(bpy.data.filepath).resolve() if bpy.data.filepath else None
    if blend is not None and not any(blend.is_relative_to(folder) for folder in SHIPPED_FOLDERS):
        return blend.parent / "mouthpiece_speech"
    return Path(tempfile.gettempdir()) / "mouthpiece_speech"


def speech_path(text: str) -> str:
    """A new WAV path for the speech synthesized from `text`."""
    folder = speech_folder()
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9]+", "_", text.strip())[:32].strip("_") or "speech"
    candidate, number = folder / f"{stem}.wav", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}_{number}.wav"
    return str(candidate)


def source_of(op, scene, settings) -> tuple[dict, float, str]:
    """(request fields for the source, frame the animation starts at, audio to add as a strip)."""
    start = float(op.frame_start if op.frame_start >= 0 else scene.frame_start)
    if op.audio or op.text:
        source = "AUDIO" if op.audio else "TEXT"
    else:
        source = settings.source
    if source == "STRIP":
        strip = find_sound_strip(scene, op.sound_strip or settings.sound_strip)
        start = float(op.frame_start if op.frame_start >= 0 else strip.frame_start)
        return {"audio_path": strip_audio_path(strip)}, start, ""
    if source == "AUDIO":
        path = bpy.path.abspath(op.audio or settings.audio_path)
        return {"audio_path": path, "transcript": op.transcript or settings.transcript}, start, \
            path if settings.add_strip else ""
    text = op.text or settings.text
    speech = speech_path(text) if text.strip() else ""
    return {"text": text, "speech_out": speech}, start, speech if settings.add_strip else ""


def plan_from(op, context) -> Plan:
    scene = context.scene
    settings = scene.mouthpiece
    obj = bpy.data.objects.get(op.object) if op.object else settings.target
    if op.object and obj is None:
        raise MouthpieceError(f"no object named {op.object!r}")
    shape_key_owner(obj)
    fields, start, strip_audio = source_of(op, scene, settings)
    request = GenerateRequest(language=op.language or settings.language, model=op.model or settings.model,
                              fps=scene_fps(scene), strength=settings.strength, smoothing_s=settings.smoothing,
                              offset_s=settings.offset, blinks=settings.blinks, **fields)
    if op.strength >= 0:
        request = replace(request, strength=op.strength)
    check_request(request)
    runner, python = runner_and_python(context)
    return Plan(request, obj.name, start, map_choice(settings), strip_audio, runner, python)


def finish(op, context, plan: Plan, anim) -> set[str]:
    """On the main thread: write the take, add the sound strip, report what did not map."""
    obj = bpy.data.objects.get(plan.object_name)
    if obj is None:
        op.report({"ERROR"}, f"object {plan.object_name!r} was removed during generation")
        return {"CANCELLED"}
    applied = apply_animation(obj, anim, context.scene, plan.frame_start, plan.choice, plan.request.source_label)
    if plan.strip_audio and not strip_playing(context.scene, plan.strip_audio):
        add_sound_strip(context.scene, plan.strip_audio, int(round(plan.frame_start)))
    for line in applied.report_lines():
        op.report({"WARNING"}, line)
    op.report({"INFO"}, f"{applied.write.action.name}: {applied.write.keys_written} keys on "
                        f"{len(applied.write.written)} shape keys ({anim.duration_s:.2f} s)")
    return {"FINISHED"}


def redraw_panels(context) -> None:
    """Redraw the sidebars only: redrawing whole 3D views each tick would slow the UI down."""
    for area in context.screen.areas if context.screen else ():
        if area.type == "VIEW_3D":
            for region in area.regions:
                if region.type == "UI":
                    region.tag_redraw()


class MOUTHPIECE_OT_generate(bpy.types.Operator):
    """Animate the target's shape keys from audio or text, as a new take"""

    bl_idname = "mouthpiece.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    audio: StringProperty(name="Audio", subtype="FILE_PATH", options={"SKIP_SAVE"},
                          description="Audio file (overrides the panel's source)")
    text: StringProperty(name="Text", options={"SKIP_SAVE"}, description="Text to speak (overrides the panel)")
    sound_strip: StringProperty(name="Sound Strip", options={"SKIP_SAVE"})
    transcript: StringProperty(name="Transcript", options={"SKIP_SAVE"})
    object: StringProperty(name="Object", options={"SKIP_SAVE"}, description="Target object name")
    model: StringProperty(name="Model", options={"SKIP_SAVE"})
    language: StringProperty(name="Language", options={"SKIP_SAVE"})
    frame_start: IntProperty(name="Start Frame", default=-1, options={"SKIP_SAVE"},
                             description="First frame of the animation (-1: the scene's or the strip's)")
    strength: FloatProperty(name="Strength", default=-1.0, options={"SKIP_SAVE"},
                            description="Gain on every channel (-1: the panel's)")

    @classmethod
    def poll(cls, context):
        return context.scene is not None and context.scene.name not in ACTIVE_JOBS

    def execute(self, context):
        try:
            plan = plan_from(self, context)
            anim = run_now(partial(run_request, plan.request, plan.runner, plan.python))
            return finish(self, context, plan, anim)
        except MouthpieceError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        try:
            self.plan = plan_from(self, context)
        except MouthpieceError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.job = Job(partial(run_request, self.plan.request, self.plan.runner, self.plan.python)).start()
        self.scene_name = context.scene.name
        ACTIVE_JOBS[self.scene_name] = self.job
        self.timer = context.window_manager.event_timer_add(0.1, window=context.window)
        context.window_manager.modal_handler_add(self)
        context.window_manager.progress_begin(0, 100)
        self.show(context, 0.0, "starting")
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self.job.cancel()
            self.stop(context, "cancelled")
            self.report({"WARNING"}, "Generation cancelled")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not self.job.done:
            self.show(context, self.job.fraction, self.job.message)
            return {"RUNNING_MODAL"}
        self.stop(context, "")
        if self.job.error is not None:
            return self.failed(self.job.error)
        try:
            return finish(self, context, self.plan, self.job.result)
        except MouthpieceError as err:
            return self.failed(err)

    def failed(self, error: BaseException) -> set[str]:
        if isinstance(error, Cancelled):
            return {"CANCELLED"}
        message = str(error) if isinstance(error, MouthpieceError) else f"{type(error).__name__}: {error}"
        self.report({"ERROR"}, message)
        return {"CANCELLED"}

    def show(self, context, fraction: float, message: str) -> None:
        settings = context.scene.mouthpiece
        settings.progress, settings.status, settings.running = fraction, message, True
        context.window_manager.progress_update(int(fraction * 100))
        redraw_panels(context)

    def stop(self, context, message: str) -> None:
        context.window_manager.event_timer_remove(self.timer)
        context.window_manager.progress_end()
        ACTIVE_JOBS.pop(self.scene_name, None)
        settings = context.scene.mouthpiece
        settings.progress, settings.status, settings.running = 0.0, message, False
        redraw_panels(context)


classes = (MOUTHPIECE_OT_generate,)
register, unregister = bpy.utils.register_classes_factory(classes)
