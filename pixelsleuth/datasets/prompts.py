"""Prompts for text-to-image datasets: from a file, or from a built-in sampler.

The sampler crosses subjects × settings × styles (about 14,000 combinations), so a dataset is
varied without a prompt file; the same seed gives the same prompts.
"""

from __future__ import annotations

import random
from pathlib import Path

SUBJECTS = (
    "an old fisherman",
    "a red bicycle",
    "a golden retriever",
    "a bowl of ramen",
    "a lighthouse",
    "a street market",
    "a child reading a book",
    "a vintage car",
    "a mountain cabin",
    "a group of friends laughing",
    "a cup of coffee",
    "a city skyline",
    "a horse in a field",
    "a bride and groom",
    "a plate of pasta",
    "a tabby cat",
    "a wooden boat",
    "a football match",
    "a bunch of tulips",
    "a train station",
    "an elderly woman knitting",
    "a bakery window",
    "a snowy forest",
    "a beach with palm trees",
    "a modern kitchen",
    "a protest march",
    "a desert road",
    "a jazz musician",
    "a construction site",
    "a classroom",
    "a farmer with a tractor",
    "a waterfall",
)
SETTINGS = (
    "at sunrise",
    "at night under street lights",
    "on a rainy afternoon",
    "in fog",
    "in harsh midday sun",
    "at golden hour",
    "indoors under fluorescent light",
    "in winter",
    "in autumn",
    "during a storm",
    "in soft window light",
    "from above",
    "close up",
    "from far away",
    "in a crowded place",
    "in an empty place",
)
STYLES = (
    "photograph",
    "DSLR photo, 50mm lens",
    "smartphone photo",
    "news photo",
    "documentary photography",
    "35mm film photo",
    "professional studio photo",
    "candid snapshot",
    "wide-angle photo",
    "telephoto shot",
    "black and white photo",
    "high dynamic range photo",
    "product photo",
    "street photography",
    "aerial photo",
    "portrait photo",
    "macro photo",
    "long exposure photo",
    "flash photo",
    "polaroid photo",
    "digital painting",
    "oil painting",
    "watercolor illustration",
    "3D render",
    "anime illustration",
    "concept art",
    "pencil sketch",
)
NEGATIVE = "blurry, low quality, watermark, text, signature"


def sample_prompts(count: int, seed: int = 0) -> list[str]:
    """``count`` prompts, varied and reproducible."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(STYLES)} of {rng.choice(SUBJECTS)} {rng.choice(SETTINGS)}"
        for _ in range(count)
    ]


def read_prompts(path: str | Path) -> list[str]:
    """One prompt per non-empty line; lines starting with # are comments."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    prompts = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not prompts:
        raise ValueError(f"{path} has no prompts")
    return prompts
