"""pocketsphinx alignment and recognition against reference timings and espeak's own timings."""
from __future__ import annotations

import difflib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from backend.align import AlignOptions, align, plan_cuts, prepare_pcm, recognize, transcribe_and_align
from backend.errors import InputError
from backend.phones import SILENCE
from backend.text import synthesize
from backend.text.normalize import normalize_transcript
from backend.text.phonesets import ARPABET

LIBRIVOX = Path(__file__).parents[1].parent / "shared" / "data" / "librivox"
CLIPS = sorted(LIBRIVOX.glob("*.wav")) if LIBRIVOX.is_dir() else []
needs_librivox = pytest.mark.skipif(not CLIPS, reason=f"reference clips not present at {LIBRIVOX}")


def _clip(path: Path) -> tuple[np.ndarray, int, str, list[tuple[str, float, float]]]:
    audio, rate = sf.read(path, dtype="float32")
    text = path.with_suffix(".txt").read_text(encoding="utf-8")
    reference = json.loads(path.with_suffix(".phone.json").read_text(encoding="utf-8"))
    phones = [(p["t"], p["b"], p["b"] + p["d"]) for word in reference["w"] for p in word["w"]]
    return audio, rate, text, phones


def boundary_errors(mine, reference) -> np.ndarray:
    """|start| and |end| differences of the speech phones the two label sequences share, in seconds."""
    ours = [p for p in mine if p[0] != SILENCE]
    theirs = [p for p in reference if p[0] != SILENCE]
    matcher = difflib.SequenceMatcher(a=[p[0] for p in ours], b=[p[0] for p in theirs], autojunk=False)
    errors = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            a, b = ours[block.a + k], theirs[block.b + k]
            errors += [abs(a[1] - b[1]), abs(a[2] - b[2])]
    return np.array(errors)


def word_error_rate(hypothesis: list[str], reference: list[str]) -> float:
    row = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        previous, row = row, [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (hyp_word != ref_word))
    return row[-1] / len(reference)


@needs_librivox
@pytest.mark.parametrize("path", CLIPS, ids=lambda p: p.stem[-4:])
def test_alignment_matches_reference_timings(path):
    audio, rate, text, reference = _clip(path)
    timeline = align(audio, rate, text)
    errors = boundary_errors(timeline.as_lists(), reference)
    speech = [p for p in reference if p[0] != SILENCE]
    assert len(errors) >= 1.8 * len(speech)  # nearly every reference phone found
    assert np.median(errors) < 0.050
    assert [w.text for w in timeline.words] == normalize_transcript(text)
    assert timeline.phone_set == "arpabet" and {p.label for p in timeline.phones} <= set(ARPABET)
    assert timeline.phones[0].start == 0.0
    assert timeline.duration == pytest.approx(len(audio) / rate, abs=0.011)


@pytest.mark.parametrize("voice", ["en-us", "en+f3"])
def test_alignment_of_espeak_speech_lands_on_espeak_timings(voice):
    text = "She sells sea shells by the sea shore, and then she went home to sleep."
    speech = synthesize(text, voice=voice)
    timeline = align(speech.audio, speech.sample_rate, text)
    errors = boundary_errors(timeline.as_lists(), speech.timeline.as_lists())
    assert len(errors) >= 0.9 * 2 * sum(p.label != SILENCE for p in speech.timeline.phones)
    assert np.median(errors) < 0.035


def test_out_of_vocabulary_words_get_espeak_pronunciations():
    text = "The zorblaxian gleebfrump waved at Dashwood."
    speech = synthesize(text, voice="en-us")
    timeline = align(speech.audio, speech.sample_rate, text)
    assert [w.text for w in timeline.words] == ["the", "zorblaxian", "gleebfrump", "waved", "at", "dashwood"]
    invented = timeline.words[1]
    inside = [p.label for p in timeline.phones if invented.start <= p.start < invented.end]
    assert inside[:3] == ["Z", "AO", "R"]


@needs_librivox
def test_recognition_hears_plausible_words():
    errors, words = 0.0, 0
    for path in CLIPS[:3]:
        audio, rate, text, _ = _clip(path)
        reference = normalize_transcript(text)
        errors += word_error_rate(recognize(audio, rate).split(), reference) * len(reference)
        words += len(reference)
    assert errors / words < 0.45  # about 0.25 measured on these clips


