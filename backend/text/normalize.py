"""English transcript normalisation for the aligner: lower case, no punctuation, numbers as words."""
from __future__ import annotations

import re
import unicodedata

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                   "nine": "ninth", "twelve": "twelfth"}
SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at "}

NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th|s)?%?")
WORD_CHARACTERS = re.compile(r"[^a-z0-9' ]+")


def number_words(n: int) -> str:
    """Cardinal number in words: 2024 -> 'two thousand twenty four'."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for value, name in SCALES:
        if n >= value:
            rest = n % value
            return number_words(n // value) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    raise ValueError(n)


def year_words(n: int) -> str:
    """Years read in pairs: 1811 -> 'eighteen eleven', 1900 -> 'nineteen hundred'."""
    high, low = divmod(n, 100)
    if low == 0:
        return number_words(high) + " hundred"
    return number_words(high) + (" oh " + ONES[low] if low < 10 else " " + number_words(low))


def ordinal_words(n: int) -> str:
    words = number_words(n).split()
    last = words[-1]
    if last in ORDINAL_ENDINGS:
        words[-1] = ORDINAL_ENDINGS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _spell_number(token: str) -> str:
    money = token.startswith("$")
    percent = token.endswith("%")
    core = token.strip("$%")
    suffix = re.search(r"(st|nd|rd|th|s)$", core)
    digits = core[:suffix.start()] if suffix else core
    integer, _, fraction = digits.replace(",", "").partition(".")
    value = int(integer)
    if suffix and suffix.group(1) != "s":
        words = ordinal_words(value)
    elif "," not in digits and not fraction and 1100 <= value <= 2099 and not money and not (2000 <= value < 2010):
        words = year_words(value)
    else:
        words = number_words(value)
    if fraction:
        words += " point " + " ".join(ONES[int(d)] for d in fraction)
    if suffix and suffix.group(1) == "s":  # decades: 1990s
        words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    if money:
        words += " dollars"
    if percent:
        words += " percent"
    return f" {words} "


def normalize_transcript(text: str) -> list[str]:
    """Words as the aligner's dictionary spells them: 'Mr. Smith paid $5!' -> ['mr', 'smith', 'paid', ...]."""
    for symbol, spoken in SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = NUMBER.sub(lambda m: _spell_number(m.group(0)), text).lower()
    text = text.replace("-", " ").replace("_", " ")
    text = WORD_CHARACTERS.sub(" ", text)
    return [word.strip("'") for word in text.split() if word.strip("'")]
