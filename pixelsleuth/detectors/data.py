"""Training data for the detector: samples from a corpus manifest or an imagefolder dataset,
and augmentation that takes format and size cues away.

Both classes go through the same random JPEG re-encoding, rescaling, blur, crops and flips, so
that "PNG vs JPEG" or "large vs small" cannot separate them and only generator traces can.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter

from pixelsleuth.datasets.samples import (
    CORPUS_SPLITS,
    MIN_SIDE,
    Sample,
    corpus_split,
    from_imagefolder,
    from_manifest,
    load_samples,
)
from pixelsleuth.imageio import jpeg_roundtrip

# One sample type, one reader and one hash split for every command (pixelsleuth.datasets).
__all__ = [
    "CORPUS_SPLITS",
    "MIN_SIDE",
    "Augment",
    "PatchDataset",
    "Sample",
    "corpus_split",
    "from_imagefolder",
    "from_manifest",
    "load_patches",
    "load_samples",
    "webp_roundtrip",
]


def load_patches(sample: Sample, size: int, count: int, rng: random.Random) -> list[np.ndarray]:
    """``count`` native-resolution patches of ``size``² (uint8 RGB) from one image, chosen at
    random; decoded once so that epochs need not decode large photos again."""
    with Image.open(sample.path) as im:
        im = im.convert("RGB")
        arr = np.asarray(im)
    h, w = arr.shape[:2]
    if h < size or w < size:
        arr = np.pad(arr, ((0, max(0, size - h)), (0, max(0, size - w)), (0, 0)), mode="reflect")
        h, w = arr.shape[:2]
    out = []
    for _ in range(count):
        y, x = rng.randrange(0, h - size + 1), rng.randrange(0, w - size + 1)
        out.append(np.ascontiguousarray(arr[y : y + size, x : x + size]))
    return out


@dataclass
class Augment:
    """Random processing applied identically (in distribution) to both classes."""

    crop: int = 256
    p_jpeg: float = 0.8
    quality: tuple[int, int] = (60, 100)
    # WebP instead of JPEG for this share of the images not JPEG-compressed: the pool's fakes
    # are WebP and its photos JPEG, so both classes must end in both formats
    p_webp: float = 0.0
    p_rescale: float = 0.3
    scale: tuple[float, float] = (0.5, 1.0)
    p_blur: float = 0.1

    def __call__(self, patch: np.ndarray, rng: random.Random) -> np.ndarray:
        im = Image.fromarray(patch)
        if rng.random() < self.p_rescale:
            s = rng.uniform(*self.scale)
            size = (max(self.crop, round(im.width * s)), max(self.crop, round(im.height * s)))
            im = im.resize(
                size,
                rng.choice(
                    [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS]
                ),
            )
        if rng.random() < self.p_blur:
            im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0)))
        if rng.random() < self.p_jpeg:
            im = jpeg_roundtrip(im, rng.randint(*self.quality))
        elif rng.random() < self.p_webp:
            im = webp_roundtrip(im, rng.randint(*self.quality))
        arr = np.asarray(im)
        h, w = arr.shape[:2]
        y = rng.randrange(0, (h - self.crop) // 2 + 1) * 2
        x = rng.randrange(0, (w - self.crop) // 2 + 1) * 2
        arr = arr[y : y + self.crop, x : x + self.crop]
        if rng.random() < 0.5:
            arr = arr[:, ::-1]
        return np.ascontiguousarray(arr)


def webp_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    """``image`` after a lossy WebP save at ``quality`` (0–100) and decode, as RGB."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="WEBP", quality=quality, method=4)
    buf.seek(0)
    with Image.open(buf) as im:
        return im.convert("RGB")


class PatchDataset(torch.utils.data.Dataset):
    """Augmented crops from in-memory patches; labels are floats for BCE."""

    def __init__(
        self, patches: list[tuple[np.ndarray, int]], augment: Augment | None, seed: int = 0
    ) -> None:
        self.patches = patches
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.patches)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        patch, label = self.patches[i]
        if self.augment is not None:
            patch = self.augment(patch, random.Random(hash((self.seed, self.epoch, i))))
        x = torch.from_numpy(np.array(patch)).permute(2, 0, 1).float().div_(255.0)
        return x, torch.tensor(float(label))
