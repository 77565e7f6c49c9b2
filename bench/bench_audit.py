"""Audit throughput and peak memory, beside a bare decode of the same files in the same run.

    python bench/bench_audit.py [FOLDER] [--workers 1 2] [--no-stability-too]

For each worker count, runs the real command (`pixelsleuth audit FOLDER --out …`) in a
subprocess and reports images/s and the peak resident memory of the whole process tree
(sampled every 50 ms). The decode baseline opens and fully decodes every file to RGB in this
process (best of 3). Then `--analyzers metadata` beside `exiftool -j -n -r` on the folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from pixelsleuth.imageio import load_image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared/corpus/real/camera"


def decode_seconds(paths: list[Path], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for p in paths:
            load_image(p).rgb()
        best = min(best, time.perf_counter() - start)
    return best


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS of the process tree in MB) of one command."""
    start = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    return time.perf_counter() - start, peak / 2**20


def audit_cmd(folder: Path, out: Path, workers: int, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "pixelsleuth", "audit", str(folder), "--out", str(out),
        "--workers", str(workers), *extra,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-stability-too", action="store_true")
    args = parser.parse_args()
    paths = sorted(p for p in args.folder.rglob("*") if p.is_file())
    megapixels = (
        sum((load_image(p).info.width or 0) * (load_image(p).info.height or 0) for p in paths) / 1e6
    )
    decode = decode_seconds(paths)
    n = len(paths)
    print(f"{n} files, {megapixels:.1f} MP in {args.folder}")
    print(f"bare decode (load + RGB), 1 process: {decode:.2f} s = {n / decode:.1f} images/s")
    settings = [("all analyzers", [])]
    if args.no_stability_too:
        settings.append(("all analyzers, --no-stability", ["--no-stability"]))
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in settings:
            for w in args.workers:
                out = Path(tmp) / f"r-{w}-{len(extra)}.jsonl"
                seconds, peak = run_measured(audit_cmd(args.folder, out, w, extra))
                print(
                    f"audit, {label}, {w} worker(s): {seconds:.1f} s = {n / seconds:.2f} "
                    f"images/s = {seconds / decode:.1f}× the decode time; peak RSS {peak:.0f} MB"
                )
        out = Path(tmp) / "meta.jsonl"
        seconds, peak = run_measured(audit_cmd(args.folder, out, 1, ["--analyzers", "metadata"]))
        print(
            f"audit --analyzers metadata, 1 worker: {seconds:.2f} s = {n / seconds:.1f} files/s; "
            f"peak RSS {peak:.0f} MB (includes Python start-up and imports)"
        )
        if shutil.which("exiftool"):
            seconds_x, _ = run_measured(["exiftool", "-j", "-n", "-r", str(args.folder)])
            print(
                f"exiftool -j -n -r: {seconds_x:.2f} s = {n / seconds_x:.1f} files/s "
                f"(pixelsleuth is {seconds_x / seconds:.2f}× as fast)"
            )


if __name__ == "__main__":
    main()
