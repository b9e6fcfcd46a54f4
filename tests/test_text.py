"""espeak-ng through ctypes: phone timings checked against the synthesized samples themselves."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from backend.errors import InputError
from backend.phones import SILENCE
from backend.text import list_voices, phone_set_for, phonemize_word, synthesize
from backend.text.phonesets import ARPABET, SPANISH, mapping_table, to_phone_set

ENGLISH = "Sixty zebras, she said, jumped over the quiet brook. Will Peter fetch those pumpkins by Thursday?"
VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
STOPS = {"P", "B", "T", "D", "K", "G"}


@pytest.fixture(scope="module")
def english():
    return synthesize(ENGLISH, language="en")


def _rms(audio: np.ndarray, rate: int, start: float, end: float) -> float:
    part = audio[int(start * rate):int(end * rate)]
    return float(np.sqrt(np.mean(part.astype(np.float64) ** 2))) if part.size else 0.0


def _high_band_share(audio: np.ndarray, rate: int, start: float, end: float) -> float:
    part = audio[int(start * rate):int(end * rate)].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(part * np.hanning(part.size))) ** 2
    freqs = np.fft.rfftfreq(part.size, 1.0 / rate)
    return float(spectrum[freqs > 3500].sum() / max(spectrum.sum(), 1e-20))


def test_timeline_spans_the_audio_exactly(english):
    phones = english.timeline.phones
    assert english.sample_rate == 22050
    assert english.audio.dtype == np.float32 and english.audio.ndim == 1
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(len(english.audio) / english.sample_rate, abs=1e-9)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(phones, phones[1:]))
    assert all(p.end > p.start for p in phones)
    assert english.timeline.phone_set == "arpabet"
    assert {p.label for p in phones} <= set(ARPABET)


def test_silences_are_quiet_and_vowels_loud(english):
    audio, rate = english.audio, english.sample_rate
    pauses = [p for p in english.timeline.phones if p.label == SILENCE and p.duration > 0.05]
    vowels = [p for p in english.timeline.phones if p.label in VOWELS]
    assert len(pauses) >= 3  # leading silence, the commas, the full stop
    pause_level = np.median([_rms(audio, rate, p.start, p.end) for p in pauses])
    vowel_level = np.median([_rms(audio, rate, p.start, p.end) for p in vowels])
    assert pause_level < 0.05 * vowel_level


def test_fricatives_carry_high_frequencies_and_stops_close(english):
    audio, rate = english.audio, english.sample_rate
    phones = english.timeline.phones
    sibilants = [p for p in phones if p.label in {"S", "SH"} and p.duration > 0.03]
    vowels = [p for p in phones if p.label in VOWELS and p.duration > 0.03]
    assert len(sibilants) >= 3
    assert np.median([_high_band_share(audio, rate, p.start, p.end) for p in sibilants]) > 0.5
    assert np.median([_high_band_share(audio, rate, p.start, p.end) for p in vowels]) < 0.1
    # a stop's closure is quieter than the vowel that follows it
    pairs = [(a, b) for a, b in zip(phones, phones[1:]) if a.label in STOPS and b.label in VOWELS]
    quieter = [_rms(audio, rate, a.start, a.end) < _rms(audio, rate, b.start, b.end) for a, b in pairs]
    assert len(pairs) >= 4 and np.mean(quieter) >= 0.75


def test_words_follow_the_text(english):
    words = english.timeline.words
    expected = [w.strip(",.?") for w in ENGLISH.split()]
    assert [w.text for w in words] == expected
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:]))
    phones = english.timeline.phones
    sixty = [p.label for p in phones if words[0].start <= p.start < words[0].end]
    assert sixty == ["S", "IH", "K", "S", "T", "IY"]


def test_every_english_mnemonic_is_in_the_table(caplog):
    text = ("Our hour-long tour of the fire station ended near the square by the lawn; "
            "the usual bottle of water, the pure ocean air and a cheap pair of boots were enough. "
            "Which bird first took the white kite?")
    with caplog.at_level(logging.WARNING, logger="backend.text.phonesets"):
        for voice in ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en+f3"):
            timeline = synthesize(text, voice=voice).timeline
            assert {p.label for p in timeline.phones} <= set(ARPABET)
    assert not [r for r in caplog.records if "no arpabet mapping" in r.getMessage()]


def test_spanish_uses_the_spanish_phone_set():
    speech = synthesize("El perro de Begoña come pan y chorizo en la calle.", language="es")
    labels = [p.label for p in speech.timeline.phones]
    assert speech.timeline.phone_set == "spanish"
    assert set(labels) <= set(SPANISH)
    for phone in ("RR", "NY", "P", "CH", "TH", "LL"):
        assert phone in labels
    latin = synthesize("La calle", voice="es-419")
    assert latin.timeline.phone_set == "spanish"
    assert [p.label for p in latin.timeline.phones if p.label != SILENCE][:5] == ["L", "A", "K", "A", "Y"]


def test_other_languages_keep_espeak_mnemonics():
    speech = synthesize("Bonjour tout le monde.", language="fr")
    assert speech.timeline.phone_set == "espeak"
    assert "b" in [p.label for p in speech.timeline.phones]


def test_voices_variants_and_rate():
    slow = synthesize("Hello there.", voice="en+f3", rate_wpm=120)
    fast = synthesize("Hello there.", voice="en+f3", rate_wpm=300)
    assert slow.duration > 1.5 * fast.duration
    names = {v.name for v in list_voices("es")}
    assert {"es", "es-419"} <= names
    assert all(v.language.startswith("es") for v in list_voices("es"))
    assert len(list_voices()) > 50


@pytest.mark.parametrize("kwargs, named", [
    ({"text": "Hello", "language": "xx-nowhere"}, "xx-nowhere"),
    ({"text": "Hello", "voice": "en+nosuchvariant"}, "nosuchvariant"),
    ({"text": "   "}, "empty"),
])
def test_bad_input_names_the_problem(kwargs, named):
    with pytest.raises(InputError, match=named):
        synthesize(**kwargs)


def test_phonemize_word_is_a_g2p():
    assert phonemize_word("cat") == ["K", "AE", "T"]
    assert phonemize_word("dashwood") == ["D", "AE", "SH", "W", "UH", "D"]
    invented = phonemize_word("blorptastic")
    assert invented[:3] == ["B", "L", "AO"] and set(invented) <= set(ARPABET) - {SILENCE}
    assert phonemize_word("niño", "es") == ["N", "I", "NY", "O"]


def test_phone_sets_and_fallbacks():
    assert phone_set_for("en") == phone_set_for("en-GB-x-rp") == "arpabet"
    assert phone_set_for("es-419") == "spanish"
    assert phone_set_for("de") == "espeak"
    assert to_phone_set("'aI@", "arpabet") == ("AY", "ER")
    assert to_phone_set("_:", "arpabet") == (SILENCE,)
    assert to_phone_set("I2#", "arpabet") == ("IH",)  # unknown variant falls back to its base phoneme
    assert to_phone_set("y", "arpabet") == ("AH",)  # unknown vowel: neutral vowel, never a crash
    assert to_phone_set("Q", "spanish") == ("G",) and to_phone_set("T", "spanish") == ("TH",)
    assert all(set(phones) <= set(SPANISH) for phones in mapping_table("spanish").values())
