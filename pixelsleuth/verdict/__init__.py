"""The verdict: one calibrated conclusion from all the evidence, with its reasons.

- ``features``: what the model reads from a Report.
- ``calibration``: per-analyzer alarm levels fitted on ordinary photos (when a section is
  "suspicious").
- ``rules``: the decision (provenance, coverage, model, labels, reasons, stability).
- ``model``: the multinomial logistic regression, stored as JSON.
- ``stability``: the perturbed copies the stability check scores.
- ``fit``: `pixelsleuth fit-verdict`, which fits the table and the model and measures them.

The stability re-analysis itself runs in :mod:`pixelsleuth.analyze`, which imports this
package; nothing here imports it back (an import-linter contract in pyproject.toml).
"""

from pixelsleuth.verdict.calibration import CalibrationTable, default_table
from pixelsleuth.verdict.model import CLASSES, VerdictModel, default_model
from pixelsleuth.verdict.rules import (
    CAVEAT,
    LABEL_DEFINITIONS,
    Coverage,
    decide,
    flagged,
    settle,
)

__all__ = [
    "CAVEAT",
    "CLASSES",
    "LABEL_DEFINITIONS",
    "CalibrationTable",
    "Coverage",
    "VerdictModel",
    "decide",
    "default_model",
    "default_table",
    "flagged",
    "settle",
]
