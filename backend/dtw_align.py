"""Forced alignment for any espeak-ng language: warp espeak-ng's speech of the transcript onto the recording.

espeak-ng speaks the transcript and reports where each of its phones lies in its own audio. Both signals
become speaker-normalised features at a 10 ms hop (cepstra without c0 and their deltas, normalised over the
voiced frames, plus the level under the loudest frames); dynamic time warping finds the monotonic map from
the recording's frames to the synthetic ones, and every synthetic phone boundary is carried across it to
the recording's time axis.

- Speaking rate: espeak-ng speaks again at a rate that gives it as much voiced time as the recording has,
  so the warp stays near the diagonal.
- Silence: both signals are trimmed to their speech (with a margin); the synthetic speech is padded with
  silence, its inner pauses are shortened, and a row of silence between each two words lets the recording
  pause where the transcript has no punctuation. The warp may hold on one synthetic row for as long as
  the recording pauses; a long hold on such a row becomes a SIL phone.
- Memory: the warp keeps one byte per cell it searches. Long audio is first warped coarsely (means of
  5 frames, inside a band around the diagonal sized to a fixed budget), then at full resolution inside a
  band around that coarse path, so memory grows in proportion to the audio's length.

numpy only (no librosa), so it runs inside Blender too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .audio import SAMPLE_RATE, add_noise_floor, resample
from .dtw import COARSE_BLOCK, band_limits, block_means, diagonal, warp
from .errors import InputError
from .phones import SILENCE, Phone, PhoneTimeline, Word

FRAME_S = 0.01
HOP = int(SAMPLE_RATE * FRAME_S)  # 160 samples
WINDOW = 400  # 25 ms analysis window
N_FFT = 512
N_MELS = 40
MEL_RANGE_HZ = (60.0, 7600.0)
PRE_EMPHASIS = 0.97
POWER_FLOOR = 1e-10
DELTA_REACH = 2  # frames either side in the delta regression
WORD_CHARACTER = re.compile(r"\w")
RATE_LIMITS_WPM = (80, 450)  # what backend.text.synthesize accepts
MISFIT_FACTOR = 2.0  # a transcript that would need a rate this far outside those limits does not fit
FULL_CELLS = 4_000_000  # a warp this small (about 20 s against 20 s) runs over the whole matrix
COARSE_CELLS = 16_000_000  # the coarse warp's band: at most this many cells (bytes)


@dataclass(frozen=True)
class DtwOptions:
    voice: str | None = None
    """espeak-ng voice of the synthetic reference; None means the language's default voice."""
    rate_wpm: int = 175
    """Speaking rate of the first synthesis, in words per minute."""
    match_rate: bool = True
    """Speak again at a rate that matches the recording's voiced time."""
    n_cepstra: int = 13
    """Cepstral coefficients per frame, c0 (the level) left out."""
    deltas: bool = True
    """Append the cepstra's time derivatives."""
    band_s: float = 1.0
    """Long audio: half-width in seconds of the band around the coarse warp that the fine warp keeps to."""
    pad_s: float = 0.3
    """Silence put before and after the synthetic speech, to match the recording's silences against."""
    margin_s: float = 0.15
    """Silence kept around the speech when both signals are trimmed."""
    max_pause_s: float = 0.1
    """Longer pauses in the synthetic speech are shortened to this before warping."""
    silence_db: float = 35.0
    """Frames this far under the loud frames' level are silent."""
    noise_dbfs: float = -60.0
    """Faint noise added to the synthetic speech so that its silence reads like a quiet room."""
    level_weight: float = 3.0
    """Weight of the frame level (dB under the loud frames, per 10 dB) appended to the features."""
    min_pause_s: float = 0.1
    """A pause between words that the transcript does not mark is kept only when at least this long."""
    off_diagonal_weight: float = 1.3
    """Cost factor of a frame that holds or skips along the synthetic speech: above 1 favours the diagonal."""


@dataclass(frozen=True)
class _Signal:
    """Normalised features of the rows to warp, and each row's place in its signal, in frames."""

    features: np.ndarray  # (n, d) float32
    positions: np.ndarray  # (n,) increasing; a pause row put in between two frames lies between them
    voiced_frames: int
    pause_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # optional pauses' rows


@dataclass(frozen=True)
class _Reference:
    """The synthetic speech: its padded timeline (zero-length SIL phones mark optional pauses) and rows."""

    timeline: PhoneTimeline
    signal: _Signal


