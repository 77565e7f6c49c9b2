"""Tag coverage of `pixelsleuth metadata` against `exiftool -j -G1 -n`: for every EXIF, GPS,
XMP and IPTC tag ExifTool reports on the given files, is it in our dump under the same group
and name, and with the same value? Writes a JSON summary (and the misses) to --out.

    python scripts/metadata_coverage.py ../shared/corpus/real/camera \
        ../shared/corpus/metadata/exiftool-samples --out docs/evaluations/.../coverage.json
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from pixelsleuth.metadump import dump_metadata

GROUPS = ("IFD0", "ExifIFD", "GPS", "InteropIFD", "IFD1", "IPTC")


def counted(key: str) -> bool:
    """EXIF/GPS/XMP/IPTC tags; ExifTool's own composite, file and maker groups are not."""
    group = key.partition(":")[0]
    return group in GROUPS or group.startswith("XMP-")


def same(a: Any, b: Any) -> bool:
    """Equal as ExifTool's -n JSON writes them: numbers within 1e-6 relative, text trimmed,
    lists element-wise, a one-element list equal to its element."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, list) and len(a) == 1:
        return same(a[0], b)
    if isinstance(b, list) and len(b) == 1:
        return same(a, b[0])
    if isinstance(a, int | float) or isinstance(b, int | float):  # JSON: "1.00" is 1.0
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return str(a).strip() == str(b).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    paths = sorted(p for f in args.folders for p in sorted(f.iterdir()) if p.is_file())
    proc = subprocess.run(
        ["exiftool", "-j", "-G1", "-n", "-a", *map(str, paths)],
        capture_output=True,
        check=False,
        timeout=600,
    )
    theirs = {d["SourceFile"]: d for d in json.loads(proc.stdout or b"[]")}
    total = by_name = by_value = 0
    misses: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for path in paths:
        ref = {k: v for k, v in theirs.get(str(path), {}).items() if counted(k)}
        ours = dump_metadata(path.read_bytes()).to_dict()
        for key, value in ref.items():
            total += 1
            if key not in ours:
                misses[key] += 1
                continue
            by_name += 1
            if same(ours[key], value):
                by_value += 1
            else:
                wrong[key] += 1
                examples.setdefault(key, f"{path.name}: ours {ours[key]!r} vs {value!r}"[:200])
    summary = {
        "command": "scripts/metadata_coverage.py " + " ".join(map(str, args.folders)),
        "reference": "exiftool -j -G1 -n -a, groups IFD0 ExifIFD GPS InteropIFD IFD1 XMP-* IPTC",
        "files": len(paths),
        "tags": total,
        "present_by_name": by_name,
        "present_by_name_fraction": round(by_name / total, 4) if total else None,
        "same_value": by_value,
        "same_value_fraction": round(by_value / total, 4) if total else None,
        "most_missed": misses.most_common(40),
        "most_different": [(k, n, examples[k]) for k, n in wrong.most_common(40)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: summary[k] for k in list(summary)[:8]}, indent=2))


if __name__ == "__main__":
    main()
