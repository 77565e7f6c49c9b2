"""Metadata analysis over a folder, beside `exiftool -j -n -r` on the same folder, same run.

    python bench/bench_metadata.py [FOLDER ...] [--repeat 3]

Prints files/second for: pixelsleuth's `metadata` analyzer alone, all three metadata-based
analyzers (metadata, generator-metadata, provenance), and ExifTool. Each timing is the best
of --repeat runs, after one warm-up run so the OS file cache is equally warm for both.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pixelsleuth.analyze import analyze_file
from pixelsleuth.analyzers import create_analyzers

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT.parent / "shared/corpus/real/camera", ROOT.parent / "shared/corpus/metadata"]


def files_in(folders: list[Path]) -> list[Path]:
    return sorted(p for f in folders for p in f.rglob("*") if p.is_file())


def time_pixelsleuth(paths: list[Path], names: list[str], repeat: int) -> float:
    analyzers = create_analyzers(names)
    best = float("inf")
    for _ in range(repeat + 1):  # the first run warms caches and imports
        start = time.perf_counter()
        for p in paths:
            analyze_file(p, analyzers)
        best = min(best, time.perf_counter() - start)
    return best


def time_exiftool(folders: list[Path], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat + 1):
        start = time.perf_counter()
        subprocess.run(
            ["exiftool", "-j", "-n", "-r", *map(str, folders)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = files_in(args.folders)
    if not paths:
        sys.exit("no files found")
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{len(paths)} files, {size_mb:.1f} MB, in {', '.join(map(str, args.folders))}")
    rows = [
        ("pixelsleuth metadata", time_pixelsleuth(paths, ["metadata"], args.repeat)),
        (
            "pixelsleuth metadata+generator+provenance",
            time_pixelsleuth(paths, ["metadata", "generator-metadata", "provenance"], args.repeat),
        ),
    ]
    if shutil.which("exiftool"):
        rows.append(("exiftool -j -n -r", time_exiftool(args.folders, args.repeat)))
    else:
        print("exiftool not found: install Debian's libimage-exiftool-perl to compare")
    for name, seconds in rows:
        print(f"{name:<45} {seconds:7.3f} s  {len(paths) / seconds:8.1f} files/s")


if __name__ == "__main__":
    main()