def align_by_synthesis(audio: np.ndarray, sample_rate: int, transcript: str, language: str,
                       options: DtwOptions = DtwOptions()) -> PhoneTimeline:
    """Phones and words of `transcript` placed in the recording, in the phone set espeak-ng's voice gives."""
    _require_words(transcript)
    voice = _checked_voice(language, options.voice)
    samples = _mono_16k(audio, sample_rate)
    duration = len(audio) / sample_rate
    recording = _recording_signal(samples, options)
    reference = _matched_reference(transcript, language, voice, recording, options)
    path = warp_path(recording.features, reference.signal.features, options)
    return _carried_timeline(reference, path, recording.positions, duration, options)


# ---- checks and input -------------------------------------------------------------------------------------

def _require_words(transcript: str) -> None:
    if not transcript or not WORD_CHARACTER.search(transcript):
        raise InputError(None, "the transcript has no words to align")


def _checked_voice(language: str, voice: str | None) -> str:
    """The espeak-ng voice that speaks `language`; one clear error if espeak-ng has none."""
    from .text.espeak import check_voice
    from .text.synthesis import voice_for

    name = voice_for(language, voice)
    try:
        check_voice(name)
    except InputError:
        if voice:
            raise
        raise InputError(None, f"espeak-ng has no voice for language {language!r}") from None
    return name


def _mono_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    samples = np.asarray(audio)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples / float(np.iinfo(samples.dtype).max)
    samples = samples.astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1 or samples.size == 0:
        raise InputError(None, f"expected mono audio samples, got an array of shape {np.shape(audio)}")
    if not np.all(np.isfinite(samples)):
        raise InputError(None, "the audio holds NaN or infinite samples")
    if sample_rate <= 0:
        raise InputError(None, f"invalid sample rate {sample_rate}")
    return resample(samples, int(sample_rate), SAMPLE_RATE) if sample_rate != SAMPLE_RATE else samples


