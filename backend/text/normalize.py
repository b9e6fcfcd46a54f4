"""English transcript normalisation for the aligner: lower case, no punctuation, everything as spoken words.

Money, dates, times, fractions, ordinals, percentages and common abbreviations are read the way people
say them ("$3.50" -> three dollars and fifty cents, "12/03" -> December third, "7 pm" -> seven p m,
"Dr. Smith" -> doctor smith), so that the words match the speech.
"""
from __future__ import annotations

import re
import unicodedata

from .numbers import decimal_words, ordinal_words, year_or_number
from .spoken import spoken_forms

SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at "}

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th|s)?%?")
WORD_CHARACTERS = re.compile(r"[^a-z0-9' ]+")


def _spell_number(token: str) -> str:
    percent = token.endswith("%")
    core = token.strip("%")
    suffix = re.search(r"(st|nd|rd|th|s)$", core)
    digits = core[:suffix.start()] if suffix else core
    integer, _, fraction = digits.replace(",", "").partition(".")
    value = int(integer)
    if suffix and suffix.group(1) != "s":
        words = ordinal_words(value)
    elif "," not in digits and not fraction:
        words = year_or_number(value)
    else:
        words = decimal_words(value, fraction)
    if suffix and suffix.group(1) == "s":  # decades: 1990s
        words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    if percent:
        words += " percent"
    return f" {words} "


def spoken_words_and_symbols(text: str) -> str:
    """Money, dates, times, abbreviations and symbols written as spoken; numbers, case and punctuation kept."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = spoken_forms(text)
    for symbol, spoken in SYMBOLS.items():
        text = text.replace(symbol, spoken)
    return text


def spell_numbers(text: str) -> str:
    return NUMBER.sub(lambda m: _spell_number(m.group(0)), text)


def normalize_transcript(text: str) -> list[str]:
    """Words as the aligner's dictionary spells them: 'Mr. Smith paid $5!' -> ['mister', 'smith', 'paid', ...]."""
    text = spoken_words_and_symbols(text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = spell_numbers(text).lower()
    text = text.replace("-", " ").replace("_", " ")
    text = WORD_CHARACTERS.sub(" ", text)
    return [word.strip("'") for word in text.split() if word.strip("'")]
