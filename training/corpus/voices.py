"""The corpus voices (espeak-ng, festival, flite), their pitch and rate ranges, and the split by voice.

Every engine returns 16 kHz mono audio and its own phone timings, mapped to the project's phone sets
("arpabet" for English, "spanish" for Spanish), so the labels follow exactly what was spoken.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.audio import SAMPLE_RATE, make_safe, resample
from backend.errors import InputError, ToolError
from backend.phones import SILENCE, Phone, PhoneTimeline

from .sentences import ARPABET_39


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker. `rate` is words per minute for espeak-ng and a duration stretch
    (1.0 = the voice's own pace, larger is slower) for festival and flite; `pitch` is espeak's 0-99."""

    engine: str  # "espeak" | "festival" | "flite"
    name: str
    language: str
    rate: tuple[float, float]
    pitch: tuple[int, int] = (50, 50)

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


@dataclass(frozen=True)
class Speech:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    timeline: PhoneTimeline

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def _espeak(name: str, language: str, pitch_centre: int, rate_centre: float) -> Voice:
    return Voice("espeak", name, language, (rate_centre - 20, rate_centre + 20), (pitch_centre - 12, pitch_centre + 12))


# espeak-ng accents and variants first (fastest), then festival and flite.
CATALOGUE: tuple[Voice, ...] = (
    _espeak("en-us", "en", 48, 170), _espeak("es", "es", 50, 165),
    _espeak("en-gb-x-rp+f3", "en", 55, 165), _espeak("es-419+f2", "es", 55, 160),
    _espeak("en-gb-scotland", "en", 45, 160), _espeak("es-419", "es", 45, 175),
    _espeak("en-us+f4", "en", 58, 180), _espeak("es+f4", "es", 58, 170),
    _espeak("en-029+m3", "en", 40, 165), _espeak("es+m3", "es", 40, 180),
    _espeak("en", "en", 50, 175), _espeak("es-419+m7", "es", 42, 155),
    _espeak("en-us-nyc+m2", "en", 44, 185),
    _espeak("en-gb-x-gbclan+f2", "en", 54, 170),
    _espeak("en-gb-x-gbcwmd", "en", 47, 160),
    _espeak("en-gb-x-rp+m4", "en", 42, 175),
    Voice("festival", "kal_diphone", "en", (0.9, 1.15)),
    Voice("festival", "ked_diphone", "en", (0.9, 1.15)),
    Voice("festival", "cmu_us_slt_arctic_hts", "en", (0.9, 1.2)),
    Voice("flite", "awb", "en", (0.9, 1.2)),
    Voice("flite", "rms", "en", (0.9, 1.2)),
    Voice("flite", "slt", "en", (0.9, 1.2)),
    Voice("flite", "kal", "en", (0.9, 1.2)),
    Voice("flite", "kal16", "en", (0.9, 1.2)),
)

# festival and flite speak the "radio" phone set: ARPAbet in lower case plus a few allophones.
RADIO_TO_ARPABET = {"ax": "AH", "axr": "ER", "ix": "IH", "dx": "D", "el": "L", "em": "M", "en": "N",
                    "nx": "N", "hv": "HH", "pau": SILENCE, "h#": SILENCE, "brth": SILENCE, "ssil": SILENCE}


def catalogue(languages: tuple[str, ...], per_language: int | None = None,
              ids: tuple[str, ...] = ()) -> tuple[Voice, ...]:
    """The voices for `languages`: all of them, the first `per_language` of each, or those named."""
    if ids:
        by_id = {v.id: v for v in CATALOGUE}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise InputError("--voices", f"unknown voice(s) {', '.join(unknown)}; known: {', '.join(by_id)}")
        return tuple(by_id[i] for i in ids if by_id[i].language in languages)
    chosen = []
    for language in languages:
        voices = [v for v in CATALOGUE if v.language == language]
        chosen += voices[:per_language] if per_language else voices
    return tuple(chosen)


def available_engines() -> dict[str, bool]:
    return {"espeak": True, "festival": shutil.which("festival") is not None,
            "flite": shutil.which("flite") is not None}


def assign_splits(voices: tuple[Voice, ...], seed: int) -> dict[str, list[str]]:
    """Disjoint train/val/test voices per language: about 15% each for val and test (one each when a
    language has three or more voices; with two, one trains and one tests)."""
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    rng = np.random.default_rng(seed)
    for language in sorted({v.language for v in voices}):
        ids = [v.id for v in voices if v.language == language]
        order = [ids[i] for i in rng.permutation(len(ids))]
        n_test = max(1, round(0.15 * len(ids))) if len(ids) >= 2 else 0
        n_val = max(1, round(0.15 * len(ids))) if len(ids) >= 3 else 0
        splits["test"] += order[:n_test]
        splits["val"] += order[n_test:n_test + n_val]
        splits["train"] += order[n_test + n_val:]
    return splits


