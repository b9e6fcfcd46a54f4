"""English numbers in words: cardinals, ordinals and years."""
from __future__ import annotations

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                   "nine": "ninth", "twelve": "twelfth"}


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


def year_or_number(n: int) -> str:
    """A bare whole number: 1100-2099 (but 2000-2009) read as a year, others as a cardinal."""
    return year_words(n) if 1100 <= n <= 2099 and not 2000 <= n < 2010 else number_words(n)


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


def decimal_words(whole: int, fraction_digits: str) -> str:
    """3, "505" -> 'three point five zero five'."""
    words = number_words(whole)
    if fraction_digits:
        words += " point " + " ".join(ONES[int(d)] for d in fraction_digits)
    return words
