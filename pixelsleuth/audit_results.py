"""What an audit writes for each file, and the one reader of it.

An audit writes two JSON-lines files. The *results* hold one :class:`AuditRow` per file, the
documented schema (:data:`ROW_FIELDS`), derived from the file's Report by
:meth:`AuditRow.from_report`. The *extras* sidecar beside them (:func:`extras_path`), written
when an HTML report or the app wants pictures, holds one :class:`RowExtras` per file: the whole
Report and small pictures of the image and its heatmaps.

Everything that reads an audit back — the CSV, the HTML report, the app — goes through
:func:`read_audit`, so a resumed audit (the last row of a path wins), a half-written line and a
missing or older sidecar are handled in one place.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixelsleuth.report import (
    SCHEMA_VERSION,
    FileInfo,
    Finding,
    Report,
    Verdict,
    VerdictLabel,
)

THUMB_SIDE = 96  # the table's thumbnail, in pixels
MAP_SIDE = 320  # the pictures in a row's details


@dataclass(frozen=True)
class AnalyzerScore:
    """One analyzer's line in a row: its suspicion (0–1, None: no opinion) and sentence."""

    score: float | None
    summary: str
    error: str | None = None


@dataclass(frozen=True)
class AuditRow:
    """One file's line in the results: its verdict, reasons and every analyzer's score."""

    path: str
    sha256: str | None
    verdict: str | None  # a VerdictLabel value; None when the file could not be analysed
    ai_probability: float | None
    manipulation_probability: float | None
    reasons: tuple[str, ...]
    findings: dict[str, AnalyzerScore]
    error: str | None
    schema_version: str = SCHEMA_VERSION

    @classmethod
    def from_report(cls, report: Report) -> AuditRow:
        verdict = report.verdict
        return cls(
            path=report.file.path,
            sha256=report.file.sha256,
            verdict=None if verdict is None else verdict.label.value,
            ai_probability=None if verdict is None else verdict.ai_probability,
            manipulation_probability=None if verdict is None else verdict.manipulation_probability,
            reasons=() if verdict is None else tuple(verdict.reasons),
            findings={
                f.analyzer: AnalyzerScore(f.score, f.summary, f.error) for f in report.findings
            },
            error=report.error,
        )

    @classmethod
    def failed(cls, path: str, message: str) -> AuditRow:
        """The row of a file that could not be analysed (``message`` says why, in words)."""
        return cls(path, None, None, None, None, (), {}, message)

    @property
    def label(self) -> str:
        """What the table shows: the verdict label, "error" or "inconclusive"."""
        return "error" if self.error else (self.verdict or VerdictLabel.INCONCLUSIVE.value)

    @property
    def top_reason(self) -> str:
        return self.reasons[0] if self.reasons else (self.error or "")

    def score(self, analyzer: str) -> float | None:
        found = self.findings.get(analyzer)
        return None if found is None else found.score

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "verdict": self.verdict,
            "ai_probability": self.ai_probability,
            "manipulation_probability": self.manipulation_probability,
            "reasons": list(self.reasons),
            "findings": {
                name: {"score": f.score, "summary": f.summary, "error": f.error}
                for name, f in self.findings.items()
            },
            "error": self.error,
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRow:
        return cls(
            path=data["path"],
            sha256=data.get("sha256"),
            verdict=data.get("verdict"),
            ai_probability=data.get("ai_probability"),
            manipulation_probability=data.get("manipulation_probability"),
            reasons=tuple(data.get("reasons") or ()),
            findings={
                name: AnalyzerScore(f.get("score"), f.get("summary") or "", f.get("error"))
                for name, f in (data.get("findings") or {}).items()
            },
            error=data.get("error"),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )

    def as_report(self) -> Report:
        """The Report this row summarises, as far as a row knows it (no evidence, details or
        maps): what a renderer of Reports shows when the sidecar has nothing better."""
        verdict = None
        if self.verdict is not None:
            verdict = Verdict(
                VerdictLabel(self.verdict),
                self.ai_probability,
                self.manipulation_probability,
                list(self.reasons),
            )
        return Report(
            file=FileInfo(path=self.path, sha256=self.sha256),
            findings=[
                Finding(name, f.summary, f.score, error=f.error)
                for name, f in self.findings.items()
            ],
            verdict=verdict,
            error=self.error,
            schema_version=self.schema_version,
        )


ROW_FIELDS = tuple(f.name for f in fields(AuditRow))
"""The keys of every line of an audit's results, in order."""


@dataclass(frozen=True)
class MapPicture:
    """A heatmap drawn small for a row's details (a JPEG data URI)."""

    name: str  # "analyzer: map"
    description: str
    uri: str


