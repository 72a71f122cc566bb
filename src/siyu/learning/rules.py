"""Pure rules of training: scoring a quiz, ranking a knowledge contest, tags, what a video is. No I/O.

**Scoring.** A single-choice question scores its points when the one chosen answer is the correct
one; a multiple-choice question scores them only when the chosen set is exactly the correct set (no
partial credit: ticking every box never pays). The percentage is rounded down; an attempt passes
at ``percent >= pass_percent``.

**Knowledge contest ranking.** Each guide's best attempt inside the window: the highest percentage,
then the shortest time, then the earliest submission. Stores and regions rank by the average of
their guides' best percentages, then their average time; ties share a place.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QuestionKey:
    id: int
    kind: str  # "single" or "multiple"
    points: int
    correct: frozenset[int]
    choices: frozenset[int]


@dataclass(frozen=True)
class Scored:
    score: int
    max_score: int
    percent: int
    passed: bool
    right: frozenset[int]  # the questions answered right


def score_quiz(questions: Sequence[QuestionKey], answers: Mapping[int, Iterable[int]], pass_percent: int) -> Scored:
    """Score ``answers`` (question id -> chosen choice ids); unknown choices count as wrong."""
    total = sum(q.points for q in questions)
    got = 0
    right: set[int] = set()
    for q in questions:
        chosen = frozenset(int(c) for c in answers.get(q.id, ()))
        if not chosen or not chosen <= q.choices:
            continue
        if q.kind == "single" and len(chosen) != 1:
            continue
        if chosen == q.correct:
            got += q.points
            right.add(q.id)
    percent = (100 * got) // total if total else 0
    return Scored(got, total, percent, total > 0 and percent >= pass_percent, frozenset(right))


@dataclass(frozen=True)
class Best:
    guide_id: int
    percent: int
    seconds: int
    submitted_at: dt.datetime
    store_id: int | None
    region_id: int | None


def best_attempts(attempts: Iterable[Best]) -> list[Best]:
    """Each guide's best attempt, the guides in ranking order (percent, then time, then who first)."""
    best: dict[int, Best] = {}
    for a in attempts:
        held = best.get(a.guide_id)
        if held is None or _key(a) < _key(held):
            best[a.guide_id] = a
    return sorted(best.values(), key=_key)


def _key(a: Best) -> tuple[int, int, dt.datetime, int]:
    return (-a.percent, a.seconds, a.submitted_at, a.guide_id)


@dataclass(frozen=True)
class Standing:
    rank: int
    subject_id: int | None
    percent: float  # a guide: her best; a store or region: the average of its guides' bests
    seconds: float
    people: int


def rank_guides(best: Sequence[Best]) -> list[Standing]:
    out: list[Standing] = []
    for i, b in enumerate(best):
        same = out and out[-1].percent == b.percent and out[-1].seconds == b.seconds
        out.append(Standing(out[-1].rank if same else i + 1, b.guide_id, b.percent, b.seconds, 1))
    return out


def rank_groups(best: Sequence[Best], level: str) -> list[Standing]:
    """Stores (``level="store"``) or regions ranked by their guides' average best, then time."""
    groups: dict[int | None, list[Best]] = {}
    for b in best:
        groups.setdefault(b.store_id if level == "store" else b.region_id, []).append(b)
    rows = [
        (key, round(sum(b.percent for b in bs) / len(bs), 1), round(sum(b.seconds for b in bs) / len(bs), 1), len(bs))
        for key, bs in groups.items()
        if key is not None
    ]
    rows.sort(key=lambda r: (-r[1], r[2], -r[3], r[0] or 0))
    out: list[Standing] = []
    for i, (key, pct, secs, n) in enumerate(rows):
        same = out and out[-1].percent == pct and out[-1].seconds == secs
        out.append(Standing(out[-1].rank if same else i + 1, key, pct, secs, n))
    return out


_SPLIT = re.compile(r"[,，、;；#\s]+")


def clean_tags(raw: str | Iterable[str]) -> list[str]:
    """Tags from text ("陈列, 话术 新品") or a list: trimmed, at most 20 of 1–20 characters, no repeats."""
    parts = _SPLIT.split(raw) if isinstance(raw, str) else [str(p) for p in raw]
    out: list[str] = []
    for p in parts:
        tag = p.strip()[:20]
        if tag and tag not in out:
            out.append(tag)
    return out[:20]


def search_text(*parts: Any) -> str:
    return " ".join(" ".join(p) if isinstance(p, list) else str(p or "") for p in parts).lower()


MAX_VIDEO_BYTES = 200 * 1024 * 1024  # a short training clip, not a film


@dataclass(frozen=True)
class ParsedQuestion:
    text: str
    choices: tuple[tuple[str, bool], ...]

    @property
    def kind(self) -> str:
        return "multiple" if sum(1 for _, right in self.choices if right) > 1 else "single"


def parse_questions(text: str) -> list[ParsedQuestion]:
    """Questions as HQ types them: a line is a question; the lines under it starting with ``-`` are
    wrong answers and with ``*`` right ones (two or more ``*``: several answers)."""
    out: list[ParsedQuestion] = []
    current: str | None = None
    choices: list[tuple[str, bool]] = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line[0] in "-*" and current is not None:
            choices.append((line[1:].strip(), line[0] == "*"))
            continue
        if current is not None:
            out.append(ParsedQuestion(current, tuple(choices)))
        current, choices = line, []
    if current is not None:
        out.append(ParsedQuestion(current, tuple(choices)))
    return out


def questions_text(questions: Iterable[tuple[str, Iterable[tuple[str, bool]]]]) -> str:
    """The inverse of :func:`parse_questions` (to edit a quiz)."""
    blocks = []
    for text, choices in questions:
        blocks.append("\n".join([text, *[f"{'*' if right else '-'} {c}" for c, right in choices]]))
    return "\n\n".join(blocks)
