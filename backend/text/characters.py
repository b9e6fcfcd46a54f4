"""The character vocabulary of the text models (Tacotron lips), and typed text read the way they were trained.

Training encodes the corpus sentences (words and punctuation) lower-cased; at inference typed text first
has its numbers, money, dates and abbreviations spelled out (English), so that no digit reaches the model.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

from .normalize import spell_numbers, spoken_words_and_symbols

TEXT_VOCABULARY = ("<pad>", "<unk>", " ", "'", ",", ".", "?", "!", "-", *"abcdefghijklmnopqrstuvwxyz",
                   *"áéíóúüñ¿¡")
CHAR_ID = {c: i for i, c in enumerate(TEXT_VOCABULARY)}
UNKNOWN = 1
# Punctuation outside the vocabulary read as the nearest mark inside it.
NEAREST_MARK = {";": ",", ":": ",", "\u2014": "-", "\u2013": "-", "\u2026": ".", "\u201c": "", "\u201d": "",
                '"': ""}
SPACES = re.compile(r"\s+")
SPACE_BEFORE_MARK = re.compile(r" +([,.?!])")


def encode_text(text: str) -> np.ndarray:
    """Lower-cased characters to ids; characters outside the vocabulary map to <unk> (1)."""
    return np.array([CHAR_ID.get(c, UNKNOWN) for c in text.lower()], dtype=np.int64)


def encode_symbols(text: str, symbols: str = "mouthpiece") -> np.ndarray:
    """Ids of (already normalised) text in a text model's character set: mouthpiece or nvidia."""
    if symbols == "nvidia":
        from .nvidia_symbols import encode_nvidia

        return encode_nvidia(text)
    return encode_text(text)


def model_text(text: str, language: str = "en") -> str:
    """Typed text as the text models read it: spelled out (English), lower-cased, characters outside the
    vocabulary replaced by the nearest one (an accent dropped, a mark made a comma) or left out."""
    if language.split("-")[0].lower() == "en":
        text = spell_numbers(spoken_words_and_symbols(text))
    text = "".join(_in_vocabulary(c) for c in text.lower())
    return SPACE_BEFORE_MARK.sub(r"\1", SPACES.sub(" ", text)).strip()


def _in_vocabulary(character: str) -> str:
    if character in CHAR_ID:
        return character
    if character.isspace():
        return " "
    if character in NEAREST_MARK:
        return NEAREST_MARK[character]
    base = unicodedata.normalize("NFKD", character)[:1]
    return base if base in CHAR_ID and base.isalpha() else ""
