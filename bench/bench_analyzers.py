"""Time of each analyzer on a 12 MP camera JPEG, and of all together, beside a bare decode.

    python bench/bench_analyzers.py [JPEG] [--repeat 3]

Default input: the corpus's largest camera JPEG (22 MP), cropped losslessly with jpegtran to
4000×3000 so that the camera's own encoding is kept (without jpegtran, the full file is used
and its size is printed). Each analyzer is timed on an already decoded image (the decode is
timed on its own); "all analyzers" is the end-to-end time of `analyze_file` with the default
set, decode included (and the stability check's two copies). Best of --repeat runs.
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = twelve_megapixels(args.jpeg, Path(tmp))
        with Image.open(path) as im:
            print(f"{path.name}: {im.width}×{im.height} = {im.width * im.height / 1e6:.1f} MP")

        def decode() -> None:
            with Image.open(path) as im:
                im.convert("RGB")

        print(f"{'bare decode (Pillow, to RGB)':<36} {best(decode, args.repeat):7.3f} s")
        ours = best(lambda: load_image(path).rgb(), args.repeat)
        fast = "libjpeg-turbo" if decode_jpeg_rgb(path.read_bytes()) is not None else "Pillow"
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
            print(f"{analyzer.name:<36} {min(times):7.3f} s")
        analyzers = create_analyzers()
        total = best(lambda: analyze_file(path, analyzers), args.repeat)
        print(f"{'all analyzers (with decode)':<36} {total:7.3f} s")


if __name__ == "__main__":
    main()
