"""Generate: run the backend (off the main thread in the UI, synchronously in background mode) and
write the result as a new take, in one undo step."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial

import bpy
from bpy.props import FloatProperty, IntProperty, StringProperty

from .apply import MapChoice, apply_animation, scene_fps
from .backend.errors import InputError, MouthpieceError
from .bridge import Cancelled, run_request
from .generation import GenerateRequest, check_request
from .jobs import Job, run_now
from .keyframes import Keying
from .mapping import shape_key_owner
from .preferences import runner_and_python
from . import speech_files
from .sound import add_sound_strip, find_sound_strip, strip_audio_path, strip_playing
from .takes import MODEL_TAG, link_strip, sync_take_strips

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
    keying: Keying = Keying()
    user_strip: str = ""  # the artist's sound strip the take was made from
    fit_range: bool = False  # set the scene's frame range to the take


def map_choice(settings) -> MapChoice:
    pairs = tuple((route.source, route.target) for route in settings.routes)
    return MapChoice(settings.channel_map, pairs)


def start_frame(op, scene, settings) -> float:
    """The operator's frame, else the panel's choice: the scene start, the current frame or a frame."""
    if op.frame_start >= 0:
        return float(op.frame_start)
    return float({"CURRENT": scene.frame_current, "FRAME": settings.start_frame}.get(settings.start,
                                                                                      scene.frame_start))


def source_of(op, scene, settings) -> tuple[dict, float, str, str]:
    """(request fields for the source, frame the animation starts at, audio to add as a strip,
    the artist's sound strip it comes from)."""
    start = start_frame(op, scene, settings)
    if op.audio or op.text:
        source = "AUDIO" if op.audio else "TEXT"
    else:
        source = settings.source
    if source == "STRIP":  # a strip's take starts with its strip
        strip = find_sound_strip(scene, op.sound_strip or settings.sound_strip)
        start = float(op.frame_start if op.frame_start >= 0 else strip.frame_start)
        return {"audio_path": strip_audio_path(strip)}, start, "", strip.name
    if source == "AUDIO":
        path = bpy.path.abspath(op.audio or settings.audio_path)
        return {"audio_path": path, "transcript": op.transcript or settings.transcript}, start, \
            path if settings.add_strip else "", ""
    text = op.text or settings.text
    speech = speech_files.speech_path(text) if text.strip() else ""
    staging = speech_files.staged(speech) if speech else ""
    return {"text": text, "speech_out": staging}, start, speech if settings.add_strip else "", ""


def keying_of(settings) -> Keying:
    groups = tuple(sorted(settings.channel_groups))
    if not groups:
        raise InputError(None, "no channel group is chosen: pick Mouth, Eyes, Brows or Cheeks")
    return Keying(groups=() if len(groups) == len(settings.bl_rna.properties["channel_groups"].enum_items)
                  else groups, only_moving=settings.only_moving,
                  tolerance=settings.key_tolerance if settings.thin_keys else None,
                  replace_hand_keys=settings.replace_hand_keys)


def heads_in(scene) -> list:
    return [o for o in scene.objects if o.type == "MESH" and getattr(o.data, "shape_keys", None) is not None
            and len(o.data.shape_keys.key_blocks) > 1]


def fill_target(scene) -> None:
    """With no target set, the scene's only mesh with shape keys becomes the target."""
    settings = scene.mouthpiece
    if settings.target is None:
        heads = heads_in(scene)
        if len(heads) == 1:
            settings.target = heads[0]


def plan_from(op, context) -> Plan:
    scene = context.scene
    settings = scene.mouthpiece
    if not op.object:
        fill_target(scene)
    obj = bpy.data.objects.get(op.object) if op.object else settings.target
    if op.object and obj is None:
        raise MouthpieceError(f"no object named {op.object!r}")
    shape_key_owner(obj)
    fields, start, strip_audio, user_strip = source_of(op, scene, settings)
    request = GenerateRequest(language=op.language or settings.language, model=op.model or settings.model,
                              voice="" if op.language else settings.voice.strip(),
                              fps=scene_fps(scene), strength=settings.strength, smoothing_s=settings.smoothing,
                              offset_s=settings.offset, blinks=settings.blinks, **fields)
    if op.strength >= 0:
        request = replace(request, strength=op.strength)
    check_request(request)
    runner, python = runner_and_python(context)
    return Plan(request, obj.name, start, map_choice(settings), strip_audio, runner, python,
                keying_of(settings), user_strip, settings.fit_range)


def finish(op, context, plan: Plan, anim) -> set[str]:
    """On the main thread: write the take, add the sound strip, report what did not map."""
    obj = bpy.data.objects.get(plan.object_name)
    if obj is None:
        op.report({"ERROR"}, f"object {plan.object_name!r} was removed during generation")
        return {"CANCELLED"}
    scene = context.scene
    applied = apply_animation(obj, anim, scene, plan.frame_start, plan.choice, plan.request.source_label,
                              plan.keying)
    applied.write.action[MODEL_TAG] = applied.write.action.get(MODEL_TAG) or plan.request.model
    speech_files.keep(plan.request.speech_out)
    strip = take_sound(scene, plan)
    if strip is not None:
        strip.sound.filepath = speech_files.relative(strip.sound.filepath)
        link_strip(applied.write.action, strip, owned=not plan.user_strip)
        scene.sync_mode = "AUDIO_SYNC"
    sync_take_strips(scene)
    if plan.fit_range:
        fit_scene_range(scene, plan.frame_start, anim, strip)
    for line in applied.report_lines():
        op.report({"WARNING"}, line)
    if anim.meta.get("warning"):  # the model's own word on its output (e.g. speech that never ended)
        op.report({"WARNING"}, str(anim.meta["warning"]))
    op.report({"INFO"}, f"{applied.summary()} ({anim.duration_s:.2f} s)")
    return {"FINISHED"}


def take_sound(scene, plan: Plan):
    """The strip a new take plays with: the artist's strip it came from, a strip already playing its
    audio from its start frame, or a new one."""
    if plan.user_strip:
        return find_sound_strip(scene, plan.user_strip)
    if not plan.strip_audio:
        return None
    frame = int(round(plan.frame_start))
    return strip_playing(scene, plan.strip_audio, frame) or add_sound_strip(scene, plan.strip_audio, frame)


def fit_scene_range(scene, frame_start: float, anim, strip) -> None:
    """The scene's frame range becomes the take's (and its sound's)."""
    last = frame_start + (anim.n_frames - 1) * scene_fps(scene) / anim.fps
    if strip is not None:
        last = max(last, strip.frame_final_end - 1)
    scene.frame_start = int(round(frame_start))
    scene.frame_end = max(scene.frame_start, math.ceil(last))


def redraw_panels(context) -> None:
    """Redraw the sidebars only: redrawing whole 3D views each tick would slow the UI down."""
    for area in context.screen.areas if context.screen else ():
        if area.type == "VIEW_3D":
            for region in area.regions:
                if region.type == "UI":
                    region.tag_redraw()


class MOUTHPIECE_OT_generate(bpy.types.Operator):
    """Animate the target's shape keys from audio or text, as a new take"""

    # The source, target and model overrides are for scripts; the redo panel shows the start and strength.
    bl_idname = "mouthpiece.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    audio: StringProperty(name="Audio", subtype="FILE_PATH", options={"SKIP_SAVE", "HIDDEN"},
                          description="Audio file (overrides the panel's source)")
    text: StringProperty(name="Text", options={"SKIP_SAVE", "HIDDEN"},
                         description="Text to speak (overrides the panel)")
    sound_strip: StringProperty(name="Sound Strip", options={"SKIP_SAVE", "HIDDEN"})
    transcript: StringProperty(name="Transcript", options={"SKIP_SAVE", "HIDDEN"})
    object: StringProperty(name="Object", options={"SKIP_SAVE", "HIDDEN"}, description="Target object name")
    model: StringProperty(name="Model", options={"SKIP_SAVE", "HIDDEN"})
    language: StringProperty(name="Language", options={"SKIP_SAVE", "HIDDEN"})
    frame_start: IntProperty(name="Start Frame", default=-1, options={"SKIP_SAVE"},
                             description="First frame of the animation (-1: the scene's or the strip's)")
    strength: FloatProperty(name="Strength", default=-1.0, options={"SKIP_SAVE"},
                            description="Gain on every channel (-1: the panel's)")

    @classmethod
    def poll(cls, context):
        return context.scene is not None and context.scene.name not in ACTIVE_JOBS

    def execute(self, context):
        plan = None
        try:
            plan = plan_from(self, context)
            anim = run_now(partial(run_request, plan.request, plan.runner, plan.python))
            return finish(self, context, plan, anim)
        except MouthpieceError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        finally:
            if plan is not None:
                speech_files.discard(plan.request.speech_out)  # nothing left once its take is made

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
            speech_files.discard(self.plan.request.speech_out, self.job)
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
        speech_files.discard(self.plan.request.speech_out)
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
