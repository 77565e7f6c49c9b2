"""Truncated camera JPEGs: ten corpus cameras (one per name prefix) cut at 50 % and 80 %.

    python bench/fuzz_truncated.py [--out FILE.json] [--no-stability]

For each cut file (written to a temporary folder, removed afterwards) it records whether the
report marks it damaged (``file.partial``), how many rows decoded, whether every pixel analyzer
ran on that part without an error, and the verdict. The cameras are chosen as in
tests/test_bad_input.py: the first model of each make, in name order, whose pixel data starts
before 45 % of the file (a cut at 50 % must land in the pixel data, not in the metadata).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from pixelsleuth.analyze import analyze_file
from pixelsleuth.forensics.formats.containers import read_jpeg_structure

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("PIXELSLEUTH_CORPUS", ROOT.parent / "shared" / "corpus"))
PIXEL_ANALYZERS = ("jpeg", "ela", "ghost", "noise", "copy-move", "spectrum", "detector")


def ten_cameras(folder: Path) -> list[Path]:
    """The first camera JPEG of each of ten makes whose first scan starts before 45 %."""
    by_make: dict[str, Path] = {}
    for path in sorted(folder.glob("*.jpg")):
        make = path.name.split("__")[-1].split()[0]
        data = path.read_bytes()
        scans = read_jpeg_structure(data)[0].of(0xDA)
        if make not in by_make and scans and scans[0].offset < 0.45 * len(data):
            by_make[make] = path
    return [by_make[m] for m in sorted(by_make)[:10]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the JSON here (else stdout)")
    parser.add_argument("--no-stability", dest="stability", action="store_false")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for camera in ten_cameras(CORPUS / "real" / "camera"):
            data = camera.read_bytes()
            for fraction in (0.5, 0.8):
                path = Path(tmp) / camera.name
                path.write_bytes(data[: int(len(data) * fraction)])
                report = analyze_file(path, stability=args.stability)
                integrity = report.finding("integrity")
                pixel_errors = {
                    name: f.error
                    for name in PIXEL_ANALYZERS
                    if (f := report.finding(name)) is None or f.error
                }
                rows.append(
                    {
                        "camera": camera.name.split("__")[-1],
                        "cut_at": fraction,
                        "partial": report.file.partial,
                        "error": report.error,
                        "decoded_rows": integrity.details.get("decoded_rows")
                        if integrity
                        else None,
                        "height": report.file.height,
                        "pixel_analyzers_ran": not pixel_errors,
                        "pixel_analyzer_errors": pixel_errors,
                        "verdict": report.verdict.label.value if report.verdict else None,
                        "integrity": integrity.summary if integrity else None,
                    }
                )
    summary = {
        "command": " ".join(sys.argv),
        "stability": args.stability,
        "files": len(rows),
        "reported_damaged": sum(r["partial"] for r in rows),
        "all_pixel_analyzers_ran": sum(r["pixel_analyzers_ran"] for r in rows),
        "verdicts": {v: sum(r["verdict"] == v for r in rows) for v in {r["verdict"] for r in rows}},
        "rows": rows,
    }
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    return 0 if summary["reported_damaged"] == summary["files"] else 1


if __name__ == "__main__":
    sys.exit(main())
