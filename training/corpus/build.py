"""Build the synthetic corpus: plan utterances deterministically from the seed, then synthesize, label
(and optionally render) them in parallel, appending each finished utterance to the manifest.

The plan is an endless, seed-determined sequence of utterances (language, voice, sentence, rate, pitch,
articulation style); a build takes the shortest prefix whose estimated speech reaches `minutes`. Each
utterance depends only on its own plan entry, so the corpus does not depend on the number of workers,
and a killed build resumes by building the planned utterances the manifest does not list yet. (One
limit: espeak-ng keeps a little state between calls, so with several workers its audio can differ from
a one-worker build by a few samples; with --workers 1 a build is byte for byte the same.)
"""
from __future__ import annotations

import multiprocessing
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from backend.articulation import ArticulationStyle
from backend.audio import SAMPLE_RATE, save_wav
from backend.errors import InputError

from . import manifest as mf
from .labels import LABEL_FPS, draw_style, make_labels, save_npz
from .sentences import CoveragePicker, supported_languages
from .variation import Looks
from .voices import Voice, assign_splits, catalogue, synthesize

SECONDS_PER_PHONE = 0.0725  # at espeak-ng 170 wpm; measured over a 1029-utterance build
ESPEAK_REFERENCE_WPM = 170.0
PAUSE_S = 0.35  # leading and trailing silence per utterance


@dataclass(frozen=True)
class BuildOptions:
    out: Path
    minutes: float
    languages: tuple[str, ...] = ("en", "es")
    seed: int = 0
    workers: int = 2
    render: bool = False
    identities: int = 0  # rendered faces: identities 0..N-1 of assets/head/identity.py (0: the default head)
    vary_render: bool = False  # each rendered clip gets its own light, camera and background
    blinks: bool = True  # speech-aware blinks in the labels (training/corpus/blinks.py)
    voices: tuple[str, ...] = ()  # voice ids to use; empty means the catalogue
    voices_per_language: int | None = None  # the first N catalogue voices of each language
    progress: bool = True


@dataclass(frozen=True)
class Utterance:
    id: str
    language: str
    voice: Voice
    split: str
    text: str
    rate: float
    pitch: int
    style: ArticulationStyle
    estimated_s: float = field(compare=False)


