"""How well a take is in sync: the lip-sync expert slid over mouth crops of the animated head and its audio.

The animation is resampled to 25 fps, the head drawn by the software face renderer (the default head, or
a mesh taken from a .blend), and the expert's embeddings of every 5-frame lower face and every mel window
compared at offsets of up to ±15 frames (backend/sync_measures.py). The report gives LSE-C and LSE-D over
this expert's embeddings, the coursework's Expert measure, the best offset and a per-second curve.

`offset_frames` is how late the animation runs behind the audio, in 25 fps frames: +2 means the mouth moves
two frames after the sound, and shifting the keys 2 frames earlier puts it in sync.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import sync_measures
from .animation import Animation
from .errors import InputError
from .facemesh import FaceMesh
from .facerender import Camera, FaceRenderer
from .landmark_solve import solve_landmark_animation
from .runtime.sync_expert import FPS, FRAMES, SyncExpert

MAX_SHIFT = 15
VIDEO_STEP = 5
CHECKPOINT_FOLDER = "sync_expert"
CHECKPOINT_ENV = "MOUTHPIECE_SYNC_EXPERT"


@dataclass(frozen=True)
class SyncScore:
    confidence: float  # LSE-C: the median offset's mean distance minus the best one's; higher is better
    distance: float  # LSE-D: the best offset's mean distance; lower is better
    expert: float  # the coursework's Expert: mean -log(d) of in-time windows every 5 frames; lower is better
    offset_frames: int  # the animation's lag behind the audio at 25 fps (positive: the mouth is late)
    in_time_confidence: float  # LSE-C's numerator read at offset 0: how clearly the take is in sync as it is
    seconds: list[float] = field(default_factory=list)  # the curve: each second's start
    curve: list[float] = field(default_factory=list)  # each second's LSE-C (NaN where too short)
    frames: int = 0

    @property
    def offset_s(self) -> float:
        return self.offset_frames / FPS

    def to_dict(self) -> dict:
        data = asdict(self)
        data["curve"] = [None if not np.isfinite(v) else round(float(v), 4) for v in self.curve]
        data["offset_s"] = self.offset_s
        return data

    def summary(self) -> str:
        late = "late" if self.offset_frames > 0 else "early"
        offset = "in sync" if self.offset_frames == 0 else f"mouth {abs(self.offset_frames)} frames {late}"
        return (f"LSE-C {self.confidence:.3f}  LSE-D {self.distance:.3f}  Expert {self.expert:.3f}  "
                f"offset {self.offset_frames:+d} frames at 25 fps ({offset})")


def frames_at_25(anim: Animation) -> np.ndarray:
    """The animation's values at t = i / 25 s, linearly interpolated, [T, C]."""
    n = max(1, int(np.floor(anim.duration_s * FPS + 1e-6)))
    return values_at(anim, np.arange(n) / FPS).astype(np.float32)


def values_at(anim: Animation, times: np.ndarray) -> np.ndarray:
    """[len(times), C]: each channel linearly interpolated at `times` (seconds), held beyond its ends."""
    source = np.arange(anim.n_frames) / anim.fps
    return np.stack([np.interp(times, source, column) for column in anim.values.T], axis=1)


def weights_for(mesh: FaceMesh, anim: Animation) -> np.ndarray:
    """[T, K] weights in the mesh's channel order at 25 fps; channels the mesh lacks are left out. Landmark
    animations are solved onto the mesh's keys through its landmark vertices first."""
    values = frames_at_25(anim)
    if anim.kind == "landmarks":
        return solved_weights(mesh, Animation(FPS, anim.channels, values, anim.kind, dict(anim.meta)))
    out = np.zeros((len(values), len(mesh.channels)), dtype=np.float32)
    found = 0
    for j, name in enumerate(anim.channels):
        if name in mesh.channels:
            out[:, mesh.channels.index(name)] = values[:, j]
            found += 1
    if not found:
        raise InputError(None, "the animation has no channel that names one of the head's shape keys")
    return out


