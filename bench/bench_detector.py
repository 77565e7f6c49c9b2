"""Detector throughput on 12 MP inputs, and the shipped weights' training time.

    python bench/bench_detector.py [JPEG] [--weights DIR] [--images 24] [--precision-check N]

Reports, for copies of one 12 MP camera JPEG: the network alone on its crops (pixels already
decoded), decode + score in one process (torch with 2 threads), and decode + score in two
worker processes (one thread each, the way an audit runs), as images per second, in the
arithmetic ``score_image`` picks on this CPU (PIXELSLEUTH_DETECTOR_PRECISION=float32 forces
float32). The training time comes from the weights' training.json. ``--precision-check N``
also scores N corpus test-split images (JPEG q90, as ``pixelsleuth eval`` prepares them) in
float32 and bfloat16 and reports how far apart the logits, probabilities and decisions are.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch
from bench_analyzers import DEFAULT, twelve_megapixels  # bench/ is on sys.path when run

from pixelsleuth.detectors.analyzer import weights_path
from pixelsleuth.detectors.data import load_samples
from pixelsleuth.detectors.evaluate import prepare
from pixelsleuth.detectors.model import ResidualDetector
from pixelsleuth.imageio import load_image

_MODEL: ResidualDetector | None = None


def _init(weights: str, threads: int) -> None:
    global _MODEL
    torch.set_num_threads(threads)
    _MODEL = ResidualDetector.from_pretrained(weights)


def _score(path: str) -> float:
    return _MODEL.score_image(load_image(path).rgb())[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jpeg", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--weights", type=Path, default=weights_path())
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--precision-check", type=int, default=0, metavar="N")
    parser.add_argument("--manifest", type=Path, default=DEFAULT.parents[2] / "manifest.csv")
    args = parser.parse_args()
    if args.weights is None:
        raise SystemExit("no detector weights: pass --weights DIR")
    if args.precision_check:
        compare_precisions(args.weights, args.manifest, args.precision_check)
    with tempfile.TemporaryDirectory() as tmp:
        source = twelve_megapixels(args.jpeg, Path(tmp))
        info = load_image(source).info
        print(f"input: {info.width}×{info.height} = {info.width * info.height / 1e6:.1f} MP")
        paths = [str(source)] * args.images
        _init(str(args.weights), 2)
        print(f"arithmetic: {str(_MODEL.inference_dtype()).removeprefix('torch.')}")
        rgb = load_image(source).rgb()
        _MODEL.score_image(rgb)  # warm-up
        start = time.perf_counter()
        for _ in paths:
            _MODEL.score_image(rgb)
        net = (time.perf_counter() - start) / len(paths)
        print(
            f"network alone ({_MODEL.config.crops} crops of {_MODEL.config.crop}²), "
            f"2 threads: {net * 1000:.1f} ms = {1 / net:.1f} images/s"
        )
        start = time.perf_counter()
        for p in paths:
            _score(p)
        one = (time.perf_counter() - start) / len(paths)
        print(
            f"decode + score, 1 process (2 threads): {one * 1000:.0f} ms = {1 / one:.1f} images/s"
        )
        ctx = get_context("spawn")
        with ProcessPoolExecutor(
            2, mp_context=ctx, initializer=_init, initargs=(str(args.weights), 1)
        ) as pool:
            list(pool.map(_score, paths[:2]))  # warm-up: model loaded in both workers
            start = time.perf_counter()
            list(pool.map(_score, paths))
            two = (time.perf_counter() - start) / len(paths)
        print(f"decode + score, 2 processes × 1 thread: {1 / two:.1f} images/s")
    training = json.loads((Path(args.weights) / "training.json").read_text())
    print(
        f"training time of {args.weights}: {training['seconds'] / 60:.1f} min "
        f"({len(training['history'])} epochs, {training['train_patches']} patches/epoch)"
    )


def compare_precisions(weights: Path, manifest: Path, count: int) -> None:
    """float32 against bfloat16 logits on the first ``count`` test-split images."""
    torch.set_num_threads(2)
    model = ResidualDetector.from_pretrained(weights)
    samples = load_samples(manifest, split="test")[:count]
    exact, approx = [], []
    for sample in samples:
        rgb = prepare(sample.path, None, 90)
        model.precision = "float32"
        exact.append(model.score_image(rgb))
        model.precision = "bfloat16"
        approx.append(model.score_image(rgb))
    dlogit = max(abs(a[1] - b[1]) for a, b in zip(exact, approx, strict=True))
    dprob = max(abs(a[0] - b[0]) for a, b in zip(exact, approx, strict=True))
    threshold = model.config.threshold
    flips = sum(
        (a[0] >= threshold) != (b[0] >= threshold) for a, b in zip(exact, approx, strict=True)
    )
    print(
        f"float32 vs bfloat16 on {len(samples)} test-split images (JPEG q90): max |Δlogit| "
        f"{dlogit:.4f}, max |Δprobability| {dprob:.4f}, decisions changed {flips}"
    )


if __name__ == "__main__":
    main()
