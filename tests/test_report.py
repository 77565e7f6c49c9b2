import json

import numpy as np

from pixelsleuth.report import (
    SCHEMA_VERSION,
    Direction,
    Evidence,
    FileInfo,
    Finding,
    Heatmap,
    Report,
    Verdict,
    VerdictLabel,
    to_jsonable,
)


def test_report_round_trips_through_json():
    report = Report(
        file=FileInfo(path="a.jpg", size_bytes=10, sha256="ab", format="JPEG", width=4, height=3),
        findings=[
            Finding(
                analyzer="metadata",
                summary="One sentence.",
                score=0.25,
                evidence=[Evidence("camera_named", "A camera.", Direction.CAMERA, 0.2)],
                details={"camera": {"make": "Canon"}, "n": np.int64(3), "raw": b"\x00\x01"},
                heatmaps=[Heatmap("ela", "Error levels.", np.zeros((3, 4), np.float32))],
            )
        ],
        verdict=Verdict(VerdictLabel.INCONCLUSIVE, ai_probability=0.5, reasons=["why"]),
    )
    text = report.to_json()
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["findings"][0]["details"]["n"] == 3
    assert data["findings"][0]["details"]["raw"].startswith("<2 bytes: 0001")
    assert data["findings"][0]["heatmaps"] == [
        {"name": "ela", "description": "Error levels.", "shape": [3, 4]}
    ]
    back = Report.from_json(text)
    assert back.file == report.file
    assert back.findings[0].evidence[0].direction is Direction.CAMERA
    assert back.verdict is not None and back.verdict.label is VerdictLabel.INCONCLUSIVE
    assert back.finding("metadata").score == 0.25
    assert back.finding("nope") is None


def test_to_jsonable_bounds_hostile_values():
    nested: dict = {}
    cursor = nested
    for _ in range(100):
        cursor["x"] = {}
        cursor = cursor["x"]
    out = to_jsonable({"deep": nested, "nan": float("nan"), "long": "a" * 100_000})
    assert out["nan"] is None
    assert len(out["long"]) < 5000
    json.dumps(out, allow_nan=False)  # must not raise
