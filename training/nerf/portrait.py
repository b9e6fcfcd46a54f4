"""`mouthpiece nerf render`: a trained NeRF talking head (`mouthpiece-train nerf`) saying new audio.

Per 25 fps frame of the audio, the landmark side (`nerf-landmarks`) gives 68 landmark offsets from the
neutral face and an eyelid closure. A frame's conditions are the ones the renderer trained on: the
identity's neutral landmarks plus those offsets (world units), the closure (the mean of EyeBlink_L/R,
which the model draws equal) and the frame's audio feature (training/nerf/conditions.py). Each frame is
rendered through the identity's training camera, a chunk of rays at a time, without gradients.
The frames become an H.264 MP4 with the audio muxed in and a PNG sequence (000001.png ...) that Blender's
video editor loads as an image strip; both appear only when complete.

The identity is what the run stored in model.json's about["identity"] (training/train_nerf.py): frame
size, the first training frame's camera and intrinsics and the neutral landmarks (the frame folder's
`neutral_landmarks`, else the per-landmark median of its training frames). A run from before that is
read from its frame folder.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend import checkpoints
from backend.errors import InputError

from .conditions import frame_audio_features
from .frames import INDEX, N_LANDMARKS, FrameFolder, read_frame_folder

FAMILY = "nerf"
CHUNK = 4096  # rays rendered at once


@dataclass(frozen=True)
class Identity:
    """What rendering needs of the trained person: the frame size, the camera and the rest face."""

    width: int
    height: int
    intrinsics: np.ndarray       # (4,) fx, fy, cx, cy in pixels
    camera_to_world: np.ndarray  # (4, 4) Blender's matrix_world
    neutral: np.ndarray          # (68, 3) world units

    def record(self) -> dict:
        return {"size": [self.width, self.height], "intrinsics": self.intrinsics.tolist(),
                "camera_to_world": self.camera_to_world.tolist(), "neutral_landmarks": self.neutral.tolist()}

    @classmethod
    def from_record(cls, source, record) -> "Identity":
        try:
            width, height = (int(v) for v in record["size"])
            arrays = [np.asarray(record[key], np.float32)
                      for key in ("intrinsics", "camera_to_world", "neutral_landmarks")]
        except (KeyError, TypeError, ValueError):
            raise InputError(source, "about.identity must hold size, intrinsics, camera_to_world and "
                                     "neutral_landmarks") from None
        shapes = [(4,), (4, 4), (N_LANDMARKS, 3)]
        if width < 1 or height < 1 or any(a.shape != s or not np.isfinite(a).all() for a, s in zip(arrays, shapes)):
            raise InputError(source, "about.identity has a bad size, camera or neutral_landmarks")
        return cls(width, height, *arrays)


def identity_of(folder: FrameFolder) -> Identity:
    """The identity of a frame folder: its first training frame's camera, its neutral face."""
    train = folder.train
    neutral = folder.neutral if folder.neutral is not None else np.median(train.landmarks, axis=0)
    return Identity(train.width, train.height, train.intrinsics[0].astype(np.float32),
                    train.cameras[0].astype(np.float32), np.asarray(neutral, np.float32))


@dataclass
class Portrait:
    model: object        # TalkingHead, in eval mode
    identity: Identity
    source: Path         # the run's model.json, named in errors


def run_stem(run: str | os.PathLike) -> Path:
    """RUN/model for a run folder, else the checkpoint the path names."""
    path = Path(run)
    stem = path / "model" if path.is_dir() else checkpoints.stem_of(path)
    if not checkpoints.paths(stem)[1].is_file():
        raise InputError(run, "not a trained NeRF run (no model.json); train one with `mouthpiece-train nerf`")
    return stem


def load_portrait(run: str | os.PathLike, training_frames: str | None = None, device: str = "cpu") -> Portrait:
    import torch

    from ..families.nerf import NerfConfig
    from .field import TalkingHead

    stem = run_stem(run)
    source = checkpoints.paths(stem)[1]
    saved = checkpoints.load(stem, family=FAMILY)
    try:
        model = TalkingHead(NerfConfig.from_dict(saved.config["model"]))
        model.load_state_dict({name: torch.from_numpy(value) for name, value in saved.tensors.items()})
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise InputError(source, f"not a usable NeRF model ({str(err).splitlines()[0][:200]})") from None
    identity = find_identity(source, saved.config.get("about", {}), training_frames, model.config.background)
    return Portrait(model.to(device).eval(), identity, source)


