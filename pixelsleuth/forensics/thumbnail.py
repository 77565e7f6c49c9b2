"""EXIF thumbnail: does the small preview a camera stores still show the image?

Cameras write a preview into the EXIF when they take the picture; editors often change the
pixels and leave the old preview behind. Comparing the two needs the pixels (a fast
DCT-domain downscale for JPEG), which is why this is an analyzer of its own and the
`metadata` analyzer never decodes.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from PIL import Image

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding

THUMB_MATCH_MIN_CORR = 0.6  # genuine thumbnails correlate > 0.9 with the downscaled image


@register
class ThumbnailAnalyzer(Analyzer):
    name = "thumbnail"
    title = "EXIF thumbnail"
    explains = (
        "Whether the small preview stored in the EXIF still shows the image; a preview that "
        "differs means the picture was changed after the preview was made, but many tools "
        "drop or rewrite previews, so a missing or matching one proves little."
    )
    order = 15

    def analyze(self, image: LoadedImage) -> Finding:
        meta = parsed_metadata(image)
        thumb = meta.exif.thumbnail if meta.exif is not None else None
        if thumb is None:
            return Finding(
                self.name,
                "No EXIF thumbnail to compare (most edited and generated images have none, "
                "and many cameras' files keep one).",
                None,
                details={"present": False},
            )
        result = compare_thumbnail(image, thumb)
        evidence = []
        if result.get("matches") is False:
            evidence.append(
                Evidence(
                    "thumbnail_mismatch",
                    "The small preview stored in the EXIF does not match the image "
                    f"({result['reason']}): the picture was changed after the preview was made.",
                    Direction.EDITED,
                    0.75,
                )
            )
            summary, score = evidence[0].message, 0.85
        elif result.get("matches") is True:
            evidence.append(
                Evidence(
                    "thumbnail_match",
                    "The EXIF preview matches the image.",
                    Direction.CAMERA,
                    0.15,
                )
            )
            summary, score = f"The EXIF preview matches the image ({result['reason']}).", 0.2
        else:
            summary, score = f"The EXIF preview could not be compared: {result['reason']}.", None
        return Finding(self.name, summary, score, evidence, result)


def compare_thumbnail(image: LoadedImage, thumb_bytes: bytes) -> dict[str, Any]:
    """Compare the EXIF thumbnail with the main image by aspect ratio and content.

    Cameras often letterbox thumbnails (black bars to 160×120), so when the shapes differ,
    uniform dark borders are cropped before comparing again. Content is compared as the
    correlation of 32×32 grey versions.
    """
    out: dict[str, Any] = {"present": True, "bytes": len(thumb_bytes)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            thumb = Image.open(io.BytesIO(thumb_bytes))
            if thumb.width * thumb.height > 4_000_000:
                out["matches"] = None
                out["reason"] = "thumbnail too large to compare"
                return out
            thumb = thumb.convert("L")
    except Exception:
        out["matches"] = None
        out["reason"] = "the thumbnail could not be decoded"
        return out
    out["width"], out["height"] = thumb.size
    t = np.asarray(thumb, dtype=np.float32)
    try:
        main = image.open()
        if main.format == "JPEG":
            main.draft("L", (t.shape[1] * 2, t.shape[0] * 2))  # DCT-domain downscale: fast
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main = main.convert("L")
    except Exception:
        out["matches"] = None
        out["reason"] = "the main image could not be decoded"
        return out
    m = np.asarray(main, dtype=np.float32)
    m_aspect = m.shape[1] / max(m.shape[0], 1)
    t_aspect = t.shape[1] / max(t.shape[0], 1)
    if abs(np.log(t_aspect / m_aspect)) >= 0.08:
        # Cameras letterbox previews of other shapes into 160×120: compare without the bars.
        t = _crop_dark_borders(t)
        t_aspect = t.shape[1] / max(t.shape[0], 1)
    out["aspect_thumbnail"] = round(t_aspect, 3)
    out["aspect_image"] = round(m_aspect, 3)
    corr = _correlation(t, m)
    corr_rotated = max(_correlation(t, np.rot90(m, k)) for k in (1, 3))
    out["correlation"] = round(corr, 3)
    aspect_ok = abs(np.log(t_aspect / m_aspect)) < 0.08
    rotated_aspect_ok = abs(np.log(t_aspect * m_aspect)) < 0.08
    if aspect_ok and corr >= THUMB_MATCH_MIN_CORR:
        out["matches"] = True
        out["reason"] = "same shape and content"
    elif rotated_aspect_ok and corr_rotated >= THUMB_MATCH_MIN_CORR:
        out["matches"] = True
        out["reason"] = "same content, rotated by a quarter turn"
    elif not aspect_ok and not rotated_aspect_ok:
        out["matches"] = False
        out["reason"] = f"its shape is {t_aspect:.2f}:1, the image's {m_aspect:.2f}:1"
    else:
        out["matches"] = False
        out["reason"] = f"the content differs (correlation {max(corr, corr_rotated):.2f})"
    return out


def _crop_dark_borders(a: np.ndarray, level: float = 24.0, flat: float = 6.0) -> np.ndarray:
    """Remove letterbox bars: rows/columns that are both dark and flat (dark picture content
    is rarely flat, and cropping it would change the shape we compare)."""
    content_rows = (a.mean(axis=1) > level) | (a.std(axis=1) > flat)
    content_cols = (a.mean(axis=0) > level) | (a.std(axis=0) > flat)
    rows = np.where(content_rows)[0]
    cols = np.where(content_cols)[0]
    if len(rows) < 4 or len(cols) < 4:
        return a
    return a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _correlation(a: np.ndarray, b: np.ndarray, size: int = 32) -> float:
    def small(x: np.ndarray) -> np.ndarray:
        im = Image.fromarray(np.ascontiguousarray(x).astype(np.float32), mode="F")
        return np.asarray(im.resize((size, size), Image.Resampling.BOX), dtype=np.float64).ravel()

    x, y = small(a), small(b)
    x, y = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom > 1e-9 else 0.0
