"""Phone timeline -> the 46 FaceWarehouse-style weights, with coarticulation.

Each phone has a target pose and a dominance (data tables under data/articulation/, one per phone set).
A phone's dominance is full over its own interval and falls off smoothly before it (anticipation) and
after it (carry-over); every frame blends the poses of nearby phones in proportion to their dominance.
Bilabials then get a hard closure held for at least a minimum time, so P/B/M really close the lips.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import DATA_DIR
from .animation import Animation
from .phones import Phone, PhoneTimeline
from .rig import CHANNEL_INDEX, FACEWAREHOUSE_46

# Channels that part the lips or drop the jaw: a bilabial closure drives these to zero.
OPENING_CHANNELS = ("JawOpen", "LipsUpperOpen", "LipsLowerOpen", "LipsLowerDown", "LipsUpperUp",
                    "LipsFunnel", "LipsPucker")
MIN_CLOSURE_S = 0.06
MIN_HOLD_S = 0.04
TAIL_GAIN = 0.5  # a phone's reach into its neighbours, relative to its own interval
FALLOFF_REACH = 3.0  # dominance is computed out to this many spreads from the phone
STRESS_MARKS = re.compile(r"[',:;%=!]")


@dataclass(frozen=True)
class ArticulationStyle:
    amplitude: float = 1.0  # gain on every pose
    anticipation_s: float = 0.04  # extra reach of a phone's shape before its start
    spread_s: float = 0.05  # coarticulation width (Gaussian fall-off of dominance)
    jitter_s: float = 0.0  # random shift of phone boundaries, for data variety
    seed: int = 0


@dataclass(frozen=True)
class PhoneRule:
    pattern: re.Pattern
    phone_class: str
    dominance: float
    pose: np.ndarray
    end_pose: np.ndarray | None


@lru_cache(maxsize=None)
def rule_table(phone_set: str) -> tuple[PhoneRule, ...]:
    path = DATA_DIR / "articulation" / f"{phone_set}.tsv"
    if not path.is_file():
        raise ValueError(f"no articulation table for phone set {phone_set!r}")
    rules = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t") + ["", ""]
        pattern, phone_class, dominance, pose, end_pose = cells[:5]
        rules.append(PhoneRule(re.compile(pattern), phone_class, float(dominance), parse_pose(pose),
                               parse_pose(end_pose) if end_pose.strip() else None))
    return tuple(rules)


def parse_pose(text: str) -> np.ndarray:
    """'JawOpen=0.7 LipsStretch_LR=0.3' -> a 46-vector; `_LR` sets both sides."""
    vec = np.zeros(len(FACEWAREHOUSE_46), dtype=np.float32)
    for item in text.split():
        name, value = item.split("=")
        names = [name[:-3] + "_L", name[:-3] + "_R"] if name.endswith("_LR") else [name]
        for channel in names:
            if channel not in CHANNEL_INDEX:
                raise ValueError(f"articulation table names unknown channel {channel!r}")
            vec[CHANNEL_INDEX[channel]] = float(value)
    return vec


def rule_for(label: str, phone_set: str) -> PhoneRule:
    key = STRESS_MARKS.sub("", label) if phone_set == "espeak" else label.upper().rstrip("012")
    for rule in rule_table(phone_set):
        if rule.pattern.fullmatch(key):
            return rule
    raise ValueError(f"articulation table {phone_set!r} has no fallback row")


@dataclass(frozen=True)
class Target:
    start: float
    end: float
    pose: np.ndarray
    dominance: float
    phone_class: str


def targets_for(phones: tuple[Phone, ...], phone_set: str, amplitude: float) -> list[Target]:
    """One target per phone; a diphthong (a row with end_pose) becomes two half-length targets."""
    targets = []
    for phone in phones:
        rule = rule_for(phone.label, phone_set)
        pose = rule.pose * amplitude
        start, end = held(phone.start, phone.end)
        if rule.end_pose is None:
            targets.append(Target(start, end, pose, rule.dominance, rule.phone_class))
        else:
            mid = 0.5 * (start + end)
            targets.append(Target(start, mid, pose, rule.dominance, rule.phone_class))
            targets.append(Target(mid, end, rule.end_pose * amplitude, rule.dominance, rule.phone_class))
    return targets


def held(start: float, end: float) -> tuple[float, float]:
    """Stretch a phone shorter than MIN_HOLD_S about its centre, so its shape is reached."""
    if end - start >= MIN_HOLD_S:
        return start, end
    centre = 0.5 * (start + end)
    return centre - 0.5 * MIN_HOLD_S, centre + 0.5 * MIN_HOLD_S


def jittered(phones: tuple[Phone, ...], jitter_s: float, seed: int) -> tuple[Phone, ...]:
    """Shift inner boundaries by up to +-jitter_s, keeping every phone at least 10 ms long."""
    if jitter_s <= 0 or len(phones) < 2:
        return phones
    rng = np.random.default_rng(seed)
    bounds = np.array([p.start for p in phones] + [phones[-1].end])
    inner = bounds[1:-1] + rng.uniform(-jitter_s, jitter_s, len(bounds) - 2)
    bounds[1:-1] = np.clip(inner, bounds[:-2] + 0.01, bounds[2:] - 0.01)
    return tuple(Phone(p.label, float(bounds[i]), float(bounds[i + 1])) for i, p in enumerate(phones))


def dominance_curve(times: np.ndarray, target: Target, before_s: float, after_s: float) -> np.ndarray:
    lead = np.clip(target.start - times, 0, None) / before_s
    lag = np.clip(times - target.end, 0, None) / after_s
    inside = (lead == 0) & (lag == 0)
    return target.dominance * np.where(inside, 1.0, TAIL_GAIN * np.exp(-(lead ** 2) - (lag ** 2)))


def blend(targets: list[Target], times: np.ndarray, style: ArticulationStyle) -> np.ndarray:
    before_s = style.spread_s + style.anticipation_s
    after_s = style.spread_s
    dt = times[1] - times[0] if len(times) > 1 else 1.0
    weighted = np.zeros((len(times), len(FACEWAREHOUSE_46)), dtype=np.float64)
    total = np.full(len(times), 1e-6)
    for target in targets:
        first = max(0, int(np.floor((target.start - FALLOFF_REACH * before_s - times[0]) / dt)))
        last = min(len(times), int(np.ceil((target.end + FALLOFF_REACH * after_s - times[0]) / dt)) + 1)
        if first >= last:
            continue
        dom = dominance_curve(times[first:last], target, before_s, after_s)
        weighted[first:last] += dom[:, None] * target.pose[None, :]
        total[first:last] += dom
    return weighted / total[:, None]


def close_bilabials(weights: np.ndarray, times: np.ndarray, targets: list[Target], fps: float) -> None:
    """Hold every bilabial fully closed for at least MIN_CLOSURE_S (and one frame), centred on the phone."""
    opening = [CHANNEL_INDEX[c] for c in OPENING_CHANNELS]
    hold = max(MIN_CLOSURE_S, 1.0 / fps)
    for target in targets:
        if target.phone_class != "bilabial":
            continue
        centre = 0.5 * (target.start + target.end)
        half = 0.5 * max(hold, target.end - target.start)
        frames = (times >= centre - half) & (times <= centre + half)
        weights[np.ix_(frames, opening)] = 0.0
        weights[frames] = np.maximum(weights[frames], target.pose)


def articulate(timeline: PhoneTimeline, fps: float = 100.0, style: ArticulationStyle = ArticulationStyle(),
               duration_s: float | None = None) -> Animation:
    """Weights for every frame from 0 to the end of the timeline (or `duration_s`)."""
    duration = max(timeline.duration, duration_s or 0.0)
    n_frames = max(1, int(np.ceil(duration * fps)))
    times = np.arange(n_frames) / fps
    phones = jittered(timeline.phones, style.jitter_s, style.seed)
    targets = targets_for(phones, timeline.phone_set, style.amplitude)
    weights = blend(targets, times, style)
    close_bilabials(weights, times, targets, fps)
    meta = {"phones": timeline.as_lists(), "phone_set": timeline.phone_set}
    return Animation(fps=fps, channels=list(FACEWAREHOUSE_46), values=np.clip(weights, 0, 1), meta=meta)
