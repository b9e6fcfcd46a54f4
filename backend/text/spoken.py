"""Written forms read aloud (English): money, dates, times, fractions, temperatures and abbreviations.

`spoken_forms` rewrites them in the raw text as the words people say; the numbers left over are read
by normalize.py.
"""
from __future__ import annotations

import re
from typing import Callable

from .numbers import ONES, decimal_words, number_words, ordinal_words, year_or_number

MONTHS = ("January February March April May June July August September October November "
          "December").split()
# symbol -> (one unit, several, one hundredth, several hundredths); None: hundredths are not spoken
CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
              "£": ("pound", "pounds", "penny", "pence"), "¥": ("yen", "yen", None, None)}
AMOUNT_SCALES = {"thousand": "thousand", "k": "thousand", "million": "million", "m": "million",
                 "mn": "million", "billion": "billion", "bn": "billion", "trillion": "trillion"}
FRACTION_NAMES = {2: ("half", "halves"), 4: ("quarter", "quarters")}

# Titles before a name; "St" and "Dr" after a name are a street and a drive.
TITLES = {"mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "st": "saint", "prof": "professor",
          "mt": "mount", "jr": "junior", "sr": "senior", "gen": "general", "capt": "captain",
          "lt": "lieutenant", "sgt": "sergeant", "col": "colonel", "gov": "governor", "rev": "reverend",
          "sen": "senator", "ave": "avenue", "rd": "road", "blvd": "boulevard"}
AFTER_A_NAME = {"st": "street", "dr": "drive"}
# Read without their full stop too, when written with a capital: "Mr Smith", "St Paul".
UNDOTTED = {"mr", "mrs", "ms", "dr", "st", "jr", "sr"}

MONEY = re.compile(r"([$€£¥])\s?(\d[\d,]*)(?:\.(\d+))?(?:\s?(thousand|million|billion|trillion|bn|mn|[km])\b)?",
                   re.IGNORECASE)
EUROS_AFTER = re.compile(r"\b(\d[\d,]*)(?:\.(\d{1,2}))?\s?€")
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
SLASHED = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b")
CLOCK = re.compile(r"\b([01]?\d|2[0-4]):([0-5]\d)(?:\s?([ap])\.?\s?m\b\.?)?", re.IGNORECASE)
HOUR = re.compile(r"\b(1[0-2]|0?[1-9])\s?([ap])\.?\s?m\b\.?", re.IGNORECASE)
TEMPERATURE = re.compile(r"(-?)(\d+(?:\.\d+)?)\s?°\s?([CF])\b")
ABBREVIATION = re.compile(r"(?<![\w.])(" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")(\.)?(?![\w'])",
                          re.IGNORECASE)
PHRASES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\be\.\s?g\.", re.IGNORECASE), " for example "),
    (re.compile(r"\bi\.\s?e\.", re.IGNORECASE), " that is "),
    (re.compile(r"\ba\.k\.a\.", re.IGNORECASE), " also known as "),
    (re.compile(r"\betc\b\.?", re.IGNORECASE), " et cetera "),
    (re.compile(r"\bvs\b\.?", re.IGNORECASE), " versus "),
    (re.compile(r"\bapprox\.", re.IGNORECASE), " approximately "),
    (re.compile(r"\bNo\.(?=\s?\d)"), " number "),
    (re.compile(r"#(?=\d)"), " number "),
]


def money_words(symbol: str, whole: str, fraction: str | None = None, scale: str | None = None) -> str:
    """'$', '3', '50' -> 'three dollars and fifty cents'; '$', '2', '5', 'million' -> 'two point five million dollars'."""
    one, several, hundredth, hundredths = CURRENCIES[symbol]
    amount = int(whole.replace(",", ""))
    if scale:
        return f"{decimal_words(amount, fraction or '')} {AMOUNT_SCALES[scale.lower()]} {several}"
    if fraction and (len(fraction) > 2 or hundredth is None):
        return f"{decimal_words(amount, fraction)} {several}"
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if amount or not cents:
        parts.append(f"{number_words(amount)} {one if amount == 1 else several}")
    if cents:
        parts.append(f"{number_words(cents)} {hundredth if cents == 1 else hundredths}")
    return " and ".join(parts)