def synthesize(voice: Voice, text: str, rate: float, pitch: int) -> Speech:
    if voice.engine == "espeak":
        return _espeak_speech(voice, text, rate, pitch)
    with tempfile.TemporaryDirectory(prefix="mouthpiece-tts-") as folder:
        wav = Path(folder) / "speech.wav"
        if voice.engine == "festival":
            ends = _festival(voice.name, text, rate, wav, Path(folder) / "say.scm")
        elif voice.engine == "flite":
            ends = _flite(voice.name, text, rate, wav)
        else:
            raise ValueError(f"unknown speech engine {voice.engine!r}")
        audio = _read_16k(wav)
    return Speech(audio, timeline_from_ends(ends, len(audio) / SAMPLE_RATE, "arpabet"))


def _espeak_speech(voice: Voice, text: str, rate: float, pitch: int) -> Speech:
    from backend.text import synthesize as espeak_synthesize

    result = espeak_synthesize(text, language=voice.language, voice=voice.name, rate_wpm=int(round(rate)),
                               pitch=int(pitch))
    audio = np.asarray(result.audio, dtype=np.float32)
    if result.sample_rate != SAMPLE_RATE:
        audio = resample(audio, result.sample_rate, SAMPLE_RATE)
    return Speech(make_safe(audio), fit_timeline(result.timeline, len(audio) / SAMPLE_RATE))


def _festival(name: str, text: str, stretch: float, wav: Path, script: Path) -> list[tuple[str, float]]:
    quoted = text.replace("\\", " ").replace('"', " ")
    script.write_text(
        f"(voice_{name})\n(Parameter.set 'Duration_Stretch {stretch:.3f})\n"
        f"(set! u (utt.synth (Utterance Text \"{quoted}\")))\n(utt.save.wave u \"{wav}\" 'riff)\n"
        "(mapcar (lambda (s) (format t \"%s %f\\n\" (item.name s) (item.feat s \"end\")))"
        " (utt.relation.items u 'Segment))\n", encoding="utf-8")
    out = _run(["festival", "--batch", str(script)], "festival")
    pairs = [line.split() for line in out.splitlines() if len(line.split()) == 2]
    return [(label, float(end)) for label, end in pairs]


def _flite(name: str, text: str, stretch: float, wav: Path) -> list[tuple[str, float]]:
    out = _run(["flite", "-voice", name, "--setf", f"duration_stretch={stretch:.3f}", "-psdur",
                "-t", text, "-o", str(wav)], "flite")
    pairs = [item.rsplit(":", 1) for item in out.split() if ":" in item]
    return [(label, float(end)) for label, end in pairs]


def _run(command: list[str], tool: str) -> str:
    if shutil.which(command[0]) is None:
        raise ToolError(f"{tool} is not installed (apt install {tool})")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ToolError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return done.stdout


def _read_16k(path: Path) -> np.ndarray:
    import soundfile

    samples, rate = soundfile.read(path, dtype="float32", always_2d=False)
    samples = samples.mean(axis=1) if samples.ndim == 2 else samples
    return make_safe(resample(samples, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else samples)


def radio_to_arpabet(label: str) -> str:
    if label in RADIO_TO_ARPABET:
        return RADIO_TO_ARPABET[label]
    upper = label.upper()
    if upper not in ARPABET_39:
        raise ToolError(f"speech engine produced phone {label!r}, which has no ARPAbet equivalent")
    return upper


def timeline_from_ends(ends: list[tuple[str, float]], duration_s: float, phone_set: str) -> PhoneTimeline:
    phones, start = [], 0.0
    for label, end in ends:
        end = min(end, duration_s)
        if end > start:
            phones.append(Phone(radio_to_arpabet(label), start, end))
            start = end
    return fit_timeline(PhoneTimeline(tuple(phones), phone_set), duration_s)


def fit_timeline(timeline: PhoneTimeline, duration_s: float) -> PhoneTimeline:
    """Clip the timeline to the audio and close it with silence, so it spans exactly [0, duration]."""
    phones = [Phone(p.label, p.start, min(p.end, duration_s)) for p in timeline.phones if p.start < duration_s]
    if not phones or phones[0].start > 0:
        phones.insert(0, Phone(SILENCE, 0.0, phones[0].start if phones else duration_s))
    if phones[-1].end < duration_s:
        phones.append(Phone(SILENCE, phones[-1].end, duration_s))
    merged: list[Phone] = []
    for phone in (p for p in phones if p.end > p.start):
        if merged and phone.label == SILENCE == merged[-1].label:
            merged[-1] = Phone(SILENCE, merged[-1].start, phone.end)
        else:
            merged.append(phone)
    return PhoneTimeline(tuple(merged), timeline.phone_set, timeline.words)

