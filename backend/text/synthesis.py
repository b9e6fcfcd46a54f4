"""Text to speech with exact phone timings (espeak-ng phoneme events), and text to phones (G2P)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import InputError
from ..phones import SILENCE, Phone, PhoneTimeline, Word
from . import espeak
from .phonesets import is_pause, phone_set_for, strip_stress, to_phone_set

# The voice a bare language code speaks with; ARPAbet is a US English phone set.
DEFAULT_VOICES = {"en": "en-us"}
WORD_RUN = re.compile(r"\w+")


@dataclass(frozen=True)
class Synthesis:
    """Synthesized speech and its phone timeline; phone times are exact positions in `audio`."""

    audio: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    timeline: PhoneTimeline

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab and newline


def voice_for(language: str, voice: str | None = None) -> str:
    return voice or DEFAULT_VOICES.get(language.lower(), language)


def synthesize(text: str, language: str = "en", voice: str | None = None, rate_wpm: int = 175,
               pitch: int = 50) -> Synthesis:
    """Speak `text` with espeak-ng (`voice`, or the language's default voice) and time every phone.

    The phone set follows the language of the voice that speaks: ARPAbet for English, the Spanish set for
    Spanish, raw espeak mnemonics otherwise.
    """
    text = CONTROL_CHARACTERS.sub(" ", text or "")  # the C library would stop at a NUL
    if not text.strip():
        raise InputError(None, "no text to speak (the text is empty)")
    if not 80 <= rate_wpm <= 450:
        raise InputError(None, f"speaking rate {rate_wpm} words per minute is outside 80..450")
    if not 0 <= pitch <= 100:
        raise InputError(None, f"pitch {pitch} is outside 0..100")
    engine = espeak.engine()
    with engine.lock:
        raw = engine.synthesize(text, voice_for(language, voice), rate_wpm, pitch)
    if raw.audio.size == 0 or not any(e.kind == espeak.EVENT_PHONEME and not is_pause(strip_stress(e.phoneme))
                                      for e in raw.events):
        raise InputError(None, f"espeak-ng produced no speech for the text {text[:40]!r}")
    timeline = build_timeline(raw, text, phone_set_for(raw.language or language))
    audio = raw.audio.astype(np.float32) / 32768.0
    return Synthesis(audio=audio, sample_rate=raw.sample_rate, timeline=timeline)


class _Span(NamedTuple):
    event: int  # index in the event list of the phoneme event it comes from
    label: str
    start: int  # samples
    end: int


def build_timeline(raw: espeak.RawSynthesis, text: str, phone_set: str) -> PhoneTimeline:
    """Phones from consecutive phoneme events (each ends where the next begins), words from word events."""
    spans = _merge_silences([s for s in _phone_spans(raw, phone_set) if s.end > s.start])
    rate = raw.sample_rate
    phones = tuple(Phone(s.label, s.start / rate, s.end / rate) for s in spans)
    return PhoneTimeline(phones=phones, phone_set=phone_set, words=_words(raw, text, spans))


def _phone_spans(raw: espeak.RawSynthesis, phone_set: str) -> list[_Span]:
    total = len(raw.audio)
    indexed = [(i, e) for i, e in enumerate(raw.events) if e.kind == espeak.EVENT_PHONEME]
    starts = np.minimum(np.maximum.accumulate([e.sample for _, e in indexed]), total).tolist()
    ends = starts[1:] + [total]
    spans = [_Span(-1, SILENCE, 0, starts[0])]
    for (index, event), start, end in zip(indexed, starts, ends):
        labels = to_phone_set(event.phoneme, phone_set)
        if labels:
            spans.extend(_split(index, labels, start, end))
        else:  # a transition with no phone of its own: the phone before it lasts longer
            spans[-1] = spans[-1]._replace(end=end)
    return spans


def _split(event: int, labels: tuple[str, ...], start: int, end: int) -> list[_Span]:
    """Share one event's samples evenly between the phones it maps to."""
    edges = np.linspace(start, end, len(labels) + 1).round().astype(int)
    return [_Span(event, label, int(a), int(b)) for label, a, b in zip(labels, edges[:-1], edges[1:])]


def _merge_silences(spans: list[_Span]) -> list[_Span]:
    merged: list[_Span] = []
    for span in spans:
        if merged and span.label == SILENCE and merged[-1].label == SILENCE:
            merged[-1] = merged[-1]._replace(end=span.end)
        else:
            merged.append(span)
    return merged


def _words(raw: espeak.RawSynthesis, text: str, spans: list[_Span]) -> tuple[Word, ...]:
    """A word spans the speech phones whose events follow its word event, up to the next word event."""
    word_events = [(i, e) for i, e in enumerate(raw.events) if e.kind == espeak.EVENT_WORD]
    words = []
    for (index, event), following in zip(word_events, word_events[1:] + [(len(raw.events), None)]):
        inside = [s for s in spans if index < s.event < following[0] and s.label != SILENCE]
        if inside:
            rate = raw.sample_rate
            words.append(Word(_spelling(text, event), inside[0].start / rate, inside[-1].end / rate))
    return tuple(words)


def _spelling(text: str, event: espeak.Event) -> str:
    """The word's characters; espeak reports a zero length for some words, e.g. after a curly quote."""
    first = max(event.text_position - 1, 0)
    if event.length > 0:
        return text[first:first + event.length]
    match = WORD_RUN.match(text, first)
    return match.group(0) if match else text[first:first + 1]


def phonemize_word(word: str, language: str = "en") -> list[str]:
    """The word's phones in the language's phone set, from espeak-ng's rules and dictionary (a G2P)."""
    if not word or not word.strip():
        raise InputError(None, "no word to phonemize (empty)")
    engine = espeak.engine()
    with engine.lock:
        clauses = engine.text_to_phonemes(word, voice_for(language))
    phone_set = phone_set_for(language)
    phones: list[str] = []
    for mnemonic in "|".join(clauses).replace(" ", "|").split("|"):
        if strip_stress(mnemonic) and not is_pause(strip_stress(mnemonic)):
            phones.extend(to_phone_set(mnemonic, phone_set))
    return [p for p in phones if p != SILENCE]


def list_voices(language: str | None = None) -> list[espeak.Voice]:
    """Installed espeak-ng voices, optionally only those whose language starts with `language`."""
    engine = espeak.engine()
    with engine.lock:
        voices = engine.voices()
    if language:
        prefix = language.lower()
        voices = [v for v in voices if v.language.lower() == prefix or v.language.lower().startswith(prefix + "-")]
    return voices