def date_words(month: int, day: int, year: str | None = None) -> str:
    """Month first, as English in the US writes it: 12, 3, '2026' -> 'December third twenty twenty six'."""
    words = f"{MONTHS[month - 1]} {ordinal_words(day)}"
    if year:
        value = int(year)
        words += " " + (year_or_number(value) if len(year) == 4 else
                        number_words(value) if value >= 10 else "oh " + ONES[value])
    return words


def fraction_words(numerator: int, denominator: int) -> str:
    """3, 4 -> 'three quarters'; 1, 3 -> 'one third'."""
    single, plural = FRACTION_NAMES.get(denominator, (ordinal_words(denominator), ordinal_words(denominator) + "s"))
    return f"{number_words(numerator)} {single if numerator == 1 else plural}"


def time_words(hour: int, minute: int, meridiem: str | None = None) -> str:
    """10:30 -> 'ten thirty', 10:05 -> 'ten oh five', 10:00 -> "ten o'clock", 7 pm -> 'seven p m'."""
    words = number_words(hour)
    if minute:
        words += " " + (number_words(minute) if minute >= 10 else "oh " + ONES[minute])
    elif not meridiem:
        words += " o'clock"
    if meridiem:
        words += f" {meridiem.lower()} m"
    return words


def _slashed(match: re.Match) -> str:
    first, second, year = match.group(1), match.group(2), match.group(3)
    a, b = int(first), int(second)
    if year is None and len(first) == len(second) == 1 and 0 < a < b:
        return f" {fraction_words(a, b)} "
    if 1 <= a <= 12 and 1 <= b <= 31:
        return f" {date_words(a, b, year)} "
    return match.group(0)


def _iso_date(match: re.Match) -> str:
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f" {date_words(month, day, year)} "
    return match.group(0)


def _clock(match: re.Match) -> str:
    return f" {time_words(int(match.group(1)), int(match.group(2)), match.group(3))} "


def _abbreviation(match: re.Match) -> str:
    written, dotted = match.group(1), match.group(2)
    key = written.lower()
    if not dotted and (key not in UNDOTTED or written != written.capitalize()):
        return match.group(0)
    if key in AFTER_A_NAME and not re.match(r"\s+[A-Z]", match.string[match.end():]):
        after_a_name = re.search(r"[A-Z][\w']*\s+$", match.string[:match.start()])
        if after_a_name or key == "st":
            return f" {AFTER_A_NAME[key]} "
    return f" {TITLES[key]} "


def _temperature(match: re.Match) -> str:
    sign, value, scale = match.groups()
    whole, _, fraction = value.partition(".")
    words = ("minus " if sign else "") + decimal_words(int(whole), fraction)
    return f" {words} degrees {'celsius' if scale == 'C' else 'fahrenheit'} "


RULES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (ABBREVIATION, _abbreviation),
    (MONEY, lambda m: f" {money_words(*m.groups())} "),
    (EUROS_AFTER, lambda m: f" {money_words('€', m.group(1), m.group(2))} "),
    (ISO_DATE, _iso_date),
    (SLASHED, _slashed),
    (CLOCK, _clock),
    (HOUR, lambda m: f" {time_words(int(m.group(1)), 0, m.group(2))} "),
    (TEMPERATURE, _temperature),
]


def spoken_forms(text: str) -> str:
    """The text with money, dates, times, fractions, temperatures and abbreviations written as spoken."""
    for pattern, spoken in PHRASES:
        text = pattern.sub(spoken, text)
    for pattern, rule in RULES:
        text = pattern.sub(rule, text)
    return text
