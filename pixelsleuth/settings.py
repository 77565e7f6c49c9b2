"""Every setting that changes how pixelsleuth reads and judges images, in one object.

:meth:`Settings.from_env` is the one place that reads pixelsleuth's environment variables; a
command then overrides what its options say (:meth:`Settings.with_options`) and passes the
result down: the limits to the image reader, the trust anchors and the detector's weights to
:func:`pixelsleuth.analyzers.create_analyzers`, the verdict model and calibration table to the
verdict, the whole object to each audit worker. A child process that can only inherit an
environment (the Streamlit app) gets :meth:`Settings.environ`.

========================================  ============================================
variable                                  setting
========================================  ============================================
``PIXELSLEUTH_MAX_PIXELS``                ``limits.max_pixels`` (decompression bombs)
``PIXELSLEUTH_MAX_FILE_BYTES``            ``limits.max_file_bytes``
``PIXELSLEUTH_MEMORY_BUDGET_MB``          ``limits.memory_budget_mb`` (one image's analysis)
``PIXELSLEUTH_C2PA_TRUST_ANCHORS``        ``c2pa_trust_anchors`` (a PEM file)
``PIXELSLEUTH_DETECTOR_WEIGHTS``          ``detector_weights`` (a folder, or ``hf:org/name``)
``PIXELSLEUTH_DETECTOR_PRECISION``        ``detector_precision`` (auto, float32, bfloat16)
``PIXELSLEUTH_VERDICT_MODEL``             ``verdict_model`` (a verdict.json)
``PIXELSLEUTH_CALIBRATION``               ``calibration`` (a calibration.json)
``PIXELSLEUTH_ONLINE_MAP``                ``online_map`` (1: the app may fetch map tiles)
========================================  ============================================
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelsleuth.imageio import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_PIXELS, Limits

PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)
    c2pa_trust_anchors: Path | None = None  # PEM certificates whose signers are trusted
    detector_weights: str | None = None  # None: the weights shipped with the package
    detector_precision: str = "auto"  # inference arithmetic, not a property of the weights
    verdict_model: Path | None = None  # None: the shipped verdict model
    calibration: Path | None = None  # None: the shipped calibration table
    online_map: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment asks for, defaults elsewhere. A value that cannot be
        read raises ValueError naming the variable, in words."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"PIXELSLEUTH_{name}", "").strip()
            return value or None

        def number(name: str, default: float | None, kind: type = int) -> Any:
            value = get(name)
            if value is None:
                return default
            try:
                parsed = kind(float(value)) if kind is int else kind(value)
            except ValueError:
                raise ValueError(f"PIXELSLEUTH_{name} must be a number, not {value!r}") from None
            if parsed <= 0:
                raise ValueError(f"PIXELSLEUTH_{name} must be above zero, not {value!r}")
            return parsed

        precision = get("DETECTOR_PRECISION") or "auto"
        if precision not in PRECISIONS:
            raise ValueError(
                f"PIXELSLEUTH_DETECTOR_PRECISION must be one of {', '.join(PRECISIONS)}, "
                f"not {precision!r}"
            )
        return cls(
            limits=Limits(
                max_pixels=number("MAX_PIXELS", DEFAULT_MAX_PIXELS),
                max_file_bytes=number("MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES),
                memory_budget_mb=number("MEMORY_BUDGET_MB", None, float),
            ),
            c2pa_trust_anchors=_path(get("C2PA_TRUST_ANCHORS")),
            detector_weights=get("DETECTOR_WEIGHTS"),
            detector_precision=precision,
            verdict_model=_path(get("VERDICT_MODEL")),
            calibration=_path(get("CALIBRATION")),
            online_map=get("ONLINE_MAP") == "1",
        )

    def with_options(
        self,
        *,
        max_pixels: int | None = None,
        max_file_bytes: int | None = None,
        memory_budget_mb: float | None = None,
        c2pa_trust_anchors: Path | None = None,
        online_map: bool | None = None,
    ) -> Settings:
        """These settings with a command's options applied (None: the option was not given).
        Raises ValueError, in words, for a limit that is not above zero or a trust-anchor file
        that does not exist."""
        for name, value in (
            ("--max-pixels", max_pixels),
            ("--max-file-mb", max_file_bytes),
            ("--memory-budget-mb", memory_budget_mb),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be above zero")
        if c2pa_trust_anchors is not None and not Path(c2pa_trust_anchors).is_file():
            raise ValueError(f"{c2pa_trust_anchors}: no such trust-anchor file")
        limits = dataclasses.replace(
            self.limits,
            **{
                k: v
                for k, v in (
                    ("max_pixels", max_pixels),
                    ("max_file_bytes", max_file_bytes),
                    ("memory_budget_mb", memory_budget_mb),
                )
                if v is not None
            },
        )
        changes: dict[str, Any] = {"limits": limits}
        if c2pa_trust_anchors is not None:
            changes["c2pa_trust_anchors"] = Path(c2pa_trust_anchors)
        if online_map is not None:
            changes["online_map"] = online_map
        return dataclasses.replace(self, **changes)

    def environ(self) -> dict[str, str]:
        """These settings as the environment variables that :meth:`from_env` reads back (for a
        child process that can only inherit an environment)."""
        values = {
            "MAX_PIXELS": self.limits.max_pixels,
            "MAX_FILE_BYTES": self.limits.max_file_bytes,
            "MEMORY_BUDGET_MB": self.limits.memory_budget_mb,
            "C2PA_TRUST_ANCHORS": self.c2pa_trust_anchors,
            "DETECTOR_WEIGHTS": self.detector_weights,
            "DETECTOR_PRECISION": self.detector_precision,
            "VERDICT_MODEL": self.verdict_model,
            "CALIBRATION": self.calibration,
            "ONLINE_MAP": "1" if self.online_map else "0",
        }
        return {f"PIXELSLEUTH_{k}": str(v) for k, v in values.items() if v is not None}

    def trust_anchor_pem(self) -> str | None:
        """The trust anchors' PEM text, or None when none are set or the file is gone."""
        path = self.c2pa_trust_anchors
        try:
            return path.read_text() if path is not None else None
        except OSError:
            return None


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value).expanduser()
