"""Peak memory and time of `pixelsleuth analyze` on large images, beside a bare decode.

    python bench/bench_memory.py [--sizes 22 100] [--bomb] [--per-analyzer] [--json OUT]

Inputs, made in a temporary folder (the corpus is only read): 22 = the corpus's 22 MP camera
JPEG itself; 100 = that photo enlarged to 12288×8192 (bicubic) and saved as JPEG quality 90;
--bomb: the 144 MP PNG bomb, a grey 12000×12000 PNG of about 140 KB. Each run is a fresh
process (`python -m pixelsleuth analyze --json FILE`, full profile, stability included
unless --no-stability); its peak resident memory is the kernel's (wait4's ru_maxrss) and its
time is wall-clock, start-up included. The baseline is a process that only loads and decodes
the file to RGB. --per-analyzer adds one process per analyzer (``--analyzers NAME``: one
analyzer gives the verdict model too little to check on copies) at each size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CAMERA = (
    ROOT.parent
    / "shared/corpus/real/camera/drewnoakes+metadata-extractor-images__jpg__Issue 266.jpg"
)
PIXEL_ANALYZERS = ["jpeg", "ela", "ghost", "noise", "copy-move", "spectrum", "detector"]


def measured(cmd: list[str], timeout: float = 900) -> dict[str, float | int]:
    """Wall seconds, peak RSS (MB) and exit code of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "peak_mb": round(usage.ru_maxrss / 1024),  # Linux: kilobytes
        "exit_code": os.waitstatus_to_exitcode(status),
    }


def make_inputs(folder: Path, sizes: list[int], bomb: bool) -> dict[str, Path]:
    inputs: dict[str, Path] = {}
    for mp in sizes:
        if mp == 22:
            inputs["22 MP camera JPEG"] = CAMERA
        elif mp == 100:
            out = folder / "enlarged-100mp.jpg"
            # in another process: this one must stay small, since a child's peak resident
            # memory counts the parent's pages it was forked with
            code = (
                "import sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = None; "
                "Image.open(sys.argv[1]).convert('RGB').resize((12288, 8192), "
                "Image.Resampling.BICUBIC).save(sys.argv[2], 'JPEG', quality=90)"
            )
            subprocess.run([sys.executable, "-c", code, str(CAMERA), str(out)], check=True)
            inputs["100 MP JPEG"] = out
        else:
            raise SystemExit(f"no input of {mp} MP; choose 22 or 100")
    if bomb:
        out = folder / "bomb-144mp.png"
        code = (
            "import sys; from PIL import Image; "
            "Image.new('L', (12000, 12000), 128).save(sys.argv[1], 'PNG', optimize=True)"
        )
        subprocess.run([sys.executable, "-c", code, str(out)], check=True)
        inputs["144 MP PNG bomb"] = out
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[22, 100])
    parser.add_argument("--bomb", action="store_true")
    parser.add_argument("--per-analyzer", action="store_true")
    parser.add_argument("--no-stability", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    py = sys.executable
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in make_inputs(Path(tmp), args.sizes, args.bomb).items():
            Image.MAX_IMAGE_PIXELS = None  # our own inputs: only the header is read here
            with Image.open(path) as im:
                size = f"{im.width}×{im.height}, {path.stat().st_size / 2**20:.1f} MiB"
            decode = measured(
                [py, "-c", f"from pixelsleuth.imageio import load_image; "
                 f"load_image({str(path)!r}).rgb()"]
            )  # fmt: skip
            extra = ["--no-stability"] if args.no_stability else []
            full = measured([py, "-m", "pixelsleuth", "analyze", "--json", *extra, str(path)])
            row = {"size": size, "decode": decode, "analyze_full": full}
            print(f"{label} ({size}): decode {decode}; analyze {full}", flush=True)
            if args.per_analyzer:
                row["per_analyzer"] = {}
                for name in PIXEL_ANALYZERS:
                    cmd = [py, "-m", "pixelsleuth", "analyze", "--json", "--analyzers", name]
                    one = measured([*cmd, str(path)])
                    row["per_analyzer"][name] = one
                    print(f"  {name}: {one}", flush=True)
            results[label] = row
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