def plan(options: BuildOptions, voices: tuple[Voice, ...], splits: dict[str, list[str]]) -> list[Utterance]:
    split_of = {voice: name for name, ids in splits.items() for voice in ids}
    by_language = {lang: [v for v in voices if v.language == lang] for lang in options.languages}
    pickers = {lang: CoveragePicker(lang) for lang in options.languages}
    rng = np.random.default_rng(options.seed)
    target_s, total_s, utterances = options.minutes * 60.0, 0.0, []
    while total_s < target_s:
        index = len(utterances)
        language = options.languages[index % len(options.languages)]
        language_voices = by_language[language]
        voice = language_voices[(index // len(options.languages)) % len(language_voices)]
        sentence = pickers[language].pick(rng)
        rate = round(float(rng.uniform(*voice.rate)), 3)
        pitch = int(rng.integers(voice.pitch[0], voice.pitch[1] + 1))
        style = draw_style(rng, seed=options.seed * 1_000_003 + index)
        estimated = estimate_seconds(len(sentence.phones), voice, rate)
        utterances.append(Utterance(f"u{index:06d}-{language}", language, voice, split_of[voice.id],
                                    sentence.text, rate, pitch, style, estimated))
        total_s += estimated
    return utterances


def estimate_seconds(n_phones: int, voice: Voice, rate: float) -> float:
    pace = ESPEAK_REFERENCE_WPM / rate if voice.engine == "espeak" else rate
    return n_phones * SECONDS_PER_PHONE * pace + PAUSE_S


def build_utterance(utterance: Utterance, root: Path, render: bool, blinks: bool = True,
                    looks: Looks = Looks()) -> dict:
    """Synthesize, label (and render) one utterance; return its manifest record once all files exist."""
    speech = synthesize(utterance.voice, utterance.text, utterance.rate, utterance.pitch)
    audio_path = Path("audio") / f"{utterance.id}.wav"
    labels_path = Path("labels") / f"{utterance.id}.npz"
    labels = make_labels(speech.timeline, speech.duration_s, utterance.style, blinks)
    save_wav(root / audio_path, speech.audio, SAMPLE_RATE)
    save_npz(root / labels_path, labels)
    frames_path, shot = None, {}
    if render:
        from .heads import identity_blend
        from .render import render_utterance

        frames_path = Path("frames") / f"{utterance.id}.npz"
        face, variation = looks.identity_of(utterance.id), looks.variation_of(utterance.id)
        render_utterance(labels["weights"], LABEL_FPS, speech.duration_s, root / frames_path,
                         identity_blend(root, face), variation)
        shot = {"identity": face, "render": asdict(variation) if variation else None}
    return {"id": utterance.id, "language": utterance.language, "voice": utterance.voice.id,
            "engine": utterance.voice.engine, "split": utterance.split, "text": utterance.text,
            "duration_s": round(speech.duration_s, 4), "sample_rate": SAMPLE_RATE,
            "audio": audio_path.as_posix(), "labels": labels_path.as_posix(),
            "frames": frames_path.as_posix() if frames_path else None,
            "rate": utterance.rate, "pitch": utterance.pitch,
            "style": {k: v for k, v in asdict(utterance.style).items() if k != "seed"}, **shot}


def _build_job(job: tuple[Utterance, str, bool, bool, Looks]) -> dict:
    utterance, root, render, blinks, looks = job
    return build_utterance(utterance, Path(root), render, blinks, looks)


def check_config(root: Path, config: dict) -> None:
    """A resumed build must be the same corpus: same seed, languages, voices and render choices."""
    path = root / mf.CONFIG
    if not path.is_file():
        return
    previous = mf.read_json(path)
    absent = {"blinks": False, "identities": 0, "vary_render": False}  # what older corpora were built with
    for key in ("seed", "languages", "voices", "render", "label_fps", "blinks", "identities", "vary_render"):
        before, now = previous.get(key, absent.get(key)), config.get(key, absent.get(key))
        if before != now:
            raise InputError(path, f"this folder holds a corpus built with {key}={before!r}, "
                                   f"not {now!r}; choose another --out or the same options")


def build(options: BuildOptions) -> dict:
    """Build (or resume) the corpus in `options.out`; return a summary."""
    for language in options.languages:
        if language not in supported_languages():
            raise InputError("--languages", f"unsupported language {language!r}; "
                                            f"supported: {', '.join(supported_languages())}")
    voices = catalogue(options.languages, options.voices_per_language, options.voices)
    missing = [lang for lang in options.languages if not any(v.language == lang for v in voices)]
    if missing:
        raise InputError("--voices", f"no voice selected for language(s) {', '.join(missing)}")
    if options.identities < 0:
        raise InputError("--identities", f"must be 0 or more, not {options.identities}")
    if (options.identities or options.vary_render) and not options.render:
        raise InputError("--identities", "--identities and --vary-render need --render")
    root = Path(options.out)
    splits = assign_splits(voices, options.seed)
    config = corpus_config(options, voices)
    check_config(root, config)
    root.mkdir(parents=True, exist_ok=True)
    mf.write_json(root / mf.SPLITS, splits)
    mf.write_json(root / mf.CONFIG, config)
    planned = plan(options, voices, splits)
    done = {r["id"] for r in mf.repair(root)}
    pending = [u for u in planned if u.id not in done]
    started = time.perf_counter()
    built_s = run_jobs(root, pending, options)
    elapsed = time.perf_counter() - started
    records = mf.read_manifest(root)
    mf.rewrite(root, records)
    write_coverage(root)
    return {"utterances": len(records), "built": len(pending), "built_audio_s": built_s,
            "elapsed_s": elapsed, "hours": sum(r["duration_s"] for r in records) / 3600.0}


def run_jobs(root: Path, pending: list[Utterance], options: BuildOptions) -> float:
    from tqdm import tqdm

    looks = Looks(options.seed, options.identities, options.vary_render)
    jobs = [(u, str(root), options.render, options.blinks, looks) for u in pending]
    built_s = 0.0
    bar = tqdm(total=len(jobs), unit="utt", desc="corpus", disable=not options.progress)
    with mf.ManifestAppender(root) as appender:
        for record in _results(jobs, options.workers):
            appender.append(record)
            built_s += record["duration_s"]
            bar.update(1)
            bar.set_postfix(speech_min=f"{built_s / 60:.1f}")
    bar.close()
    return built_s


def _results(jobs: list, workers: int):
    if workers <= 1 or len(jobs) <= 1:
        yield from map(_build_job, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        yield from pool.imap_unordered(_build_job, jobs, chunksize=1)


def write_coverage(root: Path) -> None:
    """coverage.json: per language, each phone's occurrences and seconds, and the phones never heard."""
    from .report import summarise

    mf.write_json(root / "coverage.json", summarise(root)["phone_coverage"])


def corpus_config(options: BuildOptions, voices: tuple[Voice, ...]) -> dict:
    from .tools import tool_versions

    return {"format": "mouthpiece.corpus", "version": 1, "seed": options.seed,
            "languages": list(options.languages), "minutes": options.minutes,
            "voices": [v.id for v in voices], "render": options.render, "blinks": options.blinks,
            "identities": options.identities, "vary_render": options.vary_render,
            "label_fps": LABEL_FPS,
            "sample_rate": SAMPLE_RATE, "frames_fps": 25.0 if options.render else None,
            "tools": tool_versions()}
