"""The DTW aligner against espeak-ng's own phone times in a changed voice, and the phoneme path it feeds."""
from __future__ import annotations

import difflib

import numpy as np
import pytest
import soundfile as sf

from backend.api import AnimateOptions, animate_audio
from backend.audio import SAMPLE_RATE, resample
from backend.dtw import band_limits, diagonal, warp
from backend.dtw_align import DtwOptions, align_by_synthesis, warp_path
from backend.errors import InputError
from backend.phones import SILENCE
from backend.post import PostOptions
from backend.rig import FACEWAREHOUSE_46
from backend.text import synthesize

ENGLISH = ("she sells sea shells by the sea shore", "and then she went home to sleep")
SPANISH = ("el perro de san roque no tiene rabo", "porque ramón rodríguez se lo ha cortado")


def changed_voice(phrases, language: str, voice: str, rate_wpm: int, shift: float = 1.06, seed: int = 0):
    """Phrases spoken by another voice at another rate, a pause between them that no punctuation marks,
    silence at both ends, formants and tempo raised by `shift`, a little noise; and the true phone times."""
    rng = np.random.default_rng(seed)
    pieces, truth, clock = [np.zeros(int(0.6 * SAMPLE_RATE), np.float32)], [], 0.6
    for phrase in phrases:
        speech = synthesize(phrase, language, voice=voice, rate_wpm=rate_wpm)
        pieces.append(resample(speech.audio, speech.sample_rate, SAMPLE_RATE))
        truth += [(p.label, p.start + clock, p.end + clock) for p in speech.timeline.phones]
        clock += len(pieces[-1]) / SAMPLE_RATE + 0.5
        pieces.append(np.zeros(int(0.5 * SAMPLE_RATE), np.float32))
    audio = resample(np.concatenate(pieces), SAMPLE_RATE, int(SAMPLE_RATE / shift))  # played faster
    audio += rng.standard_normal(len(audio)).astype(np.float32) * 10 ** (-50 / 20)
    return audio, [(label, start / shift, end / shift) for label, start, end in truth]


def start_errors(ours, truth) -> np.ndarray:
    """|start difference| (s) of the speech phones matched in order between the two label sequences."""
    ours = [p for p in ours if p[0] != SILENCE]
    truth = [p for p in truth if p[0] != SILENCE]
    matcher = difflib.SequenceMatcher(a=[p[0] for p in ours], b=[p[0] for p in truth], autojunk=False)
    return np.array([abs(ours[block.a + k][1] - truth[block.b + k][1])
                     for block in matcher.get_matching_blocks() for k in range(block.size)])


def assert_well_formed(timeline, duration: float) -> None:
    phones = timeline.phones
    assert phones[0].start == 0.0 and phones[0].label == SILENCE and phones[-1].label == SILENCE
    assert timeline.duration == pytest.approx(duration, abs=1e-6)
    assert all(p.end > p.start for p in phones)
    assert all(a.end == pytest.approx(b.start, abs=1e-9) for a, b in zip(phones, phones[1:]))
    starts = [w.start for w in timeline.words]
    assert starts == sorted(starts) and all(0 <= w.start <= w.end <= duration for w in timeline.words)


@pytest.mark.parametrize("language, phrases, voice, rate, phone_set", [
    ("en", ENGLISH, "en+f3", 140, "arpabet"),
    ("es", SPANISH, "es-419+m3", 140, "spanish"),
])
def test_changed_voice_lands_on_its_own_phone_times(language, phrases, voice, rate, phone_set):
    audio, truth = changed_voice(phrases, language, voice, rate)
    timeline = align_by_synthesis(audio, SAMPLE_RATE, " ".join(phrases), language)
    errors = start_errors(timeline.as_lists(), truth)
    speech = sum(p[0] != SILENCE for p in truth)
    assert len(errors) >= 0.8 * speech, f"only {len(errors)} of {speech} phones matched"
    assert np.median(errors) <= 0.040, f"median phone start error {1000 * np.median(errors):.1f} ms"
    assert timeline.phone_set == phone_set
    assert [w.text for w in timeline.words] == " ".join(phrases).split()
    assert_well_formed(timeline, len(audio) / SAMPLE_RATE)


