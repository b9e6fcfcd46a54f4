"""`mouthpiece-train faces`: lower-face crops of corpus utterances, the lip-sync expert's training set.

Each utterance's label weights animate a head (the default one or a seeded identity) drawn by the software
face renderer (backend/facerender.py) through its own light and camera, so many faces and shots come
cheaply. Where the corpus was also rendered in Blender (`corpus --render`, frames with landmarks), the
Blender frames are cropped the same way into a second clip; an imported talking-face dataset (RAVDESS,
LRS3, GRID, VIDTIMIT: `mouthpiece-train import-dataset`) gives clips cut from its own video along the
tracked face. Validation and test utterances get identities no training clip shows.

Output (read by training/faces_dataset.py): faces.json, manifest.jsonl, frames/<id>.npz with `lower`
uint8 [T, 48, 96, 3] at 25 fps, and with --full-faces also `face` uint8 [T, 96, 96, 3], the whole crop (the
lip-sync generator's data). A killed build resumes: finished clips are on the manifest.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from backend.errors import InputError
from backend.facecrop import crop_faces
from backend.facemesh import camera_target, default_head_mesh
from backend.facerender import CROP_SIZE, CropBox, FaceRenderer, Lighting, face_box, look_at_camera
from backend.fileio import atomic_path
from backend.headmodel import load as load_head_model
from .corpus.manifest import ManifestAppender, read_json, read_manifest, write_json
from .corpus.render import frame_weights
from .corpus.variation import Looks, RenderVariation, orbit, stable_seed

FPS = 25.0
LOWER_ROWS, FULL_ROWS = (CROP_SIZE // 2, CROP_SIZE), (0, CROP_SIZE)  # crop rows of `lower` and of `face`
FORMAT = {"format": "mouthpiece.faces", "version": 1, "fps": FPS, "crop": [CROP_SIZE // 2, CROP_SIZE]}
LIGHT_PRESETS = {  # studio light name -> (directions, strengths, ambient), camera space
    "Default": (((-0.45, -0.55, 0.70), (0.6, -0.1, 0.8)), (0.75, 0.30), 0.28),
    "basic.sl": (((0.0, -0.3, 1.0),), (0.9,), 0.25),
    "outdoor.sl": (((-0.2, -1.0, 0.4), (0.3, 0.2, 1.0)), (0.85, 0.2), 0.35),
    "rim.sl": (((0.9, -0.3, -0.2), (-0.3, -0.2, 1.0)), (0.8, 0.35), 0.2),
    "studio.sl": (((-0.7, -0.4, 0.6), (0.7, -0.4, 0.6)), (0.5, 0.5), 0.3),
}


@dataclass
class FacesArgs:
    corpus: list[str]  # corpus folders (synthetic or imported real speech)
    out: str
    identities: int = 0  # 0: the default head only; N: seeded identities 0..N-1
    vary_render: bool = False  # per-clip light, camera orbit, focal length and background
    seed: int = 0
    max_minutes: float = 0.0  # 0: every utterance
    progress: bool = False
    workers: int = 1
    full_faces: bool = False  # also write the whole 96 x 96 crop as `face`


def lighting_of(variation: RenderVariation | None) -> Lighting:
    if variation is None:
        return Lighting()
    directions, strengths, ambient = LIGHT_PRESETS.get(variation.studio_light, LIGHT_PRESETS["Default"])
    turn = math.radians(variation.light_rotation_deg)
    turned = tuple((d[0] * math.cos(turn) + d[2] * math.sin(turn), d[1], -d[0] * math.sin(turn) + d[2] * math.cos(turn))
                   for d in directions)
    gain = 2.0 ** variation.exposure
    return Lighting(turned, tuple(s * gain for s in strengths), ambient * gain, tuple(variation.background))


def renderer_for(identity: int, variation: RenderVariation | None, rows: tuple[int, int] = LOWER_ROWS
                 ) -> FaceRenderer:
    head = load_head_model()
    camera_location = -head.world_to_camera[:3, :3].T @ head.world_to_camera[:3, 3]
    target = camera_target()
    if variation is None:
        camera = look_at_camera(camera_location, target, head.intrinsics)
    else:
        location = orbit(camera_location, target, variation.yaw_deg, variation.pitch_deg)
        camera = look_at_camera(location, target, head.intrinsics, variation.focal_scale)
    return FaceRenderer(default_head_mesh(identity), camera, lighting_of(variation), rows)


def clip_weights(root: Path, record: dict) -> np.ndarray:
    path = root / record["labels"]
    try:
        with np.load(path, allow_pickle=False) as labels:
            weights, fps = labels["weights"], float(labels["fps"])
    except (OSError, KeyError, ValueError) as err:
        raise InputError(path, f"unreadable label file ({err})") from err
    if not len(weights):  # imported video datasets label landmarks only
        return weights
    return frame_weights(weights, fps, float(record["duration_s"]))


def audio_path(root: Path, record: dict) -> str:
    audio = Path(record["audio"])
    return str(audio if audio.is_absolute() else (root / audio).resolve())


def write_clip(out: Path, clip_id: str, lower: np.ndarray, face: np.ndarray | None = None) -> str:
    relative = f"frames/{clip_id}.npz"
    arrays = {"lower": lower} if face is None else {"lower": lower, "face": face}
    with atomic_path(out / relative) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return relative


def faces_record(clip_id: str, record: dict, root: Path, identity: int | str, frames: str, n_frames: int,
                 variation: RenderVariation | None) -> dict:
    return {"id": clip_id, "split": record.get("split", "train"), "voice": record.get("voice", ""),
            "identity": identity, "audio": audio_path(root, record), "frames": frames, "n_frames": int(n_frames),
            "source": str(root.resolve()), "render": variation.__dict__ if variation else None}


def build(args: FacesArgs) -> int:
    """Render every pending utterance; returns the number of clips written now."""
    out = Path(args.out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    settings = {**FORMAT, "identities": args.identities, "vary_render": args.vary_render, "seed": args.seed}
    if args.full_faces:
        settings["full_faces"] = True
    check_settings(out, settings)
    done = finished_clips(out)
    end_torn_line(out / "manifest.jsonl")
    looks = Looks(args.seed, args.identities, args.vary_render)
    records = list(corpus_records(args.corpus))
    if args.max_minutes:
        seconds = np.cumsum([float(record["duration_s"]) for _, record in records])
        records = records[:int(np.searchsorted(seconds, args.max_minutes * 60.0)) + 1]
    jobs = [(str(out), str(root), record, looks, done, args.full_faces) for root, record in records]
    written = 0
    with ManifestAppender(out) as manifest:
        for made in tqdm(finished(jobs, args.workers), total=len(jobs), desc="faces", unit="utt",
                         disable=not args.progress):
            for entry in made:
                manifest.append(entry)
                written += 1
    return written


def finished(jobs: list, workers: int):
    """Each job's new manifest entries, as jobs finish (on `workers` processes when there are several)."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(render_job, jobs)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(render_job, jobs, chunksize=1)


