"""Per-analyzer calibration against ordinary photos: when is a score "suspicious"?

An analyzer's raw score means different things per analyzer (copy-move gives 0.6 to many
untouched photos, the detector rarely passes 0.3 on them). The table holds, per analyzer, the
score above which at most :data:`TARGET_RATE` of ordinary, unedited photos fall in *every*
condition people meet them in (camera original, re-saved, resized, stripped, PNG/WebP,
screenshot), with :data:`CONFIDENCE` confidence: the rate is bounded from above, not merely
estimated, because a level that sits on the sample's own 5 % point lets about half of all
fresh samples exceed it. It is fitted by `pixelsleuth fit-verdict` on the calibration split
only and applied in one place, :meth:`CalibrationTable.suspicious`, which the verdict, the CLI
and the app share: a section is opened as suspicious by exactly this rule.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelsleuth.report import Finding


def save_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write a fitted table as plain, readable JSON (never a pickle); folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


TARGET_RATE = 0.05  # at most this share of ordinary photos may trip an analyzer, per condition
CONFIDENCE = 0.95  # one-sided: the fitted level keeps the true rate under TARGET_RATE this surely
MIN_PER_CONDITION = 8  # the point rule (no confidence) skips smaller conditions
DEFAULT_TABLE = Path(__file__).parent / "data" / "calibration.json"
NEVER = 1.01  # a threshold no score reaches: the analyzer is never "suspicious"


@dataclass
class CalibrationTable:
    """``thresholds``: analyzer name → the score from which its finding is suspicious (0–1,
    or above 1 when the analyzer alarms too often on ordinary photos to flag at all).
    ``quantiles``: analyzer → the 50/90/95/99th percentiles of its scores on the photos it was
    fitted on, for people reading the table. ``card``: what it was fitted on."""

    thresholds: dict[str, float]
    quantiles: dict[str, dict[str, float]] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)

    def suspicious(self, finding: Finding) -> bool:
        """Whether a finding's score reaches its analyzer's calibrated alarm level. Findings
        without a score (abstained, failed) and analyzers not in the table are never
        suspicious."""
        if finding.error or finding.score is None:
            return False
        threshold = self.thresholds.get(finding.analyzer)
        return threshold is not None and float(finding.score) >= threshold

    def save(self, path: str | Path) -> Path:
        return save_json(self.__dict__, path)

    @classmethod
    def load(cls, path: str | Path) -> CalibrationTable:
        data = json.loads(Path(path).read_text())
        return cls(data["thresholds"], data.get("quantiles", {}), data.get("card", {}))


def rate_upper_bound(alarms: int, n: int, confidence: float = CONFIDENCE) -> float:
    """The one-sided Clopper–Pearson upper confidence bound on a rate (0–1) of which
    ``alarms`` of ``n`` were seen: the true rate is below it with ``confidence``."""
    from scipy.stats import beta

    if alarms >= n:
        return 1.0
    return float(beta.ppf(confidence, alarms + 1, n - alarms))


def allowed_alarms(n: int, rate: float, confidence: float | None = CONFIDENCE) -> int | None:
    """How many of ``n`` photos may reach a level while the rate stays bounded by ``rate``:
    with a ``confidence``, the most whose upper confidence bound is still ≤ ``rate`` (None
    when even none is too few: 59 photos at least for 5 % at 95 %); without one, the point
    rule floor(rate·n), None under MIN_PER_CONDITION photos."""
    if confidence is None:
        return math.floor(rate * n) if n >= MIN_PER_CONDITION else None
    if n == 0 or rate_upper_bound(0, n, confidence) > rate:
        return None
    k = 0
    while k + 1 < n and rate_upper_bound(k + 1, n, confidence) <= rate:
        k += 1
    return k


def threshold_for(
    scores_by_condition: Mapping[str, Sequence[float]],
    rate: float,
    confidence: float | None = CONFIDENCE,
) -> float:
    """The lowest score that at most ``rate`` of the photos in every condition reach.

    Per condition with n scores, at most :func:`allowed_alarms` of them may be at or above
    the level, so it sits just above the (allowed+1)-th largest score; the table keeps the
    highest of these over the conditions. A condition too small to bound the rate at all is
    skipped; without any condition left, the analyzer never flags (NEVER).
    """
    level: float | None = None
    for scores in scores_by_condition.values():
        allowed = allowed_alarms(len(scores), rate, confidence)
        if allowed is None:
            continue
        ranked = sorted(scores, reverse=True)
        level = max(level or 0.0, ranked[allowed] + 1e-4)
    return NEVER if level is None else min(round(level, 4), NEVER)


def fit_table(
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    rate: float = TARGET_RATE,
    confidence: float | None = CONFIDENCE,
) -> CalibrationTable:
    """``scores``: analyzer → condition → the scores of ordinary photos (abstentions left
    out). Returns the table with one threshold per analyzer."""
    import numpy as np

    thresholds, quantiles = {}, {}
    scored: dict[str, dict[str, int]] = {}  # analyzer → condition → photos that bound its level
    for analyzer, by_condition in sorted(scores.items()):
        pooled = [s for values in by_condition.values() for s in values]
        if not pooled:
            continue
        thresholds[analyzer] = threshold_for(by_condition, rate, confidence)
        levels = (50, 90, 95, 99)
        q = np.percentile(pooled, levels)
        quantiles[analyzer] = {f"p{p}": round(float(v), 4) for p, v in zip(levels, q, strict=True)}
        quantiles[analyzer]["n"] = len(pooled)
        scored[analyzer] = {c: len(v) for c, v in sorted(by_condition.items())}
    card = {"target_rate": rate, "confidence": confidence, "scored_per_condition": scored}
    return CalibrationTable(thresholds, quantiles, card)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> CalibrationTable:
    return CalibrationTable.load(path)


def default_table(path: Path | None = None) -> CalibrationTable:
    """The table at ``path`` (Settings.calibration), else the one shipped with the package;
    an empty table, which flags nothing, when neither exists."""
    path = Path(path or DEFAULT_TABLE)
    if not path.is_file():
        return CalibrationTable({})
    return _load_cached(str(path), path.stat().st_mtime)