def test_long_noisy_silences_with_a_click_at_the_ends_are_absorbed():
    speech = synthesize(" ".join(ENGLISH), "en", voice="en+m3", rate_wpm=190)
    rng = np.random.default_rng(3)
    lead, tail = np.zeros(int(2.5 * speech.sample_rate)), np.zeros(2 * speech.sample_rate)
    lead[speech.sample_rate:speech.sample_rate + 40] = 0.5  # a click a second in
    audio = np.concatenate([lead, speech.audio, tail])
    audio += rng.standard_normal(len(audio)) * 10 ** (-45 / 20)
    truth = [(p.label, p.start + 2.5, p.end + 2.5) for p in speech.timeline.phones]
    timeline = align_by_synthesis(audio, speech.sample_rate, " ".join(ENGLISH), "en")
    first = next(p for p in timeline.phones if p.label != SILENCE)
    true_first = next(p for p in truth if p[0] != SILENCE)
    assert abs(first.start - true_first[1]) < 0.04, (first, true_first)
    assert timeline.phones[-1].label == SILENCE and timeline.phones[-1].duration > 1.8
    errors = start_errors(timeline.as_lists(), truth)
    assert np.median(errors) <= 0.040, f"median phone start error {1000 * np.median(errors):.1f} ms"


def test_an_unmarked_pause_in_the_recording_becomes_silence():
    audio, truth = changed_voice(SPANISH, "es", "es+f3", 175, shift=1.0)
    timeline = align_by_synthesis(audio, SAMPLE_RATE, " ".join(SPANISH), "es")
    speech = [p for p in truth if p[0] != SILENCE]
    gap_start, gap_end = next((a[2], b[1]) for a, b in zip(speech, speech[1:]) if b[1] - a[2] > 0.3)
    pause = max((p for p in timeline.phones[1:-1] if p.label == SILENCE), key=lambda p: p.duration)
    assert abs(pause.start - gap_start) < 0.06 and abs(pause.end - gap_end) < 0.06, (pause, gap_start, gap_end)


def test_other_sample_rates_and_int16_samples_are_read():
    speech = synthesize("hola, buenos días", "es", voice="es+f2", rate_wpm=150)
    samples = (np.concatenate([np.zeros(4000), speech.audio, np.zeros(4000)]) * 32767).astype(np.int16)
    timeline = align_by_synthesis(samples, speech.sample_rate, "hola, buenos días", "es")
    assert_well_formed(timeline, len(samples) / speech.sample_rate)
    assert [w.text for w in timeline.words] == ["hola", "buenos", "días"]


def test_warp_recovers_a_known_warp_inside_a_narrow_band():
    rng = np.random.default_rng(1)
    reference = np.cumsum(rng.standard_normal((1200, 6)), axis=0).astype(np.float32)
    walk = np.cumsum(rng.choice([0, 1, 1, 2], size=2000))  # holds, steps and skips
    truth = walk[:np.searchsorted(walk, len(reference) - 1) + 1] - walk[0]
    truth[-1] = len(reference) - 1
    path = warp(reference[truth], reference, *band_limits(diagonal(len(truth), len(reference)), 1200, 150))
    assert np.all(np.diff(path) >= 0) and path[0] == 0 and path[-1] == len(reference) - 1
    assert np.mean(path == truth) > 0.95


def test_long_audio_is_warped_coarse_then_fine_within_a_bounded_band():
    rng = np.random.default_rng(2)
    reference = np.cumsum(rng.standard_normal((2500, 6)), axis=0).astype(np.float32)
    holds = np.repeat(np.arange(2500), np.where(np.arange(2500) == 600, 900, 1))  # a 9 s pause early on
    path = warp_path(reference[holds], reference, DtwOptions(band_s=0.5))  # 34 s: past the full-matrix size
    assert np.mean(path == holds) > 0.95
    lo, hi = band_limits(diagonal(60_000, 50_000), 50_000, 100)  # ten minutes against ten minutes
    assert int((hi - lo).max()) <= 2 * 100 + 2 and lo[0] == 0 and hi[-1] == 50_000
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) >= 0)