def solved_weights(mesh: FaceMesh, anim: Animation) -> np.ndarray:
    if len(mesh.landmark_indices) == 0:
        raise InputError(None, "a landmark animation needs a head with landmarks to be solved onto")
    rest = mesh.positions[mesh.landmark_indices]
    offsets = {name: mesh.deltas[k, mesh.landmark_indices] for k, name in enumerate(mesh.channels)}
    names, weights, _ = solve_landmark_animation(anim, rest, offsets)
    return weights[:, [names.index(name) for name in mesh.channels]].astype(np.float32)


def score_lower_faces(expert: SyncExpert, lower: np.ndarray, audio: np.ndarray, max_shift: int = MAX_SHIFT,
                      video_step: int = VIDEO_STEP) -> SyncScore:
    """Score uint8 [T, 48, 96, 3] lower faces at 25 fps against 16 kHz mono audio that starts with frame 0.

    The face windows are taken every `video_step` frames (5: side by side, each frame seen once), paired
    with the audio windows of every frame, so offsets are still found to the frame.
    """
    if len(lower) < FRAMES + 1:
        raise InputError(None, f"the take is too short to score ({len(lower)} frames at 25 fps; "
                               f"at least {FRAMES + 1} are needed)")
    video, sound = expert.embed_take(lower, audio, video_step)
    means = sync_measures.offset_distances(video, sound, max_shift, video_step)
    lse = sync_measures.lse_of(means, max_shift)
    curve = sync_measures.confidence_curve(video, sound, FPS, 1.0, max_shift, video_step)
    in_time = float(np.nanmedian(means) - means[max_shift])
    aligned = sound[np.arange(len(video)) * video_step]
    return SyncScore(confidence=float(lse.confidence), distance=float(lse.distance),
                     expert=sync_measures.expert_bce(video, aligned, step=max(1, FRAMES // video_step)),
                     offset_frames=-int(lse.offset), in_time_confidence=in_time,
                     seconds=[float(s) for s in curve.start_s], curve=[float(c) for c in curve.confidence],
                     frames=len(lower))


def score_animation(anim: Animation, audio: np.ndarray, mesh: FaceMesh, camera: Camera, expert: SyncExpert,
                    max_shift: int = MAX_SHIFT) -> SyncScore:
    """Render the animated head's lower face at 25 fps and score it against `audio` (16 kHz mono)."""
    lower = FaceRenderer(mesh, camera).render(weights_for(mesh, anim))
    return score_lower_faces(expert, lower, np.asarray(audio, dtype=np.float32), max_shift)


def shifted(anim: Animation, frames_at_25fps: float) -> Animation:
    """The animation moved later by `frames_at_25fps` (earlier when negative), holding its end values."""
    times = np.arange(anim.n_frames) / anim.fps - frames_at_25fps / FPS
    return Animation(anim.fps, anim.channels, values_at(anim, times), anim.kind, dict(anim.meta))


def find_expert(path: str | os.PathLike | None = None) -> Path:
    """The expert checkpoint stem: `path`, $MOUTHPIECE_SYNC_EXPERT, or the shipped one."""
    from . import checkpoints

    if path is None and os.environ.get(CHECKPOINT_ENV):
        path = os.environ[CHECKPOINT_ENV]
    if path is not None:
        return checkpoints.stem_of(path)
    package = Path(__file__).resolve().parent
    for stem in (package.parent / "assets" / "models" / CHECKPOINT_FOLDER / "model",
                 package / "data" / "models" / CHECKPOINT_FOLDER / "model"):
        if checkpoints.paths(stem)[1].is_file():
            return stem
    raise InputError(None, "no lip-sync expert checkpoint found (assets/models/sync_expert/model.safetensors); "
                           "train one with `mouthpiece-train sync-expert`")


def write_curve_png(score: SyncScore, path: str | os.PathLike, title: str = "") -> None:
    """The per-second LSE-C curve as a PNG (matplotlib), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .fileio import atomic_path

    figure, axes = plt.subplots(figsize=(8, 2.6), dpi=100)
    axes.plot(np.asarray(score.seconds) + 0.5, score.curve, marker="o", color="#2a6fb0")
    axes.axhline(score.confidence, color="#999999", linestyle="--", linewidth=1, label="whole take")
    axes.set_xlabel("time (s)")
    axes.set_ylabel("LSE-C (this expert)")
    axes.set_title(title or score.summary(), fontsize=8)
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)

