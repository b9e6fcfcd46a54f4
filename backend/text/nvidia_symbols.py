"""NVIDIA Tacotron 2's symbol table (148 ids), so its LJSpeech weights can read our text.

Ids: pad, "-", the punctuation "!'(),.:;? ", the letters A-Z a-z, then 84 ARPAbet symbols written "@AA" etc.
Text is lower-cased as its english_cleaners do; characters outside the table are dropped, as there.
"""
from __future__ import annotations

import numpy as np

_ARPABET = ("AA AA0 AA1 AA2 AE AE0 AE1 AE2 AH AH0 AH1 AH2 AO AO0 AO1 AO2 AW AW0 AW1 AW2 AY AY0 AY1 AY2 B CH D DH "
            "EH EH0 EH1 EH2 ER ER0 ER1 ER2 EY EY0 EY1 EY2 F G HH IH IH0 IH1 IH2 IY IY0 IY1 IY2 JH K L M N NG "
            "OW OW0 OW1 OW2 OY OY0 OY1 OY2 P R S SH T TH UH UH0 UH1 UH2 UW UW0 UW1 UW2 V W Y Z ZH").split()
NVIDIA_SYMBOLS = ("_", "-", *"!'(),.:;? ", *"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                  *(f"@{s}" for s in _ARPABET))
_SYMBOL_ID = {s: i for i, s in enumerate(NVIDIA_SYMBOLS)}


def encode_nvidia(text: str) -> np.ndarray:
    """Lower-cased characters to NVIDIA ids, with runs of whitespace collapsed."""
    cleaned = " ".join(text.lower().split())
    return np.array([_SYMBOL_ID[c] for c in cleaned if c in _SYMBOL_ID], dtype=np.int64)
