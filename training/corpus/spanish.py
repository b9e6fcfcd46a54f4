"""A Spanish word generator that respects Spanish phonotactics and spelling.

Words are built from syllables (onset, nucleus, coda) of phones in the project's "spanish" phone set,
then spelled with the orthography rules (c/qu/z, g/gu, r/rr, ñ, ll, j, hu-), so espeak-ng reads them
back as the phones they were made from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The project's Spanish phone set. The generator plans Z (voiced s, before a voiced consonant), but
# espeak-ng's Spanish voices speak S there, so the coverage report lists Z as missing.
PHONES = ("A", "E", "I", "O", "U", "P", "B", "T", "D", "K", "G", "F", "S", "Z", "TH", "X", "CH", "M", "N",
          "NY", "L", "LL", "R", "RR", "Y", "W")
VOWELS = ("A", "E", "I", "O", "U")
# Single onsets with rough frequencies ("" starts the syllable with its vowel).
ONSETS = {"P": 5, "B": 6, "T": 7, "D": 7, "K": 7, "G": 3, "F": 3, "S": 8, "TH": 3, "X": 2, "CH": 2,
          "M": 6, "N": 5, "NY": 1, "L": 6, "LL": 1, "R": 4, "RR": 2, "Y": 2, "W": 1, "": 6}
# Obstruent + liquid clusters allowed at the start of a Spanish syllable.
CLUSTERS = (("P", "R"), ("P", "L"), ("B", "R"), ("B", "L"), ("T", "R"), ("D", "R"), ("K", "R"),
            ("K", "L"), ("G", "R"), ("G", "L"), ("F", "R"), ("F", "L"))
CODAS = {"": 14, "N": 4, "S": 5, "L": 2, "R": 3, "D": 1, "TH": 1, "M": 1}
DIPHTHONG_GLIDES = {"I": "i", "U": "u"}
FUNCTION_WORDS = (
    ("el", ("E", "L")), ("la", ("L", "A")), ("los", ("L", "O", "S")), ("las", ("L", "A", "S")),
    ("de", ("D", "E")), ("en", ("E", "N")), ("con", ("K", "O", "N")), ("por", ("P", "O", "R")),
    ("para", ("P", "A", "R", "A")), ("que", ("K", "E")), ("y", ("I",)), ("un", ("U", "N")),
    ("una", ("U", "N", "A")), ("muy", ("M", "U", "I")), ("sin", ("S", "I", "N")), ("mi", ("M", "I")),
    ("su", ("S", "U")), ("nos", ("N", "O", "S")), ("pero", ("P", "E", "R", "O")), ("como", ("K", "O", "M", "O")),
)
SPELLING = {"A": "a", "E": "e", "I": "i", "O": "o", "U": "u", "P": "p", "T": "t", "D": "d", "F": "f",
            "S": "s", "Z": "s", "X": "j", "CH": "ch", "M": "m", "N": "n", "NY": "ñ", "L": "l", "LL": "ll",
            "Y": "y", "W": "hu"}


@dataclass(frozen=True)
class Word:
    spelling: str
    phones: tuple[str, ...]


def _weighted(rng: np.random.Generator, table: dict[str, int]) -> str:
    keys = list(table)
    weights = np.array([table[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]


def random_syllable(rng: np.random.Generator, first: bool, last: bool) -> list[str]:
    if rng.random() < 0.12:
        onset = list(CLUSTERS[int(rng.integers(len(CLUSTERS)))])
    else:
        onset = [p for p in [_weighted(rng, ONSETS)] if p]
    if onset == ["R"] and first:
        onset = ["RR"]  # a word-initial r is trilled (and spelled with one r)
    nucleus = [VOWELS[int(rng.integers(len(VOWELS)))]]
    if onset[-1:] == ["W"] and nucleus == ["U"]:
        nucleus = ["E"]  # no "huu"
    if rng.random() < 0.1 and onset != ["W"]:
        glide = ("I", "U")[int(rng.integers(2))]
        nucleus = [glide, nucleus[0]] if glide != nucleus[0] else nucleus
    coda = _weighted(rng, CODAS) if (last or rng.random() < 0.5) else ""
    if coda == "S" and not last and rng.random() < 0.3:
        coda = "Z"  # /s/ voices before a voiced consonant ("mismo"); spelled s
    return onset + nucleus + ([coda] if coda else [])


def spell(syllables: list[list[str]]) -> str:
    """Spell a word syllable by syllable; c/qu, g/gu, z/c and r/rr depend on the neighbours."""
    letters = []
    flat = [p for s in syllables for p in s]
    for i, phone in enumerate(flat):
        after = flat[i + 1] if i + 1 < len(flat) else ""
        letters.append(_spell_phone(phone, after, first=(i == 0), prev=flat[i - 1] if i else ""))
    return "".join(letters)


def _spell_phone(phone: str, after: str, first: bool, prev: str) -> str:
    front = after in ("E", "I")
    if phone == "K":
        return "qu" if front else "c"
    if phone == "G":
        return "gu" if front else "g"
    if phone == "TH":
        return "c" if front else "z"
    if phone == "B":
        return "b"
    if phone == "RR":
        return "r" if first or prev in ("N", "L", "S") else "rr"
    if phone == "R":
        return "r"
    if phone == "W":
        return "hu" if first or prev in VOWELS else "u"
    if phone in ("I", "U") and after in VOWELS and prev not in VOWELS:
        return DIPHTHONG_GLIDES[phone]
    if phone == "I" and not after and prev in VOWELS:
        return "y"  # a final falling diphthong is spelled with y: "hoy", "muy"
    return SPELLING[phone]


def random_word(rng: np.random.Generator) -> Word:
    n_syllables = int(rng.choice([1, 2, 3, 4], p=[0.2, 0.4, 0.3, 0.1]))
    syllables = [random_syllable(rng, first=(i == 0), last=(i == n_syllables - 1)) for i in range(n_syllables)]
    syllables = _fix_sequences(syllables)
    return Word(spell(syllables), tuple(p for s in syllables for p in s))


def _fix_sequences(syllables: list[list[str]]) -> list[list[str]]:
    """Drop codas that would make an illegal consonant run (three consonants, or coda + RR/R clusters)."""
    fixed = [list(s) for s in syllables]
    for i in range(len(fixed) - 1):
        coda, next_onset = fixed[i][-1], fixed[i + 1][0]
        if coda not in VOWELS and next_onset not in VOWELS and _blocked(coda, fixed[i + 1]):
            fixed[i].pop()
        elif coda in ("M", "N"):
            fixed[i][-1] = "M" if next_onset in ("P", "B") else "N"  # nasals take the next place
        elif coda == "Z" and next_onset in ("P", "T", "K", "F", "S", "TH", "X", "CH"):
            fixed[i][-1] = "S"
    fixed[-1][-1] = {"Z": "S", "M": "N"}.get(fixed[-1][-1], fixed[-1][-1])
    return fixed


def _blocked(coda: str, next_syllable: list[str]) -> bool:
    """A coda that cannot precede this syllable: a geminate, a cluster onset, or a trill/palatal onset."""
    onset = next_syllable[0]
    cluster = len(next_syllable) > 2 and next_syllable[1] not in VOWELS
    geminate = coda == onset or {coda, onset} == {"S", "Z"}
    return cluster or geminate or onset in ("R", "RR", "LL", "NY", "Y")


def function_word(rng: np.random.Generator) -> Word:
    spelling, phones = FUNCTION_WORDS[int(rng.integers(len(FUNCTION_WORDS)))]
    return Word(spelling, phones)
