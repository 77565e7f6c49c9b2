"""Golden comparison of whole Reports: does a refactor leave every answer as it was?

    python bench/golden_reports.py record OUT.jsonl [--corpus DIR] [--stability]
        [--analyzers a,b] [--files LIST]
    python bench/golden_reports.py compare BEFORE.jsonl AFTER.jsonl

``record`` analyses every file of the corpus manifest (plus its masks and broken files: every
row of manifest.csv) with the full default profile, the way ``pixelsleuth analyze`` does, and
writes one line per file: the Report as JSON minus what is expected to vary between runs
(each analyzer's seconds and the tool version). ``compare`` lists every file whose Report
differs, with the first differing fields, and exits 1 when any does. Nothing is tolerated:
the same code path must give the same bytes. ``--analyzers`` restricts the Reports to some
analyzers (and the verdict on them): a quick check of a change that touches only those.
``--files LIST`` records only the corpus paths listed (one per line) instead of every row; a
file already in OUT is kept and not analysed again, so an interrupted record resumes.

To record "before" from an older commit, check it out as a worktree and put it first on the
path: ``PYTHONPATH=/tmp/base python bench/golden_reports.py record before.jsonl``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VARYING = ("elapsed_s",)  # per-finding keys that measure the run, not the image


def corpus_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    env = os.environ.get("PIXELSLEUTH_CORPUS")
    return Path(env) if env else ROOT.parent / "shared/corpus"


def normalised(report: dict[str, Any], corpus: Path) -> dict[str, Any]:
    """The Report without run-dependent fields, its path relative to the corpus."""
    report = dict(report)
    report.pop("tool_version", None)
    report["file"] = dict(
        report["file"], path=str(Path(report["file"]["path"]).relative_to(corpus))
    )
    report["findings"] = [
        {k: v for k, v in f.items() if k not in VARYING} for f in report.get("findings", [])
    ]
    return report


def record(
    out: Path,
    corpus: Path,
    stability: bool,
    names: list[str] | None = None,
    files: Path | None = None,
) -> None:
    import pixelsleuth
    from pixelsleuth.analyze import analyze_file
    from pixelsleuth.analyzers import create_analyzers

    print(f"pixelsleuth from {Path(pixelsleuth.__file__).parent}", file=sys.stderr)
    with (corpus / "manifest.csv").open(newline="") as fh:
        paths = sorted(row["path"] for row in csv.DictReader(fh))
    if files is not None:
        wanted = set(files.read_text().splitlines())
        paths = [p for p in paths if p in wanted]
    done = set(_load(out)) if out.is_file() else set()
    analyzers = create_analyzers(names)
    start = time.perf_counter()
    with out.open("a", encoding="utf-8") as dst:
        for i, rel in enumerate(paths):
            if rel in done:
                continue
            report = analyze_file(corpus / rel, analyzers, stability=stability)
            line = normalised(report.to_dict(), corpus)
            dst.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            dst.flush()
            if (i + 1) % 25 == 0:
                print(f"{i + 1}/{len(paths)} {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"{len(paths)} reports in {time.perf_counter() - start:.0f} s → {out}")


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    if type(a) is not type(b):
        return [f"{where}: {a!r} → {b!r}"]
    if isinstance(a, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{where}.{key}: {'added' if key not in a else 'removed'}")
            else:
                out.extend(_differences(a[key], b[key], f"{where}.{key}"))
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items → {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {str(a)[:80]!r} → {str(b)[:80]!r}"]


def _portable(report: dict[str, Any]) -> dict[str, Any]:
    """The Report without where pixelsleuth is installed: the detector names its weights folder
    by absolute path, which differs between two checkouts of the same commit."""
    for finding in report.get("findings", []):
        weights = finding.get("details", {}).get("weights")
        if isinstance(weights, str):
            finding["details"]["weights"] = re.sub(r"^.*/pixelsleuth/", "<package>/", weights)
    return report


def _load(path: Path) -> dict[str, dict[str, Any]]:
    reports = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        report = _portable(json.loads(line))
        reports[report["file"]["path"]] = report
    return reports


def compare(before_path: Path, after_path: Path, files: Path | None = None) -> int:
    before, after = _load(before_path), _load(after_path)
    if files is not None:  # only the listed files, which both records must hold
        wanted = set(files.read_text().splitlines())
        before = {k: v for k, v in before.items() if k in wanted}
        after = {k: v for k, v in after.items() if k in wanted}
    changed = 0
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            print(f"{name}: only in {'after' if name not in before else 'before'}")
            changed += 1
            continue
        found = _differences(before[name], after[name])
        if found:
            changed += 1
            print(f"{name}: {len(found)} difference(s)")
            for line in found[:5]:
                print(f"    {line}")
    print(f"{len(set(before) | set(after))} files, {changed} with a different Report")
    return 1 if changed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--corpus", type=Path)
    rec.add_argument("--stability", action="store_true", help="check verdicts on copies too")
    rec.add_argument("--analyzers", help="comma-separated analyzers (default: the full profile)")
    rec.add_argument("--files", type=Path, help="only these corpus paths, one per line")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    cmp_.add_argument("--files", type=Path, help="compare only these corpus paths")
    args = parser.parse_args()
    if args.command == "record":
        names = args.analyzers.split(",") if args.analyzers else None
        record(args.out, corpus_dir(args.corpus), args.stability, names, args.files)
        return 0
    return compare(args.before, args.after, args.files)


if __name__ == "__main__":
    sys.exit(main())
