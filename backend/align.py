"""Forced alignment and recognition of English speech with pocketsphinx (bundled US English model, 16 kHz).

Short audio is decoded in one piece, in this process. Long audio is cut at pauses into chunks that a
process pool decodes on every core; chunk times are shifted back and stitched into one timeline.
"""
from __future__ import annotations

import logging
import sys
import threading
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Sequence

import numpy as np

from .alignment_confidence import alignment_confidence
from .audio import SAMPLE_RATE, add_noise_floor, resample
from .errors import InputError, ToolError
from .parallel import Progress, map_chunks, usable_cores
from .phones import SILENCE, Phone, PhoneTimeline, Word
from .text.normalize import normalize_transcript
from .text.phonesets import ARPABET

log = logging.getLogger(__name__)

FRAME_S = 0.01  # pocketsphinx's frame rate is 100 per second
SPEECH_PHONES = frozenset(ARPABET) - {SILENCE}
# One search pass and a cap on active HMMs: about 3x faster than pocketsphinx's defaults on the librivox
# clips, and no worse word error rate there (bench/bench_phonemes.py measures both).
RECOGNITION_CONFIG = {"fwdflat": False, "bestpath": False, "maxhmmpf": 3000, "maxwpf": 10, "topn": 2}
# Alignment scores the top 2 Gaussians, not 4, and searches every second frame: about 1.8x faster than the
# defaults; on the librivox clips the mean boundary moves 6 ms from the default alignment (median 0 ms).
ALIGN_CONFIG = {"bestpath": False, "topn": 2, "ds": 2}
# Retried when the narrow search loses the transcript's path (it happens on some synthetic voices).
WIDE_ALIGN_CONFIG = {"bestpath": False, "beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80}
# Recognition as pocketsphinx ships it (two search passes and a lattice): slower, more accurate, and an
# independent second opinion on the fast search's words.
FULL_RECOGNITION_CONFIG: dict = {}
# Placing a long transcript only to find pauses to cut at: coarser scoring, about 1.6x faster.
SCAN_CONFIG = {"bestpath": False, "ds": 2, "topn": 2}

@dataclass(frozen=True)
class AlignOptions:
    workers: int = 0
    """Processes used on long audio; 0 means one per core."""
    long_s: float = 30.0
    """Audio at least this long is cut at pauses into chunks (decoded in parallel when workers allow)."""
    chunk_s: float = 10.0
    """Target length of those chunks."""
    noise_dbfs: float = -60.0
    """Level of the noise added before decoding: pocketsphinx fails on digital silence."""
    seed: int = 0
    """Seed of that noise, so a result can be reproduced."""


@dataclass(frozen=True)
class _Piece:
    """A decoded chunk, times relative to its own start."""

    phones: tuple[Phone, ...]
    words: tuple[Word, ...]
    text: str = ""
    word_scores: tuple[float, ...] = ()
    """acoustic score per frame of each placed word"""
    widened: bool = False
    """only the wide beam could place the words"""


def align(audio: np.ndarray, sample_rate: int, transcript: str, progress: Progress | None = None,
          options: AlignOptions = AlignOptions()) -> PhoneTimeline:
    """Forced alignment of `transcript` to the speech: ARPAbet phones and words with times in seconds."""
    words = normalize_transcript(transcript or "")
    if not words:
        raise InputError(None, "the transcript has no words to align")
    pcm = prepare_pcm(audio, sample_rate, options)
    if _is_long(pcm, options):
        cuts, chunk_words = _split_transcript(pcm, words, options)
        jobs = [(chunk, tuple(ws)) for chunk, ws in zip(_slices(pcm, cuts), chunk_words)]
    else:
        cuts, jobs = [], [(pcm, tuple(words))]
    pieces = map_chunks(_align_job, jobs, _workers(options), progress, "aligned")
    return _stitch(pieces, cuts, len(pcm))


def recognize(audio: np.ndarray, sample_rate: int, progress: Progress | None = None,
              options: AlignOptions = AlignOptions()) -> str:
    """The words pocketsphinx hears, lower case, separated by spaces."""
    pcm = prepare_pcm(audio, sample_rate, options)
    cuts = _pause_cuts(pcm, options)
    texts = map_chunks(_recognize_job, _slices(pcm, cuts), _workers(options), progress, "recognised")
    return " ".join(text for text in texts if text)


def recognize_scored(audio: np.ndarray, sample_rate: int, options: AlignOptions = AlignOptions()
                     ) -> tuple[str, float]:
    """The words the full search hears, and a confidence in [0, 1]: their agreement with the fast search
    (1 - word error rate between the two), low where the audio leaves the recogniser guessing."""
    pcm = prepare_pcm(audio, sample_rate, options)
    chunks = _slices(pcm, _pause_cuts(pcm, options))
    full = " ".join(t for t in map_chunks(_full_recognize_job, chunks, _workers(options)) if t).split()
    fast = " ".join(t for t in map_chunks(_recognize_job, chunks, _workers(options)) if t).split()
    return " ".join(full), word_agreement(full, fast)


def word_agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """1 - (word edit distance / the longer length); 0 when either is empty."""
    if not a or not b:
        return 0.0
    return max(0.0, 1.0 - word_edit_distance(a, b) / max(len(a), len(b)))


def word_edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance in words: substitutions, insertions and deletions turning a into b."""
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


def transcribe_and_align(audio: np.ndarray, sample_rate: int, progress: Progress | None = None,
                         options: AlignOptions = AlignOptions()) -> PhoneTimeline:
    """Recognise the words, then align them: a phone timeline for audio without a transcript."""
    pcm = prepare_pcm(audio, sample_rate, options)
    cuts = _pause_cuts(pcm, options)
    pieces = map_chunks(_transcribe_job, _slices(pcm, cuts), _workers(options), progress, "transcribed")
    return _stitch(pieces, cuts, len(pcm))


# ---- audio ------------------------------------------------------------------------------------------------

def prepare_pcm(audio: np.ndarray, sample_rate: int, options: AlignOptions = AlignOptions()) -> np.ndarray:
    """Mono 16 kHz int16 samples with a little noise, as the decoder wants them."""
    samples = np.asarray(audio)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1 or samples.size == 0:
        raise InputError(None, f"expected mono audio samples, got an array of shape {np.shape(audio)}")
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples / float(np.iinfo(samples.dtype).max)
    samples = samples.astype(np.float32)
    if not np.all(np.isfinite(samples)):
        raise InputError(None, "the audio holds NaN or infinite samples")
    if sample_rate <= 0:
        raise InputError(None, f"invalid sample rate {sample_rate}")
    if sample_rate != SAMPLE_RATE:
        samples = resample(samples, int(sample_rate), SAMPLE_RATE)
    samples = add_noise_floor(samples, options.noise_dbfs, options.seed)
    return (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def vad_pauses(pcm: np.ndarray, min_pause_s: float = 0.15) -> list[tuple[float, float]]:
    """(start, end) seconds of the pauses pocketsphinx's voice activity detector finds."""
    import pocketsphinx

    vad = pocketsphinx.Vad(pocketsphinx.Vad.LOOSE, SAMPLE_RATE)
    step = vad.frame_bytes // 2
    speech = [vad.is_speech(pcm[i:i + step].tobytes()) for i in range(0, len(pcm) - step + 1, step)]
    pauses, start = [], None
    for index, is_speech in enumerate(speech + [True]):
        if not is_speech and start is None:
            start = index
        elif is_speech and start is not None:
            if (index - start) * vad.frame_length >= min_pause_s:
                pauses.append((start * vad.frame_length, index * vad.frame_length))
            start = None
    return pauses


def plan_cuts(pauses: Sequence[tuple[float, float]], duration: float, chunk_s: float) -> list[float]:
    """Cut times (seconds) that keep chunks near `chunk_s`, each in the middle of the longest nearby pause."""
    cuts: list[float] = []
    start = 0.0
    while duration - start > 1.5 * chunk_s:
        window = [p for p in pauses if start + 0.5 * chunk_s <= (p[0] + p[1]) / 2 <= start + 1.5 * chunk_s]
        if window:
            pause = max(window, key=lambda p: (p[1] - p[0], -abs((p[0] + p[1]) / 2 - start - chunk_s)))
            cut = (pause[0] + pause[1]) / 2
        else:
            cut = start + chunk_s
            log.warning("no pause near %.1f s: cutting the audio mid-speech", cut)
        cuts.append(round(cut, 2))
        start = cut
    return cuts


def _pause_cuts(pcm: np.ndarray, options: AlignOptions) -> list[float]:
    """Where long audio is cut, from the voice activity detector; none for short audio."""
    if not _is_long(pcm, options):
        return []
    return plan_cuts(vad_pauses(pcm), len(pcm) / SAMPLE_RATE, options.chunk_s)


def _slices(pcm: np.ndarray, cuts: Sequence[float]) -> list[np.ndarray]:
    edges = [0] + [int(round(c * SAMPLE_RATE)) for c in cuts] + [len(pcm)]
    return [pcm[a:b] for a, b in zip(edges[:-1], edges[1:])]


def _is_long(pcm: np.ndarray, options: AlignOptions) -> bool:
    return len(pcm) / SAMPLE_RATE >= options.long_s


def _workers(options: AlignOptions) -> int:
    if "bpy" in sys.modules:
        return 1  # inside Blender, spawned workers could not import the add-on's vendored backend
    if options.workers > 0:
        return options.workers
    return usable_cores()


# ---- decoding (runs in this process or in pool workers) ---------------------------------------------------

_DECODER_LOCK = threading.Lock()


@lru_cache(maxsize=None)
def _decoder(kind: str):
    """This process's decoders: 'align' and 'scan' (dictionary only), 'recognize' (with the language model)."""
    try:
        import pocketsphinx
    except ImportError as exc:
        raise ToolError(f"pocketsphinx is not installed ({exc})") from exc
    if kind == "align":
        return pocketsphinx.Decoder(loglevel="FATAL", lm=None, **ALIGN_CONFIG)
    if kind == "align_wide":
        return pocketsphinx.Decoder(loglevel="FATAL", lm=None, **WIDE_ALIGN_CONFIG)
    if kind == "scan":
        return pocketsphinx.Decoder(loglevel="FATAL", lm=None, **SCAN_CONFIG)
    if kind == "recognize_full":
        return pocketsphinx.Decoder(loglevel="FATAL", **FULL_RECOGNITION_CONFIG)
    return pocketsphinx.Decoder(loglevel="FATAL", **RECOGNITION_CONFIG)


def _decode(decoder, pcm: np.ndarray) -> None:
    decoder.reinit_feat()  # noise and CMN estimates otherwise carry over from the previous utterance
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()


def _known_words(decoder, words: Sequence[str]) -> list[str]:
    """Add out-of-vocabulary words with espeak-ng pronunciations; drop a word nothing can pronounce."""
    from .text import phonemize_word

    known = []
    for word in words:
        if decoder.lookup_word(word) is None:
            phones = [p for p in phonemize_word(word, "en") if p in SPEECH_PHONES]
            if not phones:
                log.warning("no pronunciation for %r: left out of the alignment", word)
                continue
            decoder.add_word(word, " ".join(phones), True)
        known.append(word)
    return known


def _align_job(job: tuple[np.ndarray, tuple[str, ...]]) -> _Piece:
    pcm, words = job
    with _DECODER_LOCK:
        decoder, segments = _placed_words(pcm, words)
        scores = _word_scores(decoder) if segments else ()  # before the phone pass decodes again
        widened = decoder is _decoder("align_wide")
        alignment = _phone_pass(decoder, pcm) if segments else None
        if alignment is None:
            return replace(_even_phones(decoder, segments, len(pcm)), word_scores=scores, widened=widened)
        phones = tuple(Phone(_phone_label(e.name), e.start * FRAME_S, (e.start + e.duration) * FRAME_S)
                       for e in alignment.phones())
        words_out = tuple(Word(_word_text(e.name), e.start * FRAME_S, (e.start + e.duration) * FRAME_S)
                          for e in alignment.words() if not _is_filler(e.name))
    return _Piece(phones, words_out, word_scores=scores, widened=widened)


def _word_scores(decoder) -> tuple[float, ...]:
    """The last word pass's acoustic score per frame of each spoken word (fillers and silences left out)."""
    scores = []
    for segment in decoder.seg() or ():
        frames = segment.end_frame + 1 - segment.start_frame
        if frames > 0 and not _is_filler(segment.word):
            scores.append(math.log(max(segment.ascore, 1e-300)) / frames)
    return tuple(scores)


def _word_pass(decoder, pcm: np.ndarray, words: Sequence[str]) -> list[tuple[str, int, int]]:
    """Words (and fillers) placed in the audio: (name, first frame, end frame); [] if no word is pronounceable."""
    words = _known_words(decoder, words)
    if not words:
        return []
    decoder.set_align_text(" ".join(words))
    try:
        _decode(decoder, pcm)
    except RuntimeError as exc:
        raise ToolError(f"pocketsphinx could not align the transcript to the audio ({exc})") from exc
    segments = [(s.word, s.start_frame, s.end_frame + 1) for s in decoder.seg() or ()]
    if not segments:
        raise _misfit(words, len(pcm))
    return segments


def _placed_words(pcm: np.ndarray, words: Sequence[str]):
    """(decoder, word segments): the fast search first, a wide beam only when it loses the path."""
    try:
        return _decoder("align"), _word_pass(_decoder("align"), pcm, words)
    except InputError:
        wide = _decoder("align_wide")
        return wide, _word_pass(wide, pcm, words)


def _phone_pass(decoder, pcm: np.ndarray):
    """Phone and word alignment within the last word pass's placement; None if pocketsphinx fails at it."""
    try:
        decoder.set_alignment()
        _decode(decoder, pcm)
        return decoder.get_alignment()
    except RuntimeError as exc:
        log.warning("phone alignment failed (%s); spreading dictionary phones over the aligned words", exc)
        return None


def _misfit(words: Sequence[str], n_samples: int) -> InputError:
    return InputError(None, f"the transcript ({len(words)} words) does not fit the {n_samples / SAMPLE_RATE:.1f} s "
                            "of audio: check that it matches the speech")


def _even_phones(decoder, segments: list[tuple[str, int, int]], n_samples: int) -> _Piece:
    """Dictionary phones spread evenly over each placed word: the fallback when the phone pass fails."""
    if not segments:
        return _Piece((Phone(SILENCE, 0.0, n_samples / SAMPLE_RATE),), ())
    phones, words = [], []
    for name, first, end in segments:
        if _is_filler(name):
            phones.append(Phone(SILENCE, first * FRAME_S, end * FRAME_S))
            continue
        labels = (decoder.lookup_word(_word_text(name)) or "AH").split()
        edges = np.linspace(first, end, len(labels) + 1) * FRAME_S
        phones.extend(Phone(label, float(a), float(b)) for label, a, b in zip(labels, edges[:-1], edges[1:]))
        words.append(Word(_word_text(name), first * FRAME_S, end * FRAME_S))
    return _Piece(tuple(phones), tuple(words))


def _recognize_job(pcm: np.ndarray, kind: str = "recognize") -> str:
    decoder = _decoder(kind)
    with _DECODER_LOCK:
        try:
            _decode(decoder, pcm)
        except RuntimeError as exc:
            raise ToolError(f"pocketsphinx recognition failed ({exc})") from exc
        hypothesis = decoder.hyp()
    return hypothesis.hypstr.strip() if hypothesis else ""


def _full_recognize_job(pcm: np.ndarray) -> str:
    return _recognize_job(pcm, "recognize_full")


def _transcribe_job(pcm: np.ndarray) -> _Piece:
    text = _recognize_job(pcm)
    words = tuple(normalize_transcript(text))
    if not words:
        return _Piece((Phone(SILENCE, 0.0, len(pcm) / SAMPLE_RATE),), (), "")
    piece = _align_job((pcm, words))
    return _Piece(piece.phones, piece.words, text)


def _phone_label(name: str) -> str:
    return name if name in SPEECH_PHONES else SILENCE


def _word_text(name: str) -> str:
    return name.split("(")[0]


def _is_filler(name: str) -> bool:
    return name.startswith(("<", "[", "+"))


# ---- long audio -------------------------------------------------------------------------------------------

def _split_transcript(pcm: np.ndarray, words: list[str], options: AlignOptions
                      ) -> tuple[list[float], list[list[str]]]:
    """A coarse word-level pass over the whole audio places the words; cuts go in the pauses between them."""
    decoder = _decoder("scan")
    with _DECODER_LOCK:
        segments = [(name, a * FRAME_S, b * FRAME_S) for name, a, b in _word_pass(decoder, pcm, words)]
    spoken = [s for s in segments if not _is_filler(s[0])]
    pauses = [(a, b) for name, a, b in segments if _is_filler(name)]
    pauses += [(x[2], y[1]) for x, y in zip(spoken, spoken[1:]) if y[1] > x[2]]
    cuts = plan_cuts(sorted(pauses), len(pcm) / SAMPLE_RATE, options.chunk_s)
    chunk_words: list[list[str]] = [[] for _ in range(len(cuts) + 1)]
    for name, start, end in spoken:
        chunk_words[int(np.searchsorted(cuts, (start + end) / 2))].append(_word_text(name))
    return cuts, chunk_words


def _stitch(pieces: Sequence[_Piece], cuts: Sequence[float], n_samples: int) -> PhoneTimeline:
    """Shift each chunk's phones to its place; fill gaps with silence and merge neighbouring silences."""
    offsets = [0.0] + list(cuts)
    total = n_samples / SAMPLE_RATE
    phones: list[Phone] = []
    words: list[Word] = []
    for offset, piece, end in zip(offsets, pieces, list(cuts) + [total]):
        for phone in piece.phones:
            _append(phones, Phone(phone.label, offset + phone.start, min(offset + phone.end, end)))
        words.extend(Word(w.text, offset + w.start, offset + w.end) for w in piece.words)
        _append(phones, Phone(SILENCE, phones[-1].end if phones else 0.0, end))
    return PhoneTimeline(phones=tuple(phones), phone_set="arpabet", words=tuple(words),
                         confidence=_confidence(pieces))


def _confidence(pieces: Sequence[_Piece]) -> float | None:
    scores = [score for piece in pieces for score in piece.word_scores]
    widened = sum(len(piece.word_scores) for piece in pieces if piece.widened)
    return alignment_confidence(scores, widened / len(scores) if scores else 0.0)


def _append(phones: list[Phone], phone: Phone) -> None:
    start = phones[-1].end if phones else 0.0
    if phone.start > start + 1e-6:
        _append(phones, Phone(SILENCE, start, phone.start))
        start = phone.start
    if phone.end <= start + 1e-6:
        return
    if phones and phone.label == SILENCE and phones[-1].label == SILENCE:
        phones[-1] = Phone(SILENCE, phones[-1].start, phone.end)
    else:
        phones.append(Phone(phone.label, start, phone.end))
