"""The one typed Report that every analyzer fills and every front end renders.

A :class:`Report` describes one input file: facts about the file, one :class:`Finding` per
analyzer, and a verdict slot that the fusion step fills. Reports are plain dataclasses that
round-trip through JSON (``to_dict`` / ``from_dict``); heatmaps travel beside the JSON, never
inside it, because a 12 MP float map would dwarf everything else.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

SCHEMA_VERSION = "1.0"


class Direction(str, Enum):
    """Which way one piece of evidence points."""

    AI = "ai"  # towards a generative model
    EDITED = "edited"  # towards a camera photo that was changed afterwards
    CAMERA = "camera"  # towards an untouched camera original
    NEUTRAL = "neutral"  # a fact worth showing that points nowhere


@dataclass
class Evidence:
    """One observation, explained in a sentence a non-expert understands.

    ``strength`` is how much it should move a reader, 0 (a curiosity) to 1 (decisive on its own).
    """

    code: str
    message: str
    direction: Direction = Direction.NEUTRAL
    strength: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "direction": self.direction.value,
            "strength": round(float(self.strength), 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(
            code=data["code"],
            message=data["message"],
            direction=Direction(data.get("direction", "neutral")),
            strength=float(data.get("strength", 0.0)),
        )


@dataclass
class Heatmap:
    """A per-pixel map in [0, 1]; higher means more suspicious. Its pixels are not serialised
    into JSON: a map read back from JSON has its name, description, shape and file (if it was
    written as a PNG) but ``data`` None."""

    name: str
    description: str
    data: np.ndarray | None  # float32, H x W, values in [0, 1]
    path: str | None = None  # set once the map was written as a PNG file
    shape: tuple[int, ...] = ()  # of ``data``; kept when ``data`` is not

    def __post_init__(self) -> None:
        if self.data is not None:
            self.shape = tuple(self.data.shape)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "shape": list(self.shape),
        }
        if self.path:
            out["path"] = self.path
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Heatmap:
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            data=None,
            path=data.get("path"),
            shape=tuple(data.get("shape") or ()),
        )


@dataclass
class Finding:
    """What one analyzer found.

    ``score`` is the analyzer's suspicion from 0 (consistent with an untouched camera original)
    to 1 (strong sign of generation or manipulation), or ``None`` when it has no opinion.
    ``error`` is set when the analyzer could not run on this file; ``summary`` then says why.
    """

    analyzer: str
    summary: str
    score: float | None = None
    evidence: list[Evidence] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    heatmaps: list[Heatmap] = field(default_factory=list)
    error: str | None = None
    elapsed_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "summary": self.summary,
            "score": None if self.score is None else round(float(self.score), 4),
            "evidence": [e.to_dict() for e in self.evidence],
            "details": to_jsonable(self.details),
            "heatmaps": [h.to_dict() for h in self.heatmaps],
            "error": self.error,
            "elapsed_s": None if self.elapsed_s is None else round(self.elapsed_s, 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            analyzer=data["analyzer"],
            summary=data["summary"],
            score=data.get("score"),
            evidence=[Evidence.from_dict(e) for e in data.get("evidence", [])],
            details=data.get("details", {}),
            heatmaps=[Heatmap.from_dict(h) for h in data.get("heatmaps", [])],
            error=data.get("error"),
            elapsed_s=data.get("elapsed_s"),
        )


class VerdictLabel(str, Enum):
    AI_GENERATED = "ai-generated"
    MANIPULATED = "manipulated"
    CAMERA_ORIGINAL = "camera-original"  # nothing found against it, and positive camera evidence
    NO_SIGNS_FOUND = "no-signs-found"  # nothing found against it, and no camera evidence
    INCONCLUSIVE = "inconclusive"


@dataclass
class Verdict:
    """The fused conclusion over all findings."""

    label: VerdictLabel
    ai_probability: float | None = None
    manipulation_probability: float | None = None
    reasons: list[str] = field(default_factory=list)
    method: str = ""
    #: analyzers whose score reaches their calibrated alarm level (the sections to open)
    flagged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label.value,
            "ai_probability": _round_or_none(self.ai_probability),
            "manipulation_probability": _round_or_none(self.manipulation_probability),
            "reasons": list(self.reasons),
            "method": self.method,
            "flagged": list(self.flagged),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            label=VerdictLabel(data["label"]),
            ai_probability=data.get("ai_probability"),
            manipulation_probability=data.get("manipulation_probability"),
            reasons=list(data.get("reasons", [])),
            method=data.get("method", ""),
            flagged=list(data.get("flagged", [])),
        )


@dataclass
class FileInfo:
    """Facts about the input file itself, read without trusting its metadata."""

    path: str
    size_bytes: int | None = None
    sha256: str | None = None
    format: str | None = None  # Pillow's format name: JPEG, PNG, WEBP, TIFF, ...
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    frames: int | None = None
    #: the file is damaged and only part of its pixels decoded; the pixel analyses saw that part
    partial: bool = False
    #: the pixel analyses worked on a reduced copy of this width and height, because the full
    #: image would not fit the memory budget (None: they saw the full resolution)
    working_size: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileInfo:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Report:
    """Everything pixelsleuth knows about one file."""

    file: FileInfo
    findings: list[Finding] = field(default_factory=list)
    verdict: Verdict | None = None
    error: str | None = None  # set only when the file could not be analysed at all
    schema_version: str = SCHEMA_VERSION
    tool_version: str = ""

    def finding(self, analyzer: str) -> Finding | None:
        """The finding of the named analyzer, or None if it did not run."""
        return next((f for f in self.findings if f.analyzer == analyzer), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "file": self.file.to_dict(),
            "error": self.error,
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        verdict = data.get("verdict")
        return cls(
            file=FileInfo.from_dict(data["file"]),
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            verdict=None if verdict is None else Verdict.from_dict(verdict),
            error=data.get("error"),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
            tool_version=data.get("tool_version", ""),
        )

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))


def percent(p: float) -> str:
    """A probability for people: whole percent, but never a certain-looking 0 % or 100 %
    (the models are fitted on a few hundred images)."""
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{p:.0%}"


def _round_or_none(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


_MAX_STRING = 4096  # longer strings (prompts, workflows) are cut so one report stays readable


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Turn analyzer details into plain JSON: numpy scalars to numbers, bytes to a short hex
    preview, NaN/inf to None, tuples to lists. Hostile metadata can nest deeply or carry huge
    strings, so depth and length are bounded."""
    if _depth > 32:
        return "…(nested too deeply)"
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value if len(value) <= _MAX_STRING else value[:_MAX_STRING] + "…"
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), _depth)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), _depth)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        preview = raw[:32].hex()
        return f"<{len(raw)} bytes: {preview}{'…' if len(raw) > 32 else ''}>"
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, _depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), _depth + 1)
    return str(value)