# ---- features -----------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, evenly spaced on the mel scale."""
    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def to_hz(mel):
        return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(MEL_RANGE_HZ[0]), to_mel(MEL_RANGE_HZ[1]), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    rising = (bins[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    falling = (edges[2:, None] - bins[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


@lru_cache(maxsize=None)
def dct_matrix(n_out: int, n_in: int = N_MELS) -> np.ndarray:
    """(n_out, n_in) orthonormal DCT-II rows."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    matrix = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


def analysis_frames(samples: np.ndarray) -> np.ndarray:
    """(frames, WINDOW) strided view: frame k is centred on sample k * HOP."""
    padded = np.pad(samples.astype(np.float32), (WINDOW // 2, WINDOW // 2 + HOP))
    return np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP][:len(samples) // HOP + 1]


def log_mel_frames(samples: np.ndarray, block_frames: int = 1000) -> np.ndarray:
    """(frames, N_MELS) log mel power of the pre-emphasised signal, a block of frames at a time."""
    emphasised = np.append(samples[:1], samples[1:] - PRE_EMPHASIS * samples[:-1])
    frames = analysis_frames(emphasised)
    window = np.hamming(WINDOW).astype(np.float32)
    out = np.empty((len(frames), N_MELS), np.float32)
    for first in range(0, len(frames), block_frames):
        spectrum = np.fft.rfft(frames[first:first + block_frames] * window, n=N_FFT, axis=1)
        power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
        out[first:first + block_frames] = np.log(power @ mel_filterbank().T + POWER_FLOOR)
    return out


def frame_levels_db(samples: np.ndarray) -> np.ndarray:
    """RMS level of each 25 ms frame in dB, on the feature frames' grid."""
    frames = analysis_frames(samples)
    power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / WINDOW
    return 10.0 * np.log10(power + POWER_FLOOR)


def cepstra(log_mel: np.ndarray, options: DtwOptions) -> np.ndarray:
    """Cepstra without c0, with deltas when the options ask for them."""
    coefficients = log_mel @ dct_matrix(options.n_cepstra + 1).T
    coefficients = coefficients[:, 1:]
    if options.deltas:
        coefficients = np.hstack([coefficients, deltas(coefficients)])
    return coefficients


def deltas(features: np.ndarray, reach: int = DELTA_REACH) -> np.ndarray:
    """The standard regression estimate of each feature's slope over +-`reach` frames."""
    padded = np.pad(features, ((reach, reach), (0, 0)), mode="edge")
    n = len(features)
    ks = range(1, reach + 1)
    slope = sum(k * (padded[reach + k:reach + k + n] - padded[reach - k:reach - k + n]) for k in ks)
    return slope / (2.0 * sum(k * k for k in ks))


def voiced_mask(levels_db: np.ndarray, silence_db: float) -> np.ndarray:
    """Frames loud enough to be speech: within `silence_db` of the loud frames, and clear of the noise floor."""
    loud, quiet = np.percentile(levels_db, [95, 10])
    threshold = max(loud - silence_db, quiet + 0.25 * (loud - quiet))
    active = levels_db > threshold
    # A frame counts when most of its neighbourhood does: clicks and short gaps do not move the ends.
    support = np.convolve(active.astype(np.int32), np.ones(5, np.int32))[2:2 + len(active)]
    return support >= 3


def relative_level(levels_db: np.ndarray, floor_db: float = 40.0) -> np.ndarray:
    """Each frame's level under the loud frames' level, per 10 dB, from -floor_db / 10 up to 0."""
    loud = np.percentile(levels_db, 95)
    return (np.clip(levels_db - loud, -floor_db, 0.0) / 10.0).astype(np.float32)


def speech_span(voiced: np.ndarray, margin_frames: int) -> tuple[int, int]:
    """[first, end) frames from the first voiced frame to the last, widened by the margin."""
    indices = np.flatnonzero(voiced)
    if indices.size == 0:
        return 0, len(voiced)
    return max(0, int(indices[0]) - margin_frames), min(len(voiced), int(indices[-1]) + 1 + margin_frames)


def normalised(features: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Cepstral mean and variance normalisation with statistics of the voiced frames only."""
    sample = features[voiced] if voiced.sum() >= 10 else features
    return ((features - sample.mean(axis=0)) / (sample.std(axis=0) + 1e-5)).astype(np.float32)


def frame_features(samples: np.ndarray, options: DtwOptions) -> tuple[np.ndarray, np.ndarray]:
    """(features, voiced mask) of every frame: normalised cepstra, and the level when it has a weight."""
    levels = frame_levels_db(samples)
    voiced = voiced_mask(levels, options.silence_db)
    features = normalised(cepstra(log_mel_frames(samples), options), voiced)
    if options.level_weight > 0:
        features = np.hstack([features, options.level_weight * relative_level(levels)[:, None]])
    return features, voiced


def _recording_signal(samples: np.ndarray, options: DtwOptions) -> _Signal:
    """The recording's frames from its first voiced frame to its last, with a margin."""
    features, voiced = frame_features(samples, options)
    frames = np.arange(*speech_span(voiced, _frames(options.margin_s)))
    return _Signal(features[frames], frames.astype(np.float64), int(voiced.sum()))


def _reference_signal(samples: np.ndarray, timeline: PhoneTimeline, options: DtwOptions) -> _Signal:
    """The synthetic speech's frames, trimmed as the recording is, its long pauses shortened, and a row of
    silence put in at each optional pause (the zero-length SIL phones)."""
    features, voiced = frame_features(samples, options)
    keep = np.zeros(len(voiced), bool)
    keep[slice(*speech_span(voiced, _frames(options.margin_s)))] = True
    for start, stop in _inner_pause_frames(timeline, options):
        keep[start:stop] = False
    frames = np.flatnonzero(keep)
    slots = np.array([p.start / FRAME_S for p in timeline.phones if _is_pause_slot(p)], np.float64)
    slots = np.where(slots == np.floor(slots), slots + 1e-3, slots)  # strictly between two frames
    at = np.searchsorted(frames, slots, side="right")
    silence = features[:max(1, _frames(options.pad_s) // 2)].mean(axis=0)  # the padding before the speech
    rows = np.insert(features[frames], at, silence, axis=0)
    positions = np.insert(frames.astype(np.float64), at, slots)
    return _Signal(rows, positions, int(voiced.sum()), at + np.arange(len(at)))


def _frames(seconds: float) -> int:
    return int(round(seconds / FRAME_S))


def _is_pause_slot(phone: Phone) -> bool:
    return phone.label == SILENCE and phone.end == phone.start


def _inner_pause_frames(timeline: PhoneTimeline, options: DtwOptions) -> list[tuple[int, int]]:
    """[start, end) frames dropped from each inner pause (timeline times are already padded)."""
    dropped = []
    for phone in timeline.phones[1:-1]:
        excess = phone.duration - options.max_pause_s
        if phone.label == SILENCE and excess > 0:
            start = phone.start + options.max_pause_s / 2
            dropped.append((int(np.ceil(start / FRAME_S)), int(np.floor((start + excess) / FRAME_S))))
    return dropped


# ---- the synthetic reference --------------------------------------------------------------------------------

def _synthesized(transcript: str, language: str, voice: str, rate_wpm: int, options: DtwOptions) -> _Reference:
    """espeak-ng's speech at 16 kHz with silence either side, and its timeline with optional pauses."""
    from .text import synthesize

    speech = synthesize(transcript, language, voice=voice, rate_wpm=rate_wpm)
    pad = np.zeros(_frames(options.pad_s) * HOP, np.float32)
    samples = np.concatenate([pad, resample(speech.audio, speech.sample_rate, SAMPLE_RATE), pad])
    samples = add_noise_floor(samples, options.noise_dbfs)
    timeline = with_pause_slots(_shifted(speech.timeline, len(pad) / SAMPLE_RATE))
    return _Reference(timeline, _reference_signal(samples, timeline, options))


def _matched_reference(transcript: str, language: str, voice: str, recording: _Signal,
                       options: DtwOptions) -> _Reference:
    """espeak-ng's speech of the transcript, at a rate matching the recording's voiced time if asked."""
    if recording.voiced_frames == 0:
        raise InputError(None, "the audio holds no speech to align the transcript to")
    reference = _synthesized(transcript, language, voice, options.rate_wpm, options)
    wanted = options.rate_wpm * reference.signal.voiced_frames / recording.voiced_frames
    if not RATE_LIMITS_WPM[0] / MISFIT_FACTOR <= wanted <= RATE_LIMITS_WPM[1] * MISFIT_FACTOR:
        words = len(transcript.split())
        raise InputError(None, f"the transcript ({words} word{'s' if words != 1 else ''}) does not fit the "
                               f"{recording.voiced_frames * FRAME_S:.1f} s of speech in the audio: "
                               "check that it matches the speech")
    rate = int(round(min(max(wanted, RATE_LIMITS_WPM[0]), RATE_LIMITS_WPM[1])))
    if options.match_rate and abs(rate - options.rate_wpm) > 0.05 * options.rate_wpm:
        reference = _synthesized(transcript, language, voice, rate, options)
    return reference


def _shifted(timeline: PhoneTimeline, offset: float) -> PhoneTimeline:
    """The timeline moved later by `offset`, with silence before it and after it of that length."""
    phones = [Phone(SILENCE, 0.0, offset)]
    phones += [Phone(p.label, p.start + offset, p.end + offset) for p in timeline.phones]
    phones.append(Phone(SILENCE, phones[-1].end, phones[-1].end + offset))
    words = tuple(Word(w.text, w.start + offset, w.end + offset) for w in timeline.words)
    return PhoneTimeline(phones=_merged(phones), phone_set=timeline.phone_set, words=words)


def with_pause_slots(timeline: PhoneTimeline) -> PhoneTimeline:
    """A zero-length SIL phone where a word follows another without a pause: the recording may pause there."""
    word_starts = np.array(sorted(w.start for w in timeline.words[1:]))
    phones: list[Phone] = []
    for phone in timeline.phones:
        follows_speech = bool(phones) and phones[-1].label != SILENCE
        if phone.label != SILENCE and follows_speech and _is_among(phone.start, word_starts):
            phones.append(Phone(SILENCE, phone.start, phone.start))
        phones.append(phone)
    return PhoneTimeline(tuple(phones), timeline.phone_set, timeline.words)


def _is_among(time: float, sorted_times: np.ndarray, tolerance: float = 1e-6) -> bool:
    index = int(np.searchsorted(sorted_times, time - tolerance))
    return index < len(sorted_times) and sorted_times[index] <= time + tolerance


# ---- dynamic time warping -----------------------------------------------------------------------------------

def warp_path(recording: np.ndarray, reference: np.ndarray, options: DtwOptions) -> np.ndarray:
    """The warp at full resolution; on long audio inside a band around a coarse warp of block means first."""
    n, m = len(recording), len(reference)
    weight = options.off_diagonal_weight
    if n * m <= FULL_CELLS:
        return warp(recording, reference, np.zeros(n, np.int64), np.full(n, m, np.int64), weight)
    coarse_recording, coarse_reference = block_means(recording), block_means(reference)
    n_coarse, m_coarse = len(coarse_recording), len(coarse_reference)
    half_width = max(1, COARSE_CELLS // (2 * n_coarse))  # the whole matrix when it fits the budget
    coarse = warp(coarse_recording, coarse_reference, *band_limits(diagonal(n_coarse, m_coarse), m_coarse,
                                                                   half_width), weight)
    middle = (COARSE_BLOCK - 1) / 2
    centre = np.interp(np.arange(n), np.arange(n_coarse) * COARSE_BLOCK + middle, coarse * COARSE_BLOCK + middle)
    return warp(recording, reference, *band_limits(centre, m, _frames(options.band_s)), weight)


# ---- carrying the phones across -----------------------------------------------------------------------------

def crossings(path: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Fractional recording rows where the piecewise-linear path first reaches each reference position."""
    index = np.searchsorted(path, positions, side="left")
    after = np.clip(index, 1, len(path) - 1)
    before = after - 1
    rise = np.maximum(path[after] - path[before], 1)
    fraction = np.clip((positions - path[before]) / rise, 0.0, 1.0)
    return np.where(index == 0, 0.0, np.where(index >= len(path), len(path) - 1.0, before + fraction))


def _edge_rows(reference: _Reference) -> np.ndarray:
    """Each phone edge's place among the reference rows; an optional pause spans its row's width."""
    phones, signal = reference.timeline.phones, reference.signal
    times = np.array([phones[0].start] + [p.end for p in phones])
    rows = np.interp(times / FRAME_S, signal.positions, np.arange(len(signal.positions), dtype=np.float64))
    slots = [k for k, phone in enumerate(phones) if _is_pause_slot(phone)]
    rows[slots] = signal.pause_rows - 0.5
    rows[np.array(slots, np.int64) + 1] = signal.pause_rows + 0.5
    return rows


def _carried_timeline(reference: _Reference, path: np.ndarray, recording_positions: np.ndarray,
                      duration: float, options: DtwOptions) -> PhoneTimeline:
    """The synthetic phones and words at their places in the recording; silence fills both ends."""
    phones = reference.timeline.phones
    rows = crossings(path, _edge_rows(reference))
    edges = np.interp(rows, np.arange(len(path)), recording_positions) * FRAME_S
    edges = np.clip(np.maximum.accumulate(edges), 0.0, duration)
    carried = [Phone(p.label, float(a), float(b)) for p, a, b in zip(phones, edges[:-1], edges[1:])]
    carried = _without_short_pauses(carried, phones, options.min_pause_s)
    words = _carried_words(reference.timeline, carried)
    carried = [Phone(SILENCE, 0.0, carried[0].start)] + carried + [Phone(SILENCE, carried[-1].end, duration)]
    return PhoneTimeline(phones=_merged(carried), phone_set=reference.timeline.phone_set, words=words)


def _without_short_pauses(carried: list[Phone], synthetic: tuple[Phone, ...], min_pause_s: float) -> list[Phone]:
    """An optional pause the recording holds for less than `min_pause_s` goes to the phone after it."""
    out = list(carried)
    for k, phone in enumerate(synthetic[:-1]):
        if _is_pause_slot(phone) and 0 < out[k].duration < min_pause_s:
            out[k + 1] = Phone(out[k + 1].label, out[k].start, out[k + 1].end)
            out[k] = Phone(SILENCE, out[k].start, out[k].start)
    return out


def _carried_words(timeline: PhoneTimeline, carried: list[Phone]) -> tuple[Word, ...]:
    """Each word from the start of its first speech phone to the end of its last, in the recording."""
    speech = [k for k, p in enumerate(timeline.phones) if p.label != SILENCE]
    starts = np.array([timeline.phones[k].start for k in speech])
    ends = np.array([timeline.phones[k].end for k in speech])
    words = []
    for word in timeline.words:
        first = speech[min(int(np.searchsorted(starts, word.start - 1e-6)), len(speech) - 1)]
        last = speech[max(int(np.searchsorted(ends, word.end + 1e-6, side="right")) - 1, 0)]
        words.append(Word(word.text, carried[first].start, max(carried[last].end, carried[first].start)))
    return tuple(words)


def _merged(phones: list[Phone]) -> tuple[Phone, ...]:
    """Phones without zero-length ones, neighbouring silences joined."""
    merged: list[Phone] = []
    for phone in phones:
        if phone.end - phone.start <= 1e-6:
            continue
        if merged and phone.label == SILENCE and merged[-1].label == SILENCE:
            merged[-1] = Phone(SILENCE, merged[-1].start, phone.end)
        else:
            merged.append(phone)
    return tuple(merged)
