"""Drawing heatmaps: the colormap, colour PNGs and overlays on the image.

The maps themselves are computed by the analyzers (``forensics/maps.py`` holds their array
maths); this module only turns a [0, 1] map into pixels, for the text renderer
(``render.py``), the HTML report (``htmlreport.py``) and the app (``app/card.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# A perceptually ordered colormap (black → purple → orange → yellow), 5 anchors interpolated.
_ANCHORS = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32
)
_LUT = np.stack(
    [np.interp(np.linspace(0, 4, 256), np.arange(5), _ANCHORS[:, c]) for c in range(3)], axis=1
).astype(np.uint8)


def colorize(x: np.ndarray) -> np.ndarray:
    """[0, 1] map -> uint8 RGB using the colormap."""
    idx = np.clip(np.nan_to_num(x) * 255.0, 0, 255).astype(np.uint8)
    return _LUT[idx]


def save_heatmap(x: np.ndarray, path: str | Path, width: int | None = None) -> Path:
    """Write a colour PNG of a [0, 1] map (nearest-neighbour upscaled to ``width`` if given)."""
    im = Image.fromarray(colorize(x))
    if width and im.width < width:
        height = max(1, round(im.height * width / im.width))
        im = im.resize((width, height), Image.Resampling.NEAREST)
    path = Path(path)
    im.save(path, "PNG")
    return path


def overlay(rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The colourised ``heat`` map ([0, 1], any size) laid over ``rgb`` (uint8 H×W×3) with
    opacity ``alpha`` in [0, 1]; returns uint8 H×W×3 at the image's size."""
    h, w = rgb.shape[:2]
    colour = np.asarray(Image.fromarray(colorize(heat)).resize((w, h), Image.Resampling.NEAREST))
    a = float(np.clip(alpha, 0.0, 1.0))
    return (rgb.astype(np.float32) * (1 - a) + colour.astype(np.float32) * a).astype(np.uint8)
