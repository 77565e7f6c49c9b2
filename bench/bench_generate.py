"""Generation speed on this machine: tiny SD/SDXL/LCM pipelines (seconds per image) and taef2
aligned fakes (seconds per megapixel, fp32 and bf16, whole image and tiled).

    python bench/bench_generate.py [--photo JPEG] [--repeat 2]

The tiny pipelines are the ones the tests build (tests/tiny_diffusers.py): they measure the
pipeline overhead of `pixelsleuth generate`, not what real weights cost (see the README).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pixelsleuth.datasets.aligned import psnr, roundtrip  # noqa: E402
from pixelsleuth.datasets.autoencoders import load_autoencoder  # noqa: E402
from pixelsleuth.datasets.generate import GenerationConfig, generate  # noqa: E402
from tests.tiny_diffusers import build_sd, build_sdxl  # noqa: E402

TAEF2 = ROOT.parent / "shared/models/taef2"
PHOTO = (
    ROOT.parent
    / "shared/corpus/real/camera/drewnoakes+metadata-extractor-images__jpg__Canon Powershot S90.jpg"
)


def tiny_pipelines(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = {
            "sd": build_sd(tmp / "sd"),
            "sdxl": build_sdxl(tmp / "sdxl"),
            "lcm": build_sd(tmp / "lcm", lcm=True),
        }
        for name, model in models.items():
            steps, guidance = (4, 1.0) if name == "lcm" else (25, 7.5)
            best = float("inf")
            for r in range(repeat):
                start = time.perf_counter()
                generate(
                    GenerationConfig(
                        out=tmp / f"out-{name}-{r}",
                        model=str(model),
                        count=8,
                        steps=steps,
                        guidance=guidance,
                        width=64,
                        height=64,
                        batch_size=4,
                        progress=False,
                    )
                )
                best = min(best, time.perf_counter() - start)
            print(f"tiny {name:<5} 64×64, {steps} steps, batch 4: {best / 8:.3f} s/image")


def aligned(photo: Path, repeat: int) -> None:
    if not (TAEF2 / "taef2_encoder.pth").is_file():
        print("taef2 weights absent: skipped")
        return
    model = load_autoencoder(TAEF2).to(memory_format=torch.channels_last)
    full = np.asarray(Image.open(photo).convert("RGB"))
    for label, size, tile, dtype in [
        ("1024×768 whole, fp32", (1024, 768), 1024, torch.float32),
        ("1024×768 whole, bf16", (1024, 768), 1024, torch.bfloat16),
        ("2048×1536 tiles 512, fp32", (2048, 1536), 512, torch.float32),
    ]:
        rgb = np.asarray(Image.fromarray(full).resize(size, Image.Resampling.LANCZOS))
        best, out = float("inf"), None
        for _ in range(repeat):
            start = time.perf_counter()
            out = roundtrip(model, rgb, tile=tile, dtype=dtype)
            best = min(best, time.perf_counter() - start)
        mp = size[0] * size[1] / 1e6
        print(f"taef2 {label:<26} {best / mp:6.2f} s/MP  (PSNR {psnr(rgb, out):.2f} dB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    tiny_pipelines(args.repeat)
    aligned(args.photo, args.repeat)


if __name__ == "__main__":
    main()
