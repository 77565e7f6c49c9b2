"""What the verdict model reads from a Report: one number per feature, in a fixed order."""

from __future__ import annotations

import numpy as np

from pixelsleuth.report import Direction, Report

# The analyzers whose scores the model weighs (file-level and pixel analyzers alike).
SCORED_ANALYZERS = (
    "metadata",
    "thumbnail",
    "jpeg",
    "ela",
    "ghost",
    "noise",
    "copy-move",
    "spectrum",
    "detector",
)
# Analyzers that read the pixels; when most of them cannot speak, there is too little to judge.
PIXEL_ANALYZERS = ("jpeg", "ela", "ghost", "noise", "copy-move", "spectrum", "detector")
DIRECTIONS = (Direction.AI, Direction.EDITED, Direction.CAMERA)
FEATURES = (
    *(f"score:{a}" for a in SCORED_ANALYZERS),
    *(f"missing:{a}" for a in SCORED_ANALYZERS),
    *(f"strongest:{d.value}" for d in DIRECTIONS),
    *(f"total:{d.value}" for d in DIRECTIONS),
)


def features(report: Report) -> np.ndarray:
    """The model's input for one report, float64 in the order of :data:`FEATURES`: each
    analyzer's score (0.5 when it has none) and whether it is missing, then the strongest
    and the total (capped at 3) evidence strength in each direction."""
    out: list[float] = []
    findings = {f.analyzer: f for f in report.findings if f.error is None}
    scores = [findings[a].score if a in findings else None for a in SCORED_ANALYZERS]
    out += [0.5 if s is None else float(s) for s in scores]
    out += [1.0 if s is None else 0.0 for s in scores]
    evidence = [e for f in findings.values() for e in f.evidence]
    for d in DIRECTIONS:
        out.append(max((e.strength for e in evidence if e.direction is d), default=0.0))
    for d in DIRECTIONS:
        out.append(min(3.0, sum(e.strength for e in evidence if e.direction is d)))
    return np.asarray(out, dtype=np.float64)
