"""Audit throughput and peak memory, beside a bare decode of the same files in the same run.

    python bench/bench_audit.py [FOLDER] [--workers 1 2] [--no-stability-too]
                                [--profiles full triage] [--json OUT]

For each profile asked for (default: full) and worker count, runs the real command
(`pixelsleuth audit FOLDER --out …`) in a subprocess and reports images/s and the peak
resident memory of the whole process tree (sampled every 50 ms). The decode baseline opens
and fully decodes every file to RGB in this process (best of 3). Then `--analyzers metadata`
beside `exiftool -j -n -r` on the folder, and on a folder of thousands (--links: that many
hard links to each file, in a temporary folder on the same file system; nothing is copied and
the inputs are not touched), where start-up no longer dominates.
"""

from __future__ import annotations

import argparse
import json
import os
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
    parser.add_argument("--links", type=int, default=50, help="copies per file (hard links)")
    parser.add_argument("--skip-audit", action="store_true", help="only the metadata comparison")
    parser.add_argument("--profiles", nargs="+", default=["full"], help="full, triage")
    parser.add_argument("--json", type=Path, help="write the audit numbers here")
    args = parser.parse_args()
    paths = sorted(p for p in args.folder.rglob("*") if p.is_file())
    megapixels = (
        sum((load_image(p).info.width or 0) * (load_image(p).info.height or 0) for p in paths) / 1e6
    )
    decode = decode_seconds(paths)
    n = len(paths)
    print(f"{n} files, {megapixels:.1f} MP in {args.folder}")
    print(f"bare decode (load + RGB), 1 process: {decode:.2f} s = {n / decode:.1f} images/s")
    settings = [(f"profile {p}", ["--profile", p]) for p in args.profiles]
    if args.no_stability_too:
        settings.append(("profile full, --no-stability", ["--no-stability"]))
    results: dict[str, object] = {"files": n, "megapixels": round(megapixels, 1)}
    results["bare_decode_s"] = round(decode, 3)
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, extra) in enumerate([] if args.skip_audit else settings):
            for w in args.workers:
                out = Path(tmp) / f"r-{w}-{k}.jsonl"  # one file per run
                seconds, peak = run_measured(audit_cmd(args.folder, out, w, extra))
                print(
                    f"audit, {label}, {w} worker(s): {seconds:.1f} s = {n / seconds:.2f} "
                    f"images/s = {seconds / decode:.1f}× the decode time; peak RSS {peak:.0f} MB",
                    flush=True,
                )
                results[f"audit, {label}, {w} worker(s)"] = {
                    "seconds": round(seconds, 1),
                    "times_bare_decode": round(seconds / decode, 1),
                    "peak_rss_mb": round(peak),
                }
                if args.json:
                    args.json.parent.mkdir(parents=True, exist_ok=True)
                    args.json.write_text(json.dumps(results, indent=1))
        compare_metadata(args.folder, n, args.workers, Path(tmp))
        many = Path(tmp) / "many"
        if args.links > 1 and hard_links(paths, many, args.links):
            compare_metadata(many, n * args.links, args.workers, Path(tmp))


def hard_links(paths: list[Path], folder: Path, copies: int) -> bool:
    """``copies`` hard links to every file under ``folder``; False where the file system
    refuses (another device): then the comparison is skipped rather than copying gigabytes."""
    try:
        for i in range(copies):
            sub = folder / f"copy{i:04d}"
            sub.mkdir(parents=True)
            for j, p in enumerate(paths):
                os.link(p, sub / f"{j:05d}{p.suffix}")
    except OSError as exc:
        print(f"no hard links in {folder.parent} ({exc}); the many-files comparison is skipped")
        return False
    return True


def compare_metadata(folder: Path, n: int, workers: list[int], tmp: Path) -> None:
    """`pixelsleuth audit --analyzers metadata` (start-up included) beside exiftool."""
    print(f"metadata only, {n} files in {folder}:")
    seconds_x = None
    if shutil.which("exiftool"):
        seconds_x, _ = run_measured(["exiftool", "-j", "-n", "-r", str(folder)])
        print(f"  exiftool -j -n -r: {seconds_x:.2f} s = {n / seconds_x:.1f} files/s")
    for w in workers:
        out = tmp / f"meta-{n}-{w}.jsonl"
        seconds, peak = run_measured(audit_cmd(folder, out, w, ["--analyzers", "metadata"]))
        ratio = f" = {seconds_x / seconds:.2f}× as fast as exiftool" if seconds_x else ""
        print(
            f"  pixelsleuth audit --analyzers metadata, {w} worker(s): {seconds:.2f} s = "
            f"{n / seconds:.1f} files/s{ratio}; peak RSS {peak:.0f} MB"
        )


if __name__ == "__main__":
    main()