@dataclass
class RowExtras:
    """One file's line in the sidecar: its whole Report and small pictures."""

    path: str
    report: Report | None = None  # None in sidecars written before the Report was kept
    thumbnail: str | None = None  # data URIs
    image: str | None = None
    maps: list[MapPicture] = field(default_factory=list)

    @classmethod
    def from_report(cls, report: Report, rgb: np.ndarray | None) -> RowExtras:
        from pixelsleuth.drawing import colorize

        picture = None if rgb is None else Image.fromarray(rgb)
        return cls(
            path=report.file.path,
            report=report,
            thumbnail=None if picture is None else data_uri(picture, THUMB_SIDE),
            image=None if picture is None else data_uri(picture, MAP_SIDE),
            maps=[
                MapPicture(
                    f"{f.analyzer}: {heat.name}",
                    heat.description,
                    data_uri(Image.fromarray(colorize(heat.data)), MAP_SIDE),
                )
                for f in report.findings
                for heat in f.heatmaps
                if heat.data is not None
            ],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "report": None if self.report is None else self.report.to_dict(),
            "thumbnail": self.thumbnail,
            "image": self.image,
            "maps": [dataclasses.asdict(m) for m in self.maps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowExtras:
        report = data.get("report")
        return cls(
            path=data["path"],
            report=None if report is None else Report.from_dict(report),
            thumbnail=data.get("thumbnail"),
            image=data.get("image"),
            maps=[
                MapPicture(m["name"], m.get("description", ""), m["uri"])
                for m in data.get("maps", [])
            ],
        )


def data_uri(im: Image.Image, side: int) -> str:
    """``im`` shrunk to fit ``side``² as a JPEG data URI (the HTML report stays one file)."""
    im = im.copy()
    im.thumbnail((side, side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def extras_path(results: Path) -> Path:
    """The sidecar beside ``results``: results.jsonl → results.extras.jsonl."""
    return results.with_name(results.stem + ".extras" + (results.suffix or ".jsonl"))


@dataclass(frozen=True)
class AuditEntry:
    row: AuditRow
    extras: RowExtras | None

    @property
    def report(self) -> Report:
        """The fullest Report known for this row (the sidecar's, else the row's own)."""
        if self.extras is not None and self.extras.report is not None:
            return self.extras.report
        return self.row.as_report()


def _last_line_of_each_path(path: Path | None) -> dict[str, int]:
    """Byte offset of the last complete line of each path in a JSONL file: a resumed audit
    may have written a path twice, and its last word counts. Only offsets stay in memory."""
    index: dict[str, int] = {}
    if path is None or not path.is_file():
        return index
    with path.open("rb") as fh:
        offset = 0
        for line in fh:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                index[json.loads(line)["path"]] = offset
            offset += len(line)
    return index


def read_audit(
    results: str | Path, extras: str | Path | None = None, *, with_extras: bool = True
) -> Iterator[AuditEntry]:
    """Every file of an audit once, in the order written, with its extras when the sidecar
    (``extras``, default :func:`extras_path`) has them and ``with_extras`` is set. Streams:
    thousands of rows with pictures never sit in memory together. Lines that are not JSON
    are skipped."""
    results = Path(results)
    side = Path(extras) if extras is not None else extras_path(results)
    latest = _last_line_of_each_path(results)
    side_index = _last_line_of_each_path(side) if with_extras else {}
    with results.open("rb") as src, contextlib.ExitStack() as stack:
        side_fh = stack.enter_context(side.open("rb")) if side_index else None
        offset = 0
        for line in src:
            here, offset = offset, offset + len(line)
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if not isinstance(data, dict) or latest.get(data.get("path")) != here:
                continue
            row = AuditRow.from_dict(data)
            found = None
            if side_fh is not None and row.path in side_index:
                side_fh.seek(side_index[row.path])
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found = RowExtras.from_dict(json.loads(side_fh.readline()))
            yield AuditEntry(row, found)


CSV_FIELDS = (
    "path",
    "sha256",
    "verdict",
    "ai_probability",
    "manipulation_probability",
    "top_reason",
    "error",
)


def write_csv(results: str | Path, out: str | Path) -> int:
    """A spreadsheet view of an audit: one line per file, the top reason and each analyzer's
    score as columns. Returns the number of rows."""
    analyzers: list[str] = []
    for entry in read_audit(results, with_extras=False):
        analyzers.extend(a for a in entry.row.findings if a not in analyzers)
    rows = 0
    with open(out, "w", newline="", encoding="utf-8") as dst:
        writer = csv.writer(dst)
        writer.writerow([*CSV_FIELDS, *(f"score_{a}" for a in analyzers)])
        for entry in read_audit(results, with_extras=False):
            row = entry.row
            writer.writerow(
                [
                    row.path,
                    row.sha256,
                    row.verdict,
                    row.ai_probability,
                    row.manipulation_probability,
                    row.reasons[0] if row.reasons else "",
                    row.error,
                    *(row.score(a) for a in analyzers),
                ]
            )
            rows += 1
    return rows
