"""Phone timelines: what the speech tools produce and the articulation consumes."""
from __future__ import annotations

from dataclasses import dataclass

SILENCE = "SIL"


@dataclass(frozen=True)
class Phone:
    """One phone: a label in the timeline's phone set, with times in seconds."""

    label: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class PhoneTimeline:
    """Phones in time order. `phone_set` names the table that reads them: 'arpabet', 'spanish', 'espeak'."""

    phones: tuple[Phone, ...]
    phone_set: str = "arpabet"
    words: tuple[Word, ...] = ()
    confidence: float | None = None
    """how well the words fit the audio, 0 (not at all) to 1, where an aligner measures it"""

    @property
    def duration(self) -> float:
        return self.phones[-1].end if self.phones else 0.0

    def as_lists(self) -> list[list]:
        """The Animation meta form: [[label, start_s, end_s], ...]."""
        return [[p.label, round(p.start, 4), round(p.end, 4)] for p in self.phones]
