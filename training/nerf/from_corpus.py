"""`mouthpiece-train nerf-frames --corpus CORPUS --out FRAMES`: the renderer's training frames of one head
talking, rendered in Blender from corpus utterances (or, with `--video F`, cut from a person's own talking
video: training/nerf/from_video.py).

Each utterance's label weights (blinks included, when the corpus has them) animate the head .blend (the
default head unless --head says) through its own camera; Workbench renders RGBA frames at 25 fps (at twice
--size, averaged down), so the head is learned over a transparent background. Each frame carries the camera, the 68
landmarks in world units and the eyelid closure (the labels' own), the frame's audio feature
(training/nerf/conditions.py) and its utterance's id (whose audio file the index names). Train-split utterances fill
--minutes; val and test utterances (other sentences, and voices the corpus holds out) fill --val-minutes and
are the held-out frames. Run it again with the same --out to go on: rendered utterances are kept in
FRAMES/parts/ and skipped.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import InputError, ToolError
from backend.fileio import atomic_path

from ..args import option, parse
from .conditions import AUDIO_FEATURES, frame_audio_features
from .frames import write_frame_folder

BOX_MARGIN = 0.08  # of the head's size on every side: the jaw and lips move past the rest pose's bounds
FPS = 25.0
SUPERSAMPLE = 2  # Workbench renders at twice the size with FXAA, then 2 x 2 pixels are averaged


@dataclass
class Args:
    out: str = option(help="frame folder to write (frames.json + images/)")
    corpus: str = option("", "corpus folder (mouthpiece-train corpus): audio, label weights, splits")
    video: str = option("", "or a talking video of one person, frontal, from a still camera "
                            "(training/nerf/from_video.py)")
    val_seconds: float = option(10.0, "with --video: its last seconds held out")
    minutes: float = option(4.0, "minutes of train-split utterances")
    val_minutes: float = option(0.5, "minutes of held-out (val and test split) utterances")
    size: int = option(128, "frame width and height in pixels")
    head: str = option("", "head .blend (default: the shipped default head)")
    quiet: bool = option(False, "no progress bar")


def choose_utterances(records: list[dict], minutes: float, val_minutes: float) -> list[dict]:
    """Train records up to `minutes`, then val/test records up to `val_minutes`, in manifest order."""
    chosen, totals = [], {"train": 0.0, "held": 0.0}
    limits = {"train": minutes * 60.0, "held": val_minutes * 60.0}
    for record in records:
        part = "train" if record.get("split", "train") == "train" else "held"
        if totals[part] < limits[part]:
            chosen.append(record)
            totals[part] += float(record["duration_s"])
    return chosen


def read_manifest(corpus: Path) -> list[dict]:
    manifest = corpus / "manifest.jsonl"
    if not manifest.is_file():
        raise InputError(corpus, "not a corpus folder (no manifest.jsonl)")
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def render_rgba(weights: np.ndarray, channels: tuple[str, ...], head: str, size: int) -> np.ndarray:
    """uint8 (T, size, size, 4) Workbench frames of the head, one per row of `weights`, transparent film."""
    import bpy
    from PIL import Image

    from ..corpus.render import open_head, render_keyed

    obj = open_head(head)
    scene = bpy.context.scene
    scene.render.resolution_x = scene.render.resolution_y = SUPERSAMPLE * size
    scene.render.film_transparent = True
    scene.render.image_settings.color_mode = "RGBA"
    frames = render_keyed(scene, obj, weights, channels, lambda path: np.asarray(Image.open(path).convert("RGBA")))
    return downsample_rgba(np.stack(frames), SUPERSAMPLE)


def downsample_rgba(frames: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (T, H, W, 4) -> (T, H / factor, W / factor, 4): box-filtered with premultiplied alpha."""
    t, h, w, _ = frames.shape
    blocks = frames.reshape(t, h // factor, factor, w // factor, factor, 4).astype(np.float64) / 255.0
    alpha = blocks[..., 3:].mean(axis=(2, 4))
    colour = (blocks[..., :3] * blocks[..., 3:]).mean(axis=(2, 4)) / np.maximum(alpha, 1e-6)
    return np.round(255.0 * np.concatenate([np.where(alpha > 0, colour, 0.0), alpha], axis=-1)).astype(np.uint8)


def scene_camera(head: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(intrinsics (fx, fy, cx, cy) in pixels, camera_to_world (4, 4), Blender's) of the head's camera."""
    import bpy

    from ..corpus.heads import head_scene
    from ..corpus.render import open_head

    open_head(head)
    scene = bpy.context.scene
    scene.render.resolution_x = scene.render.resolution_y = size
    _, k = head_scene().camera_matrices(scene, scene.camera)
    return np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]]), np.array(scene.camera.matrix_world)


def head_box(head: str) -> tuple[np.ndarray, np.ndarray]:
    """The head mesh's world bounds, widened by BOX_MARGIN of its size on every side."""
    from mathutils import Vector

    from ..corpus.render import head_object

    obj = head_object(head)
    corners = np.array([obj.matrix_world @ Vector(corner) for corner in obj.bound_box])
    low, high = corners.min(axis=0), corners.max(axis=0)
    margin = BOX_MARGIN * (high - low)
    return low - margin, high + margin


def frame_rows(values: np.ndarray, label_fps: float, n_frames: int) -> np.ndarray:
    """Rows of label-rate `values` at the 25 fps frame times (nearest label frame)."""
    index = np.minimum(np.round(np.arange(n_frames) / FPS * label_fps).astype(int), len(values) - 1)
    return values[index]


def render_part(corpus: Path, record: dict, head: str, size: int, part: Path) -> None:
    """Render one utterance into parts/<id>.npz: rgba, landmarks, blink, audio, held-out flag."""
    from backend.audio import load_audio
    from backend.rig import FACEWAREHOUSE_46

    from ..corpus.labels import blink_labels, load_labels

    labels = load_labels(corpus / record["labels"])
    label_fps = float(labels["fps"])
    n_frames = max(1, int(np.ceil(float(record["duration_s"]) * FPS - 1e-9)))
    weights = frame_rows(labels["weights"], label_fps, n_frames)
    landmarks = frame_rows(labels["landmarks3d"], label_fps, n_frames)
    blink = frame_rows(blink_labels(labels), label_fps, n_frames)
    features = frame_audio_features(load_audio(corpus / record["audio"]), n_frames, FPS)
    rgba = render_rgba(weights, tuple(FACEWAREHOUSE_46), head, size)
    with atomic_path(part) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, rgba=rgba, landmarks=landmarks.astype(np.float32),
                            blink=blink.astype(np.float32), audio=features.astype(np.float32),
                            held_out=np.bool_(record.get("split", "train") != "train"))


def build(args: Args) -> Path:
    from tqdm import tqdm

    from ..corpus.heads import DEFAULT_BLEND

    corpus, out = Path(args.corpus), Path(args.out)
    head = args.head or str(DEFAULT_BLEND)
    if not Path(head).is_file():
        raise InputError(head, "no such head .blend")
    chosen = choose_utterances(read_manifest(corpus), args.minutes, args.val_minutes)
    if not any(r.get("split", "train") == "train" for r in chosen):
        raise InputError(corpus, "no train-split utterances to render")
    parts = out / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for record in tqdm(chosen, desc="nerf-frames", unit="utt", disable=args.quiet):
        part = parts / f"{record['id']}.npz"
        if not part.is_file():
            render_part(corpus, record, head, args.size, part)
    intrinsics, camera = scene_camera(head, args.size)
    box_min, box_max = head_box(head)
    loaded = [np.load(parts / f"{r['id']}.npz") for r in chosen]
    images = np.concatenate([z["rgba"] for z in loaded])
    held = np.concatenate([np.full(len(z["rgba"]), bool(z["held_out"])) for z in loaded])
    return write_frame_folder(out, images, intrinsics, camera,
                              np.concatenate([z["landmarks"] for z in loaded]),
                              np.concatenate([z["blink"] for z in loaded]),
                              np.concatenate([z["audio"] for z in loaded]), box_min, box_max, fps=FPS,
                              val=held, audio_features=AUDIO_FEATURES, neutral=corpus_neutral(corpus, chosen),
                              clips=[r["id"] for r, z in zip(chosen, loaded) for _ in range(len(z["blink"]))],
                              clip_audio={r["id"]: str((corpus / r["audio"]).resolve()) for r in chosen})


def corpus_neutral(corpus: Path, records: list[dict]) -> np.ndarray | None:
    """The labels' neutral landmarks (the rest face the landmark model's offsets start from), if they have them."""
    from ..corpus.labels import load_labels

    return load_labels(corpus / records[0]["labels"]).get("neutral3d")


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train nerf-frames", __doc__.splitlines()[0])
    if args.size < 16 or args.minutes <= 0 or args.val_minutes < 0:
        print("mouthpiece-train nerf-frames: --size must be at least 16 and --minutes above 0", file=sys.stderr)
        return 2
    if bool(args.corpus) == bool(args.video):
        print("mouthpiece-train nerf-frames: give --corpus or --video (one of them)", file=sys.stderr)
        return 2
    try:
        if args.video:
            from .from_video import build as build_from_video

            folder = build_from_video(args.video, args.out, args.size, args.val_seconds)
        else:
            folder = build(args)
    except (InputError, ToolError) as err:
        print(f"mouthpiece-train nerf-frames: {err}", file=sys.stderr)
        return 2
    index = json.loads((folder / "frames.json").read_text())
    held = sum(frame["split"] == "val" for frame in index["frames"])
    print(f"done: {len(index['frames']) - held} train and {held} held-out frames of {args.size}x{args.size} "
          f"in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