def test_spanish_audio_with_a_transcript_animates(tmp_path):
    text = "Mi papá pinta barcos, y mamá baila en la playa."
    speech = synthesize(text, "es", voice="es-419+f2", rate_wpm=150)
    lead, tail = int(0.4 * speech.sample_rate), int(0.5 * speech.sample_rate)
    path = tmp_path / "papa.wav"
    sf.write(path, np.concatenate([np.zeros(lead), speech.audio, np.zeros(tail)]), speech.sample_rate)
    duration = (lead + len(speech.audio) + tail) / speech.sample_rate
    anim = animate_audio(path, AnimateOptions(language="es", transcript=text, post=PostOptions(blinks=False)))
    assert anim.channels == list(FACEWAREHOUSE_46) and len(anim.channels) == 46
    assert abs(anim.n_frames - duration * anim.fps) <= 1
    assert anim.meta["aligner"] == "dtw" and anim.meta["phone_set"] == "spanish"
    truth = [(p.label, p.start + 0.4, p.end + 0.4) for p in speech.timeline.phones]
    closure = anim.channel("LipsUpperClose") + anim.channel("LipsLowerClose")
    jaw = anim.channel("JawOpen")

    def at(channel, start, end):
        return channel[int(round((start + end) / 2 * anim.fps))]

    bilabials = [p for p in truth if p[0] in ("P", "B", "M")]
    vowels = [p for p in truth if p[0] in ("A", "E", "O")]
    closed = np.mean([at(closure, *p[1:]) > 0.2 and at(jaw, *p[1:]) < 0.1 for p in bilabials])
    opened = np.mean([at(jaw, *p[1:]) > 0.2 for p in vowels])
    assert closed >= 0.8, f"lips closed at {closed:.0%} of {len(bilabials)} P/B/M"
    assert opened >= 0.8, f"jaw open at {opened:.0%} of {len(vowels)} A/E/O"


def test_a_language_espeak_does_not_speak_is_one_clear_line():
    with pytest.raises(InputError, match="no voice for language 'xx'") as caught:
        align_by_synthesis(np.zeros(16000, np.float32), SAMPLE_RATE, "hello", "xx")
    assert "\n" not in str(caught.value)


def test_a_transcript_without_words_is_refused():
    with pytest.raises(InputError, match="no words"):
        align_by_synthesis(np.zeros(16000, np.float32), SAMPLE_RATE, " ¿?!… ", "es")


def test_a_transcript_that_cannot_fit_the_speech_is_refused():
    speech = synthesize("hola", "es")
    with pytest.raises(InputError, match=r"\(45 words\) does not fit the [0-9.]+ s of speech"):
        align_by_synthesis(speech.audio, speech.sample_rate, " ".join(SPANISH * 3), "es")
    with pytest.raises(InputError, match="no speech"):
        align_by_synthesis(np.zeros(16000, np.float32), SAMPLE_RATE, "hola", "es")


def test_non_english_audio_needs_a_transcript(tone_wav):
    with pytest.raises(InputError, match="transcript is needed .*'es'") as caught:
        animate_audio(tone_wav, AnimateOptions(language="es"))
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match="English only"):
        animate_audio(tone_wav, AnimateOptions(language="es", transcript="hola", aligner="pocketsphinx"))
    with pytest.raises(InputError, match="unknown aligner"):
        animate_audio(tone_wav, AnimateOptions(transcript="hello", aligner="whisper"))


def test_english_can_choose_the_dtw_aligner(tmp_path):
    text = "Bob made a map of the moon."
    speech = synthesize(text, "en", voice="en+m3", rate_wpm=160)
    path = tmp_path / "bob.wav"
    sf.write(path, np.concatenate([np.zeros(8000), speech.audio, np.zeros(8000)]), speech.sample_rate)
    anim = animate_audio(path, AnimateOptions(transcript=text, aligner="dtw", post=PostOptions(blinks=False)))
    assert anim.meta["aligner"] == "dtw" and anim.meta["phone_set"] == "arpabet"


def test_options_are_frozen():
    with pytest.raises(AttributeError):
        DtwOptions().band_s = 1.0
