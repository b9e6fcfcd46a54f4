"""`mouthpiece-train eval-nerf`: the NeRF renderer in the paper's table shape (models-spec §3).

Every run renders the held-out ("val") frames of a frame folder from their true conditions (landmarks,
blink, audio feature) through their own cameras; the real frames are composited over the run's background.
- PSNR and SSIM over the whole frame (training/eval_lipsync_metrics.py).
- LMD: the mouth landmarks (iBUG 48-67) MediaPipe Face Mesh finds on the render and on the real frame, each
  set centred on its mean, mean Euclidean distance in pixels. Frames where either has no face are skipped
  and counted. "LMD input" compares the true landmarks, projected through the frame's camera, with
  MediaPipe's on the render: whether the render follows its conditioning (the real frames' row gives the
  tracker's own disagreement with the truth).
- Sync: each held-out utterance whose audio the folder names, its frames in order, cut to the lip-sync
  expert's 48x96 lower face (the face box of the utterance's projected true landmarks, the same box for
  renders and real frames), scored with the expert (backend/score.py): LSE-C, LSE-D and the mouth's offset.
The audio feature is the 80-band log-mel (training/nerf/conditions.py), standing in for DeepSpeech's.
"""
from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .args import option, parse, split_list
from .eval_nerf_report import finite_json, write_report

REAL = "real frames"
MOUTH = slice(48, 68)
FPS = 25.0


@dataclass
class Args:
    frames: str = option(help="frame folder with held-out frames (mouthpiece-train nerf-frames)")
    runs: str = option(help="LABEL=RUN/model pairs, comma separated (the ablation rows are runs too)")
    expert: str = option("", "lip-sync expert checkpoint (default: the shipped one)")
    max_frames: int = option(250, "held-out frames at most, the first ones (0: all)")
    out: str = option("assets/eval/nerf", "folder for README.md and nerf_eval.json")
    driven: str = option("", "labels of runs also rendered from the landmark side's landmarks and blinks "
                             "(the product's path: audio -> nerf-landmarks -> renderer), comma separated")
    landmarks_model: str = option("", "nerf-landmarks checkpoint for --driven (default: the shipped one)")
    threads: int = option(1, "torch CPU threads")
    device: str = option("cpu", "cpu or cuda", choices=("cpu", "cuda"))
    quiet: bool = option(False, "no progress bar")


# ---- measures ---------------------------------------------------------------------------------------------

def image_numbers(renders: np.ndarray, real: np.ndarray) -> dict:
    """Mean PSNR (dB; inf when every frame is identical) and mean SSIM of uint8 (N, H, W, 3) frame pairs."""
    from .eval_lipsync_metrics import masked_psnr, ssim

    psnr = [masked_psnr(r, t) for r, t in zip(renders, real)]
    return {"psnr": float(np.mean(psnr)), "ssim": float(np.mean([ssim(r, t) for r, t in zip(renders, real)]))}


def mouth_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) LMD of (N, 68, >=2) landmark sets: the mouth points (48-67) of each set centred on their mean,
    the mean Euclidean distance between corresponding points, in the points' units."""
    mouth_a = np.asarray(a, np.float64)[..., MOUTH, :2]
    mouth_b = np.asarray(b, np.float64)[..., MOUTH, :2]
    mouth_a = mouth_a - mouth_a.mean(axis=-2, keepdims=True)
    mouth_b = mouth_b - mouth_b.mean(axis=-2, keepdims=True)
    return np.linalg.norm(mouth_a - mouth_b, axis=-1).mean(axis=-1)


def landmark_numbers(render_points, render_found, real_points, real_found, truth) -> dict:
    """LMD render vs real and true landmarks vs render, over the frames where the tracker found the faces."""
    both = render_found & real_found
    return {"lmd": mean_or_none(mouth_distances(render_points[both], real_points[both])),
            "lmd_input": mean_or_none(mouth_distances(truth[render_found], render_points[render_found])),
            "faces_render": int(render_found.sum()), "faces_real": int(real_found.sum()),
            "lmd_skipped": int((~both).sum())}