def render_job(job: tuple) -> list[dict]:
    out, root, record, looks, done, full_faces = job
    return render_record(Path(out), Path(root), record, looks, done, full_faces)


def end_torn_line(path: Path) -> None:
    """A build killed mid-line leaves a torn last line: end it, so the next record starts on its own line."""
    if path.is_file() and path.stat().st_size:
        with open(path, "rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")


def render_record(out: Path, root: Path, record: dict, looks: Looks, done: set, full_faces: bool = False
                  ) -> list[dict]:
    """Write the utterance's clips: drawn by the software renderer (when it has shape-key labels), cut from
    its Blender frames, and cut from its source video (imported datasets); returns their manifest entries."""
    makers = {"soft": lambda rows: soft_clip(root, record, looks, rows),
              "blender": lambda rows: blender_clip(root, record, rows),
              "video": lambda rows: video_clip(root, record, rows)}
    entries = []
    for kind, make in makers.items():
        clip_id = f"{record['id']}-{kind}"
        if clip_id in done:
            continue
        made = make(FULL_ROWS if full_faces else LOWER_ROWS)
        if made is None:
            continue
        frames, identity, variation = made
        face, lower = (frames, frames[:, CROP_SIZE // 2:]) if full_faces else (None, frames)
        entries.append(faces_record(clip_id, record, root, identity, write_clip(out, clip_id, lower, face),
                                    len(lower), variation))
    return entries


def soft_clip(root: Path, record: dict, looks: Looks, rows: tuple[int, int] = LOWER_ROWS):
    weights = clip_weights(root, record)
    if not len(weights):
        return None
    identity, variation = identity_for(record, looks), looks.variation_of(record["id"])
    return renderer_for(identity, variation, rows).render(weights), identity, variation


def blender_clip(root: Path, record: dict, rows: tuple[int, int] = LOWER_ROWS):
    """The lower face (or the crop `rows`) cut from the corpus's own Blender frames, when it has them (with
    landmarks)."""
    if not record.get("frames"):
        return None
    with np.load(root / record["frames"], allow_pickle=False) as frames:
        if "landmarks2d" not in frames:
            return None
        faces, landmarks = frames["face"], frames["landmarks2d"]
    return crop_faces(faces, face_box(landmarks, rows)), record.get("identity", 0), None


def video_clip(root: Path, record: dict, rows: tuple[int, int] = LOWER_ROWS):
    """The lower face cut from an imported dataset's video (or image frames), following the tracked face."""
    source = record.get("source")
    if not source or not record.get("video_fps") or not Path(source).exists():
        return None
    from .datasets.media import read_image_sequence, read_video

    path = Path(source)
    frames, fps = read_video(path) if path.is_file() else read_image_sequence(path, float(record["video_fps"]))
    with np.load(root / record["labels"], allow_pickle=False) as labels:
        landmarks, label_fps = labels["landmarks2d"], float(labels["fps"])
    n = max(1, int(np.floor(float(record["duration_s"]) * FPS + 1e-6)))
    times = np.arange(n) / FPS
    picked = frames[np.minimum(np.round(times * fps).astype(int), len(frames) - 1)]
    tracked = landmarks[np.minimum(np.round(times * label_fps).astype(int), len(landmarks) - 1)]
    boxes = [dataclasses.replace(box, rows=rows) for box in smoothed_boxes(tracked)]
    lower = np.concatenate([crop_faces(picked[i:i + 1], box) for i, box in enumerate(boxes)])
    return lower, record.get("voice", ""), None


def smoothed_boxes(landmarks: np.ndarray, span: int = 5) -> list:
    """Each frame's face box, its corners averaged over `span` frames (Wav2Lip smooths its detections)."""
    corners = np.array([[b.x0, b.y0, b.x1, b.y1] for b in (face_box(frame) for frame in landmarks)])
    kernel = np.ones(span) / span
    padded = np.pad(corners, ((span // 2, span // 2), (0, 0)), mode="edge")
    smooth = np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(4)], axis=1)
    return [CropBox(*map(float, row)) for row in smooth]


def identity_for(record: dict, looks: Looks) -> int:
    """Training clips use identities 0..N-1; validation and test clips use N..N+N//4, faces never trained on."""
    if looks.identities <= 1 or record.get("split", "train") == "train":
        return looks.identity_of(record["id"])
    held_out = max(1, looks.identities // 4)
    return looks.identities + stable_seed(looks.seed, record["id"], "held-out") % held_out


def corpus_records(corpora: list[str]):
    for folder in corpora:
        root = Path(folder)
        if not (root / "manifest.jsonl").is_file():
            raise InputError(root, "not a corpus folder (no manifest.jsonl)")
        for record in read_manifest(root):
            yield root, record


def finished_clips(out: Path) -> set[str]:
    """Ids already on the faces manifest with their frames on disk (a torn last line is left out)."""
    path = out / "manifest.jsonl"
    if not path.is_file():
        return set()
    done = set()
    for line in path.read_text("utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and (out / str(record.get("frames", ""))).is_file():
            done.add(record["id"])
    return done


def check_settings(out: Path, settings: dict) -> None:
    path = out / "faces.json"
    if path.exists():
        saved = read_json(path)
        if saved != settings:
            raise InputError(path, f"this faces set was built with other settings ({saved}); use a new --out")
    else:
        write_json(path, settings)


def parse_args(argv=None) -> FacesArgs:
    parser = argparse.ArgumentParser(prog="mouthpiece-train faces", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", required=True, help="a corpus folder (repeatable)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--identities", type=int, default=0)
    parser.add_argument("--vary-render", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="only the first minutes of the corpora")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--workers", type=int, default=1, help="processes drawing clips at once")
    parser.add_argument("--full-faces", action="store_true",
                        help="also write the whole 96 x 96 crops (`face`), for the lip-sync generator")
    a = parser.parse_args(argv)
    return FacesArgs(a.corpus, a.out, a.identities, a.vary_render, a.seed, a.max_minutes, progress=not a.quiet,
                     full_faces=a.full_faces)


def main(argv=None) -> int:
    args = parse_args(argv)
    count = build(args)
    print(f"wrote {count} clips to {os.path.abspath(args.out)}")
    return 0
