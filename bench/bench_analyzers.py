"""Time of each analyzer on a 12 MP camera JPEG, and of all together, beside a bare decode.

    python bench/bench_analyzers.py [JPEG] [--repeat 3]

Default input: the corpus's largest camera JPEG (22 MP), cropped losslessly with jpegtran to
4000×3000 so that the camera's own encoding is kept (without jpegtran, the full file is used
and its size is printed). Each analyzer is timed on an already decoded image (the decode is
timed on its own); "all analyzers" is the end-to-end time of `analyze_file` with the default
set, decode included (and the stability check's two copies). Best of --repeat runs. Then,
cold (a fresh process each, imports and model loading included): `pixelsleuth analyze` of
the file with the full and the triage profile, beside `python -c "import torch"`.
--json OUT writes every number.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from pixelsleuth.analyze import analyze_file
from pixelsleuth.analyzers import create_analyzers
from pixelsleuth.imageio import decode_jpeg_rgb, load_image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = (
    ROOT.parent
    / "shared/corpus/real/camera/drewnoakes+metadata-extractor-images__jpg__Issue 266.jpg"
)


def twelve_megapixels(source: Path, folder: Path) -> Path:
    if shutil.which("jpegtran") is None:
        print(
            "jpegtran not found (Debian: libjpeg-turbo-progs): timing the whole file, not a "
            "12 MP crop",
            file=sys.stderr,
        )
        return source
    out = folder / "camera-12mp.jpg"
    subprocess.run(
        ["jpegtran", "-copy", "all", "-crop", "4000x3000+0+0", "-outfile", str(out), str(source)],
        check=True,
    )
    return out


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jpeg", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = twelve_megapixels(args.jpeg, Path(tmp))
        with Image.open(path) as im:
            print(f"{path.name}: {im.width}×{im.height} = {im.width * im.height / 1e6:.1f} MP")
            results["input"] = f"{path.name}: {im.width}×{im.height}"

        def decode() -> None:
            with Image.open(path) as im:
                im.convert("RGB")

        bare = best(decode, args.repeat)
        results["bare_decode_pillow_s"] = round(bare, 3)
        print(f"{'bare decode (Pillow, to RGB)':<36} {bare:7.3f} s")
        ours = best(lambda: load_image(path).rgb(), args.repeat)
        fast = "libjpeg-turbo" if decode_jpeg_rgb(path.read_bytes()) is not None else "Pillow"
        results[f"load_image().rgb() ({fast})"] = round(ours, 3)
        print(f"{f'load_image().rgb() ({fast})':<36} {ours:7.3f} s")
        for analyzer in create_analyzers():

            def run(analyzer=analyzer) -> None:
                image = load_image(path)
                image.rgb(), image.gray()  # decoded before the clock below
                start = time.perf_counter()
                analyzer.analyze(image)
                run.elapsed = time.perf_counter() - start

            times = []
            for _ in range(args.repeat):
                run()
                times.append(run.elapsed)
            results[analyzer.name] = round(min(times), 3)
            print(f"{analyzer.name:<36} {min(times):7.3f} s")
        analyzers = create_analyzers()
        total = best(lambda: analyze_file(path, analyzers), args.repeat)
        print(f"{'all analyzers (with decode)':<36} {total:7.3f} s")
        results["all_analyzers_with_decode_s"] = round(total, 3)
        py = sys.executable
        cold = {
            "python -c 'import torch'": [py, "-c", "import torch"],
            "pixelsleuth analyze (full)": [py, "-m", "pixelsleuth", "analyze", str(path)],
            "pixelsleuth analyze --profile triage": [
                py, "-m", "pixelsleuth", "analyze", "--profile", "triage", str(path)
            ],
        }  # fmt: skip
        for label, cmd in cold.items():
            seconds = best(lambda cmd=cmd: subprocess.run(cmd, capture_output=True), args.repeat)
            results[f"cold: {label}"] = round(seconds, 3)
            print(f"{f'cold: {label}':<36} {seconds:7.3f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
