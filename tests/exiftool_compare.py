"""Field-by-field comparison of pixelsleuth's metadata with ExifTool's (`exiftool -j -n`)."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

from pixelsleuth.analyze import analyze_file

FIELDS = (
    "Make",
    "Model",
    "DateTimeOriginal",
    "Software",
    "Orientation",
    "GPSLatitude",
    "GPSLongitude",
    "ImageWidth",
    "ImageHeight",
)


def exiftool_json(paths: list[Path]) -> dict[str, dict[str, Any]]:
    out = subprocess.run(
        ["exiftool", "-j", "-n", *map(str, paths)], capture_output=True, check=False, timeout=300
    )
    return {Path(d["SourceFile"]).name: d for d in json.loads(out.stdout or b"[]")}


def ours(path: Path) -> dict[str, Any]:
    report = analyze_file(path, ["metadata"])
    fields = {}
    finding = report.finding("metadata")
    if finding is not None and finding.details:
        fields = dict(finding.details.get("fields", {}))
    fields["ImageWidth"] = report.file.width
    fields["ImageHeight"] = report.file.height
    return fields


def same(field: str, theirs: Any, mine: Any) -> bool:
    if mine is None:
        return False
    if field in ("GPSLatitude", "GPSLongitude"):
        return math.isclose(float(theirs), float(mine), abs_tol=1e-6)
    if field == "DateTimeOriginal":
        return str(theirs)[:19] == str(mine)[:19]
    if isinstance(theirs, int | float) and not isinstance(theirs, bool):
        try:
            return float(theirs) == float(mine)
        except (TypeError, ValueError):
            return False
    return str(theirs).strip() == str(mine).strip()


def compare(paths: list[Path]) -> tuple[int, int, list[str]]:
    """(agreeing fields, fields ExifTool reports, disagreement lines)."""
    reference = exiftool_json(paths)
    agree = total = 0
    problems: list[str] = []
    for path in paths:
        theirs = reference.get(path.name, {})
        mine = ours(path)
        for field in FIELDS:
            if field not in theirs or theirs[field] in ("", None):
                continue
            total += 1
            if same(field, theirs[field], mine.get(field)):
                agree += 1
            else:
                problems.append(
                    f"{path.name}: {field}: exiftool={theirs[field]!r} ours={mine.get(field)!r}"
                )
    return agree, total, problems