def mean_or_none(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def track_mouths(frames: np.ndarray, spans: dict[str, np.ndarray], tracker) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's (N, 68, 2) pixel landmarks and (N,) found flags; each utterance is tracked on its own.
    No tracker (mediapipe missing): nothing is found."""
    points = np.zeros((len(frames), 68, 2), np.float32)
    found = np.zeros(len(frames), bool)
    if tracker is None:
        return points, found
    for index in spans.values():
        tracked, hit = tracker.track(frames[index])
        points[index], found[index] = tracked[..., :2], hit
    return points, found


# ---- held-out frames and utterances -----------------------------------------------------------------------

def utterance_frames(clip_ids: list[str] | None, count: int) -> dict[str, np.ndarray]:
    """{utterance: its frame indices in order}, utterances in order of first appearance; one unnamed
    utterance when the folder does not name them."""
    if clip_ids is None:
        return {"": np.arange(count)}
    spans: dict[str, list[int]] = {}
    for i, name in enumerate(clip_ids):
        spans.setdefault(name, []).append(i)
    return {name: np.asarray(index) for name, index in spans.items()}


def first_frames(clip, count: int):
    """The clip's first `count` frames (all when count is 0 or more than it has)."""
    if count <= 0 or count >= len(clip):
        return clip
    ids = None if clip.clip_ids is None else clip.clip_ids[:count]
    return replace(clip, images=clip.images[:count], intrinsics=clip.intrinsics[:count],
                   cameras=clip.cameras[:count], landmarks=clip.landmarks[:count], blink=clip.blink[:count],
                   audio=clip.audio[:count], clip_ids=ids)


def projected_truth(clip) -> np.ndarray:
    """(N, 68, 2) pixel positions of each frame's true landmarks through its camera."""
    from .nerf.render import project_points

    return np.stack([project_points(clip.intrinsics[i], clip.cameras[i], clip.landmarks[i]) for i in range(len(clip))])


def utterance_audio(clip, name: str, frames: int) -> np.ndarray | None:
    """16 kHz audio of an utterance, cut or padded to `frames` at 25 fps; None when the folder names none or
    the file is gone."""
    from backend.audio import load_audio
    from backend.errors import MouthpieceError

    path = (clip.clip_audio or {}).get(name)
    if not path or not Path(path).is_file():
        return None
    try:
        samples = load_audio(path)
    except MouthpieceError:
        return None
    n = int(round(frames / FPS * 16000))
    return np.pad(samples[:n], (0, max(0, n - len(samples))))


def sync_numbers(expert, frames: np.ndarray, truth: np.ndarray, spans: dict, audio: dict) -> dict:
    """Mean LSE-C, LSE-D and offset over the utterances with audio that are long enough to score."""
    from backend.errors import InputError
    from backend.facecrop import crop_faces
    from backend.facerender import face_box
    from backend.score import score_lower_faces

    scores = {}
    for name, index in spans.items():
        if audio.get(name) is None:
            continue
        lower = crop_faces(frames[index], face_box(np.median(truth[index], axis=0)))
        try:
            score = score_lower_faces(expert, lower, audio[name])
        except InputError:  # too short for the expert's windows
            continue
        scores[name] = {"lse_c": score.confidence, "lse_d": score.distance, "offset": score.offset_frames}
    if not scores:
        return {"sync_clips": 0}
    keys = ("lse_c", "lse_d", "offset")
    return {**{key: float(np.mean([s[key] for s in scores.values()])) for key in keys},
            "sync_clips": len(scores), "per_clip": scores}


# ---- rows -------------------------------------------------------------------------------------------------

@dataclass
class Context:
    folder: str
    max_frames: int
    expert: object | None
    tracker: object | None
    device: str
    quiet: bool
    driven: tuple[str, ...] = ()
    landmarks: object | None = None  # the nerf-landmarks runtime behind the driven rows


def held_out(context: Context, background) -> tuple:
    """(the held-out clip over `background`, its utterance spans, projected true landmarks, audio per span,
    the rest face)."""
    from backend.errors import InputError

    from .nerf.frames import read_frame_folder

    folder = read_frame_folder(context.folder, tuple(background))
    clip = first_frames(folder.val, context.max_frames)
    if not len(clip):
        raise InputError(context.folder, "has no held-out ('val') frames to evaluate on")
    spans = utterance_frames(clip.clip_ids, len(clip))
    usable = context.expert is not None and abs(folder.fps - FPS) < 1e-6
    audio = {name: utterance_audio(clip, name, len(index)) if usable else None for name, index in spans.items()}
    return clip, spans, projected_truth(clip), audio, folder.neutral


def driven_clip(clip, spans: dict, audio: dict, neutral: np.ndarray, runtime, seed: int = 0):
    """The clip with each utterance's landmarks and blinks from the landmark side, given its audio (the
    rest face plus predicted offsets); utterances without audio keep their true conditions."""
    landmarks, blink = clip.landmarks.copy(), clip.blink.copy()
    for number, (name, index) in enumerate(spans.items()):
        if audio.get(name) is None:
            continue
        offsets, closure = runtime.predict(audio[name], seed + number)
        rows = np.minimum(np.arange(len(index)), len(offsets) - 1)
        landmarks[index] = neutral[None] + offsets[rows]
        blink[index] = closure[rows]
    return replace(clip, landmarks=landmarks.astype(np.float32), blink=blink.astype(np.float32))


def render_held_out(model, clip, device: str, quiet: bool, label: str) -> np.ndarray:
    import torch
    from tqdm import tqdm

    from .nerf.source import render_frame

    frames = np.empty_like(clip.images)
    for i in tqdm(range(len(clip)), desc=f"eval-nerf {label}", unit="frame", disable=quiet):
        image = render_frame(model, clip, i, torch.device(device)).cpu().numpy()
        frames[i] = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    return frames


def measure(context: Context, model, clip, spans: dict, truth: np.ndarray, audio: dict, real: tuple,
            label: str) -> dict:
    """One row: the clip rendered from its conditions, against the real frames."""
    renders = render_held_out(model, clip, context.device, context.quiet, label)
    points, found = track_mouths(renders, spans, context.tracker)
    return {"conditions": conditions_of(model.config), "frames": len(clip), **image_numbers(renders, clip.images),
            **landmark_numbers(points, found, *real, truth),
            **(sync_numbers(context.expert, renders, truth, spans, audio) if context.expert else {})}


def conditions_of(config) -> str:
    used = [name for name, on in (("landmarks", config.use_landmarks), ("blink", config.use_blink),
                                  ("audio", config.use_audio)) if on]
    return " + ".join(used) or "none"


def evaluate(context: Context, runs: dict[str, str]) -> dict:
    from backend.errors import InputError

    from .nerf.portrait import load_portrait

    rows, reals, cache = {}, {}, {}
    for label, path in runs.items():
        model = load_portrait(path, context.folder, context.device).model
        background = tuple(float(v) for v in model.config.background)
        if background not in cache:
            cache[background] = held_out(context, background)
            clip, spans, truth, audio, neutral = cache[background]
            points, found = track_mouths(clip.images, spans, context.tracker)
            reals[background] = (points, found)
        clip, spans, truth, audio, neutral = cache[background]
        if model.config.audio_dim != clip.audio.shape[1]:
            raise InputError(path, f"was trained on {model.config.audio_dim}-long audio features, the frames "
                                   f"have {clip.audio.shape[1]}")
        rows[label] = measure(context, model, clip, spans, truth, audio, reals[background], label)
        if label in context.driven and model.config.use_landmarks:
            if neutral is None or not any(a is not None for a in audio.values()):
                raise InputError(context.folder, "needs neutral_landmarks and each utterance's audio for --driven")
            driven = driven_clip(clip, spans, audio, neutral, context.landmarks)
            row = measure(context, model, driven, spans, truth, audio, reals[background], f"{label} driven")
            row["lmd_landmarks"] = mean_or_none(mouth_distances(projected_truth(driven), truth))
            rows[f"{label}, driven by nerf-landmarks"] = row
    background = next(iter(cache))
    clip, spans, truth, audio, _ = cache[background]
    points, found = reals[background]
    rows[REAL] = {"conditions": "–", "frames": len(clip), "faces_real": int(found.sum()),
                  "lmd_input": mean_or_none(mouth_distances(truth[found], points[found])),
                  **(sync_numbers(context.expert, clip.images, truth, spans, audio) if context.expert else {})}
    return rows


# ---- command ----------------------------------------------------------------------------------------------

def run_pairs(text: str) -> dict[str, str]:
    from backend.errors import MouthpieceError

    pairs = [pair.split("=", 1) for pair in split_list(text)]
    if not pairs or any(len(pair) != 2 or not pair[0] or not pair[1] for pair in pairs):
        raise MouthpieceError(f"--runs takes LABEL=RUN/model pairs, not {text!r}")
    return dict(pairs)


def load_expert(path: str):
    """The lip-sync expert `path` names (an error when it is bad), else the shipped one, else None."""
    from backend.errors import InputError
    from backend.runtime.sync_expert import SyncExpert
    from backend.score import find_expert

    if path:
        return SyncExpert.load(find_expert(path))
    try:
        return SyncExpert.load(find_expert())
    except InputError:
        return None


def make_tracker():
    from backend.errors import ToolError

    from .datasets.landmarks import MediaPipeTracker

    try:
        return MediaPipeTracker()
    except ToolError:
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train eval-nerf", __doc__.splitlines()[0])
    import torch

    from backend.errors import MouthpieceError

    from .nerf.portrait import landmark_runtime

    torch.set_num_threads(max(1, args.threads))
    if args.device == "cuda" and not torch.cuda.is_available():
        print("mouthpiece-train eval-nerf: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    try:
        runs = run_pairs(args.runs)
        expert = load_expert(args.expert)
        driven = tuple(split_list(args.driven))
        context = Context(args.frames, args.max_frames, expert, make_tracker(), args.device, args.quiet, driven,
                          landmark_runtime(args.landmarks_model or None) if driven else None)
        rows = evaluate(context, runs)
    except MouthpieceError as err:
        print(f"mouthpiece-train eval-nerf: {err}", file=sys.stderr)
        return 2
    results = {"command": shlex.join(argv if argv is not None else sys.argv[1:]), "expert": expert is not None,
               "tracker": context.tracker is not None, "rows": rows}
    write_report(Path(args.out), results)
    print(json.dumps(finite_json({name: {k: v for k, v in row.items() if k != "per_clip"}
                                  for name, row in rows.items()}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
