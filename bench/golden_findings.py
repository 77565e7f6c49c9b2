"""Golden comparison: do the pixel analyzers find the same things after a speed change?

    python bench/golden_findings.py record OUT.json [--corpus DIR] [--analyzers a,b]
    python bench/golden_findings.py compare BEFORE.json AFTER.json

``record`` runs each pixel analyzer on a fixed selection of the corpus (every third camera
photo, the first files of the copy-move forgeries and originals, of the ml72 and GAN pairs
and of each AI group; at most 4 MP each) and writes, per file and analyzer, the score, the
evidence codes and strengths, the details and the analyzer's seconds. ``compare`` prints
every file whose score or evidence changed, the largest change of any score, and how the
details moved; it exits 1 when any score moved by more than --tolerance or any evidence code
appeared or vanished.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIXEL_ANALYZERS = ["jpeg", "ela", "ghost", "noise", "copy-move", "spectrum"]
# (folder under the corpus, how many files from it in name order; a negative count -n: every
# n-th file), photos of at most MAX_MEGAPIXELS: sized to run in minutes on a shared two-core
# machine (bench/bench_analyzers.py times the large ones)
SELECTION = [
    ("real/camera", -3),
    ("forged/copy-move", 8),
    ("real/copy-move", 3),
    ("real/ml72", 3),
    ("ai/ml72", 3),
    ("real/gan-pairs", 2),
    ("ai/gan-pairs", 2),
    ("ai/aeroblade", 2),
    ("ai/comfyui", 3),
    ("ai/invokeai", 3),
    ("ai/sd15-grid", 3),
]
MAX_MEGAPIXELS = 4.0


def corpus_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    env = os.environ.get("PIXELSLEUTH_CORPUS")
    return Path(env) if env else ROOT.parent / "shared/corpus"


def selected_files(corpus: Path) -> list[Path]:
    files: list[Path] = []
    for folder, count in SELECTION:
        found = sorted(
            p
            for p in (corpus / folder).iterdir()
            if p.is_file() and "_mask" not in p.name and _megapixels(p) <= MAX_MEGAPIXELS
        )  # ground-truth masks are not photos
        files.extend(found[::-count] if count < 0 else found[:count])
    return files


def _megapixels(path: Path) -> float:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.width * im.height / 1e6
    except Exception:
        return 0.0


def record(out: Path, corpus: Path, names: list[str]) -> None:
    from pixelsleuth.analyzers import create_analyzers
    from pixelsleuth.imageio import load_image
    from pixelsleuth.report import to_jsonable

    analyzers = create_analyzers(names)
    rows: dict[str, Any] = {}
    start = time.perf_counter()
    files = selected_files(corpus)
    for i, path in enumerate(files):
        image = load_image(path)
        image.rgb(), image.gray()  # the decode is not any analyzer's time
        row = {}
        for analyzer in analyzers:
            t = time.perf_counter()
            try:
                finding = analyzer.analyze(image)
            except Exception as exc:  # recorded, so that a change in failures shows too
                row[analyzer.name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                continue
            row[analyzer.name] = {
                "score": finding.score,
                "evidence": {e.code: round(float(e.strength), 4) for e in finding.evidence},
                "details": to_jsonable(finding.details),
                "maps": {h.name: list(h.data.shape) for h in finding.heatmaps},
                "seconds": round(time.perf_counter() - t, 4),
            }
        rows[str(path.relative_to(corpus))] = row
        print(f"{i + 1}/{len(files)} {path.name}", file=sys.stderr, flush=True)
    totals = {n: round(sum(r[n].get("seconds", 0) for r in rows.values()), 2) for n in names}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "analyzers": names,
                "files": len(rows),
                "wall_seconds": round(time.perf_counter() - start, 1),
                "analyzer_seconds": totals,
                "findings": rows,
            },
            indent=1,
            sort_keys=True,
        )
    )
    print(f"{len(rows)} files; seconds per analyzer: {totals}")


def _numbers(x: Any, prefix: str = "") -> dict[str, float]:
    """Every number inside nested details, by its path."""
    out: dict[str, float] = {}
    if isinstance(x, dict):
        for k, v in x.items():
            out.update(_numbers(v, f"{prefix}.{k}"))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out.update(_numbers(v, f"{prefix}[{i}]"))
    elif isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        out[prefix] = float(x)
    return out


def compare(before_path: Path, after_path: Path, tolerance: float) -> int:
    before = json.loads(before_path.read_text())
    after = json.loads(after_path.read_text())
    changed = 0
    worst: dict[str, float] = {}
    detail_moves: dict[str, int] = {}
    for name, row in before["findings"].items():
        other = after["findings"].get(name)
        if other is None:
            print(f"missing after: {name}")
            changed += 1
            continue
        for analyzer, b in row.items():
            a = other.get(analyzer, {"error": "missing"})
            if "error" in b or "error" in a:
                if b.get("error") != a.get("error"):
                    print(f"{name} {analyzer}: error {b.get('error')!r} → {a.get('error')!r}")
                    changed += 1
                continue
            sb, sa = b["score"], a["score"]
            delta = 0.0 if sb == sa else (abs(sa - sb) if None not in (sa, sb) else math.inf)
            worst[analyzer] = max(worst.get(analyzer, 0.0), delta)
            if delta > tolerance or set(b["evidence"]) != set(a["evidence"]):
                print(
                    f"{name} {analyzer}: score {sb} → {sa}, "
                    f"evidence {sorted(b['evidence'])} → {sorted(a['evidence'])}"
                )
                changed += 1
            nb, na = _numbers(b["details"]), _numbers(a["details"])
            moved = sum(
                1 for k in nb.keys() | na.keys() if k not in nb or k not in na or nb[k] != na[k]
            )
            detail_moves[analyzer] = detail_moves.get(analyzer, 0) + moved
    print(f"files: {before['files']} before, {after['files']} after")
    print(f"largest score change per analyzer: {worst}")
    print(f"detail numbers that differ (any amount), per analyzer: {detail_moves}")
    print(f"analyzer seconds before: {before['analyzer_seconds']}")
    print(f"analyzer seconds after:  {after['analyzer_seconds']}")
    print(f"{changed} finding(s) changed beyond a score tolerance of {tolerance}")
    return 1 if changed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--corpus", type=Path)
    rec.add_argument("--analyzers", default=",".join(PIXEL_ANALYZERS))
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--tolerance", type=float, default=0.0)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out, corpus_dir(args.corpus), args.analyzers.split(","))
    else:
        raise SystemExit(compare(args.before, args.after, args.tolerance))


if __name__ == "__main__":
    main()
