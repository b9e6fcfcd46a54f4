"""Turn a real audiovisual dataset's clips into a corpus folder with the synthetic corpus's format.

Pass 1, per clip: extract the audio (ffmpeg, 16 kHz mono) and track 68 landmarks per frame (kept under
tracks/ so an interrupted import resumes). Pass 2, per speaker: normalise pose into speaker-relative
displacements on the default head, resample to the labels' 100 fps and append each utterance to the
manifest once its files are complete. Real data has no blendshape weights: they are stored empty.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend import headmodel
from backend.errors import InputError

from ..corpus import manifest as mf
from ..corpus.labels import LABEL_FPS, label_frames, load_labels, save_npz
from .landmarks import fill_missing, make_tracker
from .media import extract_audio, read_image_sequence, read_video
from .normalize import speaker_relative


@dataclass(frozen=True)
class SourceClip:
    """One utterance of a dataset, as its adapter finds it on disk."""

    id: str
    speaker: str
    text: str
    audio: Path  # a video with sound, or a WAV
    video: Path | None = None  # a video file, or
    frames_dir: Path | None = None  # a folder of numbered images (with `fps`)
    fps: float | None = None
    split: str | None = None  # the dataset's own split, where it has one
    words: tuple[tuple[str, float, float], ...] = ()


@dataclass(frozen=True)
class ImportOptions:
    kind: str
    root: Path
    out: Path
    tracker: str = "auto"
    seed: int = 0
    limit: int | None = None  # import only the first N clips (in id order)


def split_speakers(speakers: list[str], fixed: dict[str, str], seed: int) -> dict[str, list[str]]:
    """Speakers with a split from the dataset keep it; the others go about 70/15/15 to train/val/test."""
    splits: dict[str, list[str]] = {name: [] for name in mf.SPLIT_NAMES}
    free = sorted(s for s in speakers if s not in fixed)
    order = [free[i] for i in np.random.default_rng(seed).permutation(len(free))]
    n_test = max(1, round(0.15 * len(order))) if len(order) >= 2 and not any(v == "test" for v in fixed.values()) else 0
    n_val = max(1, round(0.15 * len(order))) if len(order) >= 3 else 0
    assigned = {s: "test" for s in order[:n_test]} | {s: "val" for s in order[n_test:n_test + n_val]}
    for speaker in sorted(speakers):
        splits[fixed.get(speaker) or assigned.get(speaker, "train")].append(speaker)
    return splits


def import_clips(clips: list[SourceClip], options: ImportOptions, progress: bool = True) -> dict:
    if not clips:
        raise InputError(options.root, f"no {options.kind} clips found here (check the folder layout)")
    clips = sorted(clips, key=lambda c: c.id)[: options.limit]
    out = Path(options.out)
    check_previous(out, options)
    out.mkdir(parents=True, exist_ok=True)
    voice = {c.id: f"{options.kind}:{c.speaker}" for c in clips}
    fixed = {voice[c.id]: c.split for c in clips if c.split}
    splits = split_speakers(sorted(set(voice.values())), fixed, options.seed)
    mf.write_json(out / mf.SPLITS, splits)
    mf.write_json(out / mf.CONFIG, {"format": "mouthpiece.corpus", "version": 1, "source": options.kind,
                                    "root": str(Path(options.root).resolve()), "tracker": options.tracker,
                                    "label_fps": LABEL_FPS, "sample_rate": 16000, "seed": options.seed})
    track_all(clips, out, options.tracker, progress)
    split_of = {v: name for name, voices in splits.items() for v in voices}
    written = write_labels(clips, out, voice, split_of, options.kind)
    records = mf.read_manifest(out)
    mf.rewrite(out, records)
    return {"utterances": len(records), "written": written, "speakers": len(set(voice.values()))}


def check_previous(out: Path, options: ImportOptions) -> None:
    config = out / mf.CONFIG
    if config.is_file() and mf.read_json(config).get("source") != options.kind:
        raise InputError(config, f"this folder holds another corpus, not a {options.kind} import; choose another --out")


def track_all(clips: list[SourceClip], out: Path, tracker_name: str, progress: bool) -> None:
    from tqdm import tqdm

    untracked = [c for c in clips if not (out / "tracks" / f"{c.id}.npz").is_file()]
    tracker = make_tracker(tracker_name) if untracked else None
    for clip in tqdm(untracked, unit="clip", desc="tracking", disable=not progress):
        frames, fps = read_frames(clip)
        points, found = tracker.track(frames)
        points = fill_missing(points, found, clip.video or clip.frames_dir)
        duration = extract_audio(clip.audio, out / "audio" / f"{clip.id}.wav")
        save_npz(out / "tracks" / f"{clip.id}.npz",
                 {"points": points, "found": found, "fps": np.float32(fps), "duration_s": np.float32(duration),
                  "image_size": np.array(frames.shape[2:0:-1]), "tracker": np.array(tracker.name)})


def read_frames(clip: SourceClip) -> tuple[np.ndarray, float]:
    if clip.video is not None:
        return read_video(clip.video)
    if clip.frames_dir is None or not clip.fps:
        raise ValueError(f"clip {clip.id} has neither a video nor image frames with a frame rate")
    return read_image_sequence(clip.frames_dir, clip.fps)


def write_labels(clips: list[SourceClip], out: Path, voice: dict, split_of: dict, kind: str) -> int:
    done = {r["id"] for r in mf.repair(out)}
    by_speaker: dict[str, list[SourceClip]] = defaultdict(list)
    for clip in clips:
        by_speaker[voice[clip.id]].append(clip)
    neutral = headmodel.load().neutral
    written = 0
    with mf.ManifestAppender(out) as appender:
        for speaker, speaker_clips in sorted(by_speaker.items()):
            if all(c.id in done for c in speaker_clips):
                continue
            tracks = [load_labels(out / "tracks" / f"{c.id}.npz") for c in speaker_clips]
            normalised = speaker_relative([t["points"] for t in tracks], neutral)
            for clip, track, landmarks in zip(speaker_clips, tracks, normalised):
                if clip.id in done:
                    continue
                path = Path("labels") / f"{clip.id}.npz"
                save_npz(out / path, clip_labels(clip, track, landmarks, neutral))
                appender.append(record_for(clip, track, path, speaker, split_of[speaker], kind))
                written += 1
    return written


def clip_labels(clip: SourceClip, track: dict, landmarks: np.ndarray, neutral: np.ndarray) -> dict:
    duration = float(track["duration_s"])
    n = label_frames(duration)
    source = np.minimum(np.round(np.arange(n) / LABEL_FPS * float(track["fps"])).astype(int), len(landmarks) - 1)
    words = np.array([w for w, _, _ in clip.words], dtype=str)
    return {"fps": np.float32(LABEL_FPS), "weights": np.zeros((0, 46), np.float32),
            "landmarks3d": landmarks[source].astype(np.float32),
            "landmarks2d": track["points"][source, :, :2].astype(np.float32),
            "neutral3d": neutral.astype(np.float32),
            "phones": np.array([], dtype=str), "phone_times": np.zeros((0, 2), np.float32),
            "phone_set": np.array("none"), "words": words,
            "word_times": np.array([[s, e] for _, s, e in clip.words], np.float32).reshape(-1, 2)}


def record_for(clip: SourceClip, track: dict, labels_path: Path, voice: str, split: str, kind: str) -> dict:
    return {"id": clip.id, "language": "en", "voice": voice, "engine": kind, "split": split, "text": clip.text,
            "duration_s": round(float(track["duration_s"]), 4), "sample_rate": 16000,
            "audio": f"audio/{clip.id}.wav", "labels": labels_path.as_posix(), "frames": None,
            "video_fps": round(float(track["fps"]), 3), "face_found": round(float(np.mean(track["found"])), 3),
            "source": os.fspath(clip.video or clip.frames_dir)}
