"""espeak-ng through its C library (ctypes): synthesis with phoneme events, text to phonemes, voices.

The library is initialised once per process in synchronous mode with phoneme events; every call into it
holds one lock, because espeak-ng keeps a single global synthesizer.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError, ToolError

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_DONT_EXIT = 0x8000
POS_CHARACTER = 1
CHARS_UTF8 = 1
PARAM_RATE = 1
PARAM_PITCH = 3
EE_OK = 0

EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
EVENT_END = 5
EVENT_PHONEME = 7
GENDERS = {0: "none", 1: "male", 2: "female"}


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte),
                ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int),
                ("spare", ctypes.c_void_p)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice: `name` is what `synthesize(voice=...)` accepts (its file identifier)."""

    name: str
    language: str
    gender: str
    title: str = ""


@dataclass(frozen=True)
class Event:
    """A synthesis event: `sample` is the absolute sample index in the synthesized audio."""

    kind: int
    sample: int
    text_position: int  # 1-based character index into the text
    length: int  # characters, for word events
    phoneme: str = ""


@dataclass(frozen=True)
class RawSynthesis:
    audio: np.ndarray  # int16 samples
    sample_rate: int
    events: tuple[Event, ...]
    language: str  # the language of the voice that spoke


def _library_and_data() -> tuple[str, str | None]:
    try:
        import espeakng_loader
    except ImportError:
        system = ctypes.util.find_library("espeak-ng")
        if system is None:
            raise ToolError("espeak-ng library not found: install the espeakng-loader package "
                            "or the system libespeak-ng1") from None
        return system, None
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def _declare(lib: ctypes.CDLL) -> None:
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    lib.espeak_GetCurrentVoice.argtypes = []
    lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_Voice)
    lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    lib.espeak_Info.restype = ctypes.c_char_p


class _Engine:
    """The process's one espeak-ng instance; use it only while holding `lock`."""

    def __init__(self) -> None:
        library, data = _library_and_data()
        try:
            self.lib = ctypes.CDLL(library)
        except OSError as exc:
            raise ToolError(f"{library}: cannot load espeak-ng ({exc})") from exc
        _declare(self.lib)
        self.lock = threading.RLock()
        self._chunks: list[np.ndarray] = []
        self._events: list[Event] = []
        self._callback = _SynthCallback(self._collect)  # kept alive as long as the engine
        path = data.encode() if data else None
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, path,
                                          INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise ToolError(f"espeak-ng failed to initialise (data path {data or 'system default'})")
        self.sample_rate = int(rate)
        self.lib.espeak_SetSynthCallback(self._callback)
        in_use = ctypes.c_char_p()
        self.version = (self.lib.espeak_Info(ctypes.byref(in_use)) or b"").decode()
        self.data_path = in_use.value.decode() if in_use.value else data

    def _collect(self, wav, n_samples: int, events) -> int:
        if wav and n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (n_samples,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            event = events[i]
            phoneme = ""
            if event.type == EVENT_PHONEME:
                phoneme = bytes(event.id.string).split(b"\0")[0].decode("utf-8", "replace")
            self._events.append(Event(event.type, event.sample, event.text_position, event.length, phoneme))
            i += 1
        return 0

    def set_voice(self, voice: str) -> str:
        """Select `voice` (name, identifier, language code, with an optional +variant); return its language."""
        check_voice(voice)
        if self.lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
            raise InputError(None, f"unknown espeak-ng voice or language {voice!r}")
        current = self.lib.espeak_GetCurrentVoice()
        return _first_language(current.contents.languages) if current else voice

    def synthesize(self, text: str, voice: str, rate_wpm: int, pitch: int) -> RawSynthesis:
        language = self.set_voice(voice)
        self.lib.espeak_SetParameter(PARAM_RATE, int(rate_wpm), 0)
        self.lib.espeak_SetParameter(PARAM_PITCH, int(pitch), 0)
        self._chunks, self._events = [], []
        # The callback is process-wide in the C library; claim it for every call, since a second copy of
        # this module (the add-on's vendored backend beside the installed one) may have claimed it since.
        self.lib.espeak_SetSynthCallback(self._callback)
        data = text.encode("utf-8")
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if status != EE_OK:
            raise ToolError(f"espeak-ng synthesis failed with status {status}")
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        events = tuple(self._events)
        self._chunks, self._events = [], []
        return RawSynthesis(audio, self.sample_rate, events, language)

    def text_to_phonemes(self, text: str, voice: str, separator: str = "|") -> list[str]:
        """espeak mnemonics per clause, phonemes split by `separator` and words by spaces."""
        self.set_voice(voice)
        buffer = ctypes.c_char_p(text.encode("utf-8"))
        pointer = ctypes.c_char_p(ctypes.cast(buffer, ctypes.c_void_p).value)
        mode = ord(separator) << 8
        clauses = []
        while pointer.value:
            out = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), CHARS_UTF8, mode)
            clauses.append((out or b"").decode("utf-8", "replace"))
        return clauses

    def voices(self) -> list[Voice]:
        listed = self.lib.espeak_ListVoices(None)
        found = []
        i = 0
        while listed[i]:
            entry = listed[i].contents
            found.append(Voice(name=entry.identifier.decode().split("/")[-1],
                               language=_first_language(entry.languages),
                               gender=GENDERS.get(entry.gender, "none"),
                               title=(entry.name or b"").decode("utf-8", "replace")))
            i += 1
        return found


def _first_language(languages: bytes | None) -> str:
    """espeak stores languages as (priority byte, name, NUL)... pairs; return the first name."""
    if not languages:
        return ""
    return languages[1:].split(b"\0")[0].decode("ascii", "replace")


@lru_cache(maxsize=1)
def engine() -> _Engine:
    return _Engine()


@lru_cache(maxsize=1)
def _known_voice_names() -> frozenset[str]:
    eng = engine()
    with eng.lock:
        voices = eng.voices()
    names = set()
    for voice in voices:
        names.update({voice.name.lower(), voice.language.lower(), voice.title.lower()})
    return frozenset(names - {""})


def _variants() -> frozenset[str]:
    data = engine().data_path
    if data is None:
        return frozenset()
    folder = Path(data) / "voices" / "!v"
    return frozenset(p.name.lower() for p in folder.iterdir()) if folder.is_dir() else frozenset()


def check_voice(voice: str) -> None:
    """Raise InputError unless `voice` names an installed voice or language, with a known +variant."""
    base, _, variant = voice.partition("+")
    if not base or base.lower() not in _known_voice_names():
        raise InputError(None, f"unknown espeak-ng voice or language {voice!r} "
                               "(see `list_voices()` for the installed ones)")
    variants = _variants()
    if variant and variants and variant.lower() not in variants:
        raise InputError(None, f"unknown espeak-ng voice variant {variant!r} in {voice!r}")