@needs_librivox
@pytest.mark.parametrize("options", [AlignOptions(), AlignOptions(workers=2, long_s=5.0, chunk_s=4.0)],
                         ids=["whole", "chunked"])
def test_transcribe_and_align_gives_a_timeline_without_a_transcript(options):
    clips = [_clip(path) for path in CLIPS[-2:]]
    audio = np.concatenate([c[0] for c in clips])
    reference = clips[0][3] + [(label, a + len(clips[0][0]) / 16000, b + len(clips[0][0]) / 16000)
                               for label, a, b in clips[1][3]]
    timeline = transcribe_and_align(audio, 16000, options=options)
    heard = [w.text for w in timeline.words]
    assert timeline.phone_set == "arpabet"
    assert word_error_rate(heard, normalize_transcript(clips[0][2] + " " + clips[1][2])) < 0.45
    assert timeline.duration == pytest.approx(len(audio) / 16000, abs=0.011)
    assert np.median(boundary_errors(timeline.as_lists(), reference)) < 0.050


@needs_librivox
def test_long_audio_is_chunked_across_processes_and_stitched():
    clips = [_clip(path) for path in CLIPS]
    audio = np.concatenate([c[0] for c in clips])
    text = " ".join(c[2] for c in clips)
    reference, offset = [], 0.0
    for clip_audio, rate, _, phones in clips:
        reference += [(label, offset + a, offset + b) for label, a, b in phones]
        offset += len(clip_audio) / rate
    seen = []
    options = AlignOptions(workers=2, long_s=10.0, chunk_s=8.0)
    timeline = align(audio, 16000, text, progress=lambda f, m: seen.append((f, m)), options=options)
    assert len(seen) >= 2 and seen[-1][0] == 1.0 and [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert [w.text for w in timeline.words] == normalize_transcript(text)
    assert np.median(boundary_errors(timeline.as_lists(), reference)) < 0.050
    assert all(a.end == pytest.approx(b.start) for a, b in zip(timeline.phones, timeline.phones[1:]))


def test_cuts_fall_in_the_longest_pause_near_the_target():
    pauses = [(3.0, 3.2), (9.0, 9.8), (11.0, 11.1), (19.0, 19.5)]
    assert plan_cuts(pauses, 25.0, chunk_s=10.0) == [9.4, 19.25]
    assert plan_cuts([], 12.0, chunk_s=10.0) == []


def test_decoder_input_is_16khz_int16_with_a_noise_floor():
    pcm = prepare_pcm(np.zeros(44100, np.float32), 44100)
    assert pcm.dtype == np.int16 and len(pcm) == 16000
    assert 0 < np.sqrt(np.mean(pcm.astype(float) ** 2)) / 32767 < 0.01


def test_a_transcript_that_cannot_fit_is_an_input_error():
    speech = synthesize("Good morning.", voice="en-us")
    with pytest.raises(InputError, match="does not fit"):
        align(speech.audio, speech.sample_rate, " ".join(["good morning to all of you my friends"] * 8))


def test_bad_input_is_reported():
    with pytest.raises(InputError, match="no words"):
        align(np.zeros(16000, np.float32), 16000, " ,.! ")
    with pytest.raises(InputError, match="mono audio"):
        align(np.zeros(0, np.float32), 16000, "hello")
    with pytest.raises(InputError, match="NaN"):
        recognize(np.full(16000, np.nan, np.float32), 16000)


def test_transcripts_are_normalised_for_the_dictionary():
    assert normalize_transcript("Mr. Dashwood's 21st birthday, in 1811: 3 cakes & 2.5 pies!") == [
        "mister", "dashwood's", "twenty", "first", "birthday", "in", "eighteen", "eleven", "three", "cakes", "and",
        "two", "point", "five", "pies"]


@needs_librivox
def test_alignment_does_not_depend_on_what_was_decoded_before():
    audio, rate, text, _ = _clip(CLIPS[1])
    first = align(audio, rate, text).as_lists()
    other, other_rate, other_text, _ = _clip(CLIPS[0])
    align(other, other_rate, other_text)
    assert align(audio, rate, text).as_lists() == first
