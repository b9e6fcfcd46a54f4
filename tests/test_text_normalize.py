"""Transcripts read the way people say them: real strings in, the exact words out."""
from __future__ import annotations

import pytest

from backend.text.normalize import normalize_transcript

SPOKEN = {
    # money
    "It costs $3.50.": "it costs three dollars and fifty cents",
    "€5 each": "five euros each",
    "£2.99": "two pounds and ninety nine pence",
    "$1 and $0.01": "one dollar and one cent",
    "$0.75": "seventy five cents",
    "$1,250": "one thousand two hundred fifty dollars",
    "$3.5 million": "three point five million dollars",
    "$20k": "twenty thousand dollars",
    "¥500": "five hundred yen",
    "5€": "five euros",
    # dates, month first
    "12/03": "december third",
    "Due 12/03/2026.": "due december third twenty twenty six",
    "3/14/2005": "march fourteenth two thousand five",
    "7/4/76": "july fourth seventy six",
    "2026-01-22": "january twenty second twenty twenty six",
    # fractions
    "1/2 cup": "one half cup",
    "3/4 of them": "three quarters of them",
    "2/3": "two thirds",
    # times
    "10:30": "ten thirty",
    "at 10:05": "at ten oh five",
    "10:00 sharp": "ten o'clock sharp",
    "7 pm": "seven p m",
    "7pm": "seven p m",
    "7:30 p.m.": "seven thirty p m",
    "11 a.m. tomorrow": "eleven a m tomorrow",
    # ordinals, years, percentages
    "the 1st and 22nd": "the first and twenty second",
    "his 103rd": "his one hundred third",
    "in 1811": "in eighteen eleven",
    "the 1990s": "the nineteen nineties",
    "50% off": "fifty percent off",
    "up 3.5%": "up three point five percent",
    # abbreviations
    "Dr. Smith": "doctor smith",
    "Mr. and Mrs. Jones": "mister and missus jones",
    "Ms Jones": "miz jones",
    "St. Louis": "saint louis",
    "on Baker St.": "on baker street",
    "Mulholland Dr. at night": "mulholland drive at night",
    "apples, pears, etc.": "apples pears et cetera",
    "fruit, e.g. apples": "fruit for example apples",
    "that one, i.e. this": "that one that is this",
    "Ali vs. Frazier": "ali versus frazier",
    "Prof. Lee, Jr.": "professor lee junior",
    "No. 5": "number five",
    "#1": "number one",
    # temperatures, symbols
    "-5°C": "minus five degrees celsius",
    "72°F": "seventy two degrees fahrenheit",
    "salt & pepper": "salt and pepper",
}


@pytest.mark.parametrize("written", SPOKEN, ids=list(SPOKEN))
def test_written_forms_are_read_as_spoken(written):
    assert normalize_transcript(written) == SPOKEN[written].split()


def test_a_whole_line_reads_naturally():
    line = "Dr. Smith paid $3.50 on 12/03 at 7 pm, i.e. 50% more than the 1st time."
    assert " ".join(normalize_transcript(line)) == (
        "doctor smith paid three dollars and fifty cents on december third at seven p m that is fifty percent "
        "more than the first time")


@pytest.mark.parametrize("written", ["5 a month", "the MS word", "no. of them", "25/40", "is 13/14 right",
                                     "a 1st-rate st", "I am 7"])
def test_look_alikes_stay_plain(written):
    words = normalize_transcript(written)
    assert not {"p", "m", "miz", "number", "dollars", "saint", "january"} & set(words), words