def find_identity(source: Path, about: dict, training_frames: str | None, background) -> Identity:
    if training_frames:
        return identity_of(read_frame_folder(training_frames, background))
    if "identity" in about:
        return Identity.from_record(source, about["identity"])
    folder = about.get("frames")
    if folder and Path(folder, INDEX).is_file():
        return identity_of(read_frame_folder(folder, background))
    raise InputError(source, "stores no camera and its frame folder is gone; pass --training-frames FRAMES")


def landmark_runtime(path: str | None = None):
    """The nerf-landmarks runtime: the checkpoint `path` names, else the shipped one (or the environment's)."""
    from backend.models.nerf_landmarks import SHIPPED
    from backend.runtime.nerf_landmarks import NerfLandmarksRuntime

    if path is None:
        return NerfLandmarksRuntime.from_checkpoint(SHIPPED.find())
    stem = checkpoints.stem_of(path)
    if not checkpoints.paths(stem)[1].is_file():
        raise InputError(path, "no nerf-landmarks checkpoint here; train one with `mouthpiece-train nerf-landmarks`")
    return NerfLandmarksRuntime.from_checkpoint(stem)


def frame_conditions(portrait: Portrait, audio: np.ndarray, runtime, seed: int = 0):
    """(F, C) conditions of the frames of 16 kHz `audio`, at the landmark model's fps."""
    import torch

    model = portrait.model
    offsets, blink = runtime.predict(audio, seed)
    features = frame_audio_features(audio, len(offsets), runtime.spec.fps)
    if features.shape[1] != model.config.audio_dim:
        raise InputError(portrait.source, f"was trained on {model.config.audio_dim}-long audio features, not the "
                                          f"{features.shape[1]}-band log-mel of training/nerf/conditions.py")
    landmarks = portrait.identity.neutral[None] + offsets

    def tensor(values: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(values, np.float32)).to(model.box_min.device)

    with torch.no_grad():
        return model.frame_conditions(tensor(landmarks), tensor(np.clip(blink, 0.0, 1.0)), tensor(features))


def render_frames(portrait: Portrait, conditions, chunk: int = CHUNK, progress=None) -> np.ndarray:
    """uint8 (F, H, W, 3): each frame's image through the identity's camera."""
    import torch

    model, identity = portrait.model, portrait.identity
    device = model.box_min.device
    intrinsics = torch.from_numpy(identity.intrinsics).to(device)
    camera = torch.from_numpy(identity.camera_to_world).to(device)
    frames = np.empty((len(conditions), identity.height, identity.width, 3), np.uint8)
    for i, condition in enumerate(conditions):
        image = model.render_image(intrinsics, camera, identity.height, identity.width, condition, chunk)
        frames[i] = np.clip(np.round(image.cpu().numpy() * 255.0), 0, 255).astype(np.uint8)
        if progress is not None:
            progress(i + 1, len(conditions))
    return frames


def default_frames_dir(out: Path) -> Path:
    return out.with_name(out.stem + "_frames")


def write_png_sequence(frames: np.ndarray, folder: Path) -> None:
    from PIL import Image

    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(folder / f"{i:06d}.png", format="PNG")


def put_folder(staging: Path, folder: Path) -> None:
    """Move a finished folder into place, replacing what was there only once the new one is in."""
    old = None
    if folder.is_dir() and not folder.is_symlink():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, old)
    elif folder.exists() or folder.is_symlink():
        folder.unlink()
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_outputs(out: Path, frames_dir: Path, overwrite: bool) -> None:
    if out.suffix.lower() != ".mp4":
        raise InputError(out, "nerf render writes .mp4 videos")
    for path in (out, frames_dir):
        if (path.exists() or path.is_symlink()) and not overwrite:
            raise InputError(path, "exists; pass --overwrite to replace it")


def render_portrait(run, audio, out, frames_dir=None, landmarks_model=None, training_frames=None, seed: int = 0,
                    overwrite: bool = False, device: str = "cpu", progress=None) -> int:
    """Render RUN's portrait saying `audio` into `out` (MP4) and a PNG sequence; returns the frame count."""
    from backend.audio import load_audio

    from ..lipsync import write_video

    out = Path(out)
    frames_dir = Path(frames_dir) if frames_dir else default_frames_dir(out)
    check_outputs(out, frames_dir, overwrite)
    portrait = load_portrait(run, training_frames, device)
    runtime = landmark_runtime(landmarks_model)
    samples = load_audio(audio)
    frames = render_frames(portrait, frame_conditions(portrait, samples, runtime, seed), progress=progress)
    for folder in {out.parent, frames_dir.parent}:
        folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{frames_dir.name}-", dir=frames_dir.parent))
    try:
        write_png_sequence(frames, staging)
        write_video(frames, runtime.spec.fps, os.fspath(audio), out, overwrite)
        put_folder(staging, frames_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(frames)
