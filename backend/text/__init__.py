"""Text to phones: espeak-ng synthesis with exact phone timings, G2P, voices, and phone sets."""
from .espeak import Voice
from .phonesets import phone_set_for
from .synthesis import Synthesis, list_voices, phonemize_word, synthesize

__all__ = ["Synthesis", "Voice", "list_voices", "phone_set_for", "phonemize_word", "synthesize"]
