"""Phone sets, and the tables that map espeak-ng mnemonics onto them.

- arpabet: the 39 CMU phones without stress digits, plus SIL (English).
- spanish: the Spanish phones the articulation tables key on, plus SIL.
- espeak: espeak-ng's own mnemonics unchanged (any other language).
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from ..phones import SILENCE

log = logging.getLogger(__name__)

ARPABET = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH",
           "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V",
           "W", "Y", "Z", "ZH", SILENCE)
SPANISH = ("A", "E", "I", "O", "U", "P", "B", "T", "D", "K", "G", "F", "S", "Z", "TH", "X", "CH", "M", "N",
           "NY", "L", "LL", "R", "RR", "Y", "W", SILENCE)
PHONE_SETS: dict[str, tuple[str, ...]] = {"arpabet": ARPABET, "spanish": SPANISH}

TABLES_DIR = Path(__file__).resolve().parents[1] / "data" / "phonesets"
STRESS_MARKS = "',%="
MODIFIERS = "#-:;/0123456789"  # trailing marks espeak adds to variants of a base phoneme
# Phone used when a mnemonic is in no table and no simpler form of it is either.
VOWEL_FALLBACK = {"arpabet": "AH", "spanish": "A"}
VOWEL_SYMBOLS = set("aeiouyAEIOUY@036V")


def phone_set_for(language: str) -> str:
    """'arpabet' for English (en, en-us, en-gb-x-rp, ...), 'spanish' for es*, 'espeak' otherwise."""
    code = language.lower().replace("_", "-")
    if code == "en" or code.startswith("en-"):
        return "arpabet"
    if code == "es" or code.startswith("es-"):
        return "spanish"
    return "espeak"


@lru_cache(maxsize=None)
def mapping_table(phone_set: str) -> dict[str, tuple[str, ...]]:
    """espeak mnemonic -> phones in `phone_set`, read from data/phonesets/espeak_<set>.tsv."""
    path = TABLES_DIR / f"espeak_{phone_set}.tsv"
    table: dict[str, tuple[str, ...]] = {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    for line in lines[1:]:
        mnemonic, phones = line.split("\t")[:2]
        table[mnemonic] = () if phones == "-" else tuple(phones.split())
    unknown = {p for phones in table.values() for p in phones} - set(PHONE_SETS[phone_set])
    if unknown:
        raise ValueError(f"{path}: phones outside the {phone_set} set: {sorted(unknown)}")
    return table


def strip_stress(mnemonic: str) -> str:
    return mnemonic.lstrip(STRESS_MARKS).replace("'", "").replace(",", "")


def is_pause(mnemonic: str) -> bool:
    return mnemonic.startswith("_")


def to_phone_set(mnemonic: str, phone_set: str) -> tuple[str, ...]:
    """Map one espeak mnemonic (stress marks allowed) to zero or more phones of `phone_set`.

    Pauses become SIL. A mnemonic missing from the table is retried without its trailing modifiers, then
    by its first character; failing that it is logged and read as a neutral vowel or as silence.
    """
    bare = strip_stress(mnemonic)
    if is_pause(bare) or not bare:
        return (SILENCE,)
    if phone_set not in PHONE_SETS:
        return (bare,)
    table = mapping_table(phone_set)
    for candidate in (bare, bare.rstrip(MODIFIERS), bare[0]):
        if candidate in table:
            return table[candidate]
    return (_fallback(bare, phone_set),)


@lru_cache(maxsize=None)
def _fallback(bare: str, phone_set: str) -> str:
    phone = VOWEL_FALLBACK[phone_set] if bare[0] in VOWEL_SYMBOLS else SILENCE
    log.warning("espeak phoneme %r has no %s mapping; using %s", bare, phone_set, phone)
    return phone
