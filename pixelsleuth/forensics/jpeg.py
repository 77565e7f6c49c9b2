"""JPEG tables and history: quality, encoder signature, and double compression.

Reads the file's own markers (``formats/jpeg.py``): quantization tables, chroma subsampling,
standard or optimised Huffman tables, restart markers, baseline or progressive. Quality is an
*exact* match against the IJG/libjpeg scaled tables when there is one, otherwise an estimate
with its spread. A table of camera signatures (``data/jpeg_signatures.json``, built by
``scripts/build_jpeg_signatures.py``) turns "EXIF says camera X, but the tables are a software
encoder's" into evidence. Double compression is detected from the DCT coefficient histograms,
compared with a calibrated (grid-shifted) version of the same image.

The table and quality maths (``formats/jpeg_quality.py``) and the DCT work
(``formats/jpeg_dct.py``) are shared with the ``ela`` and ``ghost`` analyzers.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import numpy as np

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.fields import canonical_fields
from pixelsleuth.forensics.formats.jpeg import JpegInfo
from pixelsleuth.forensics.formats.jpeg_dct import (
    block_dct,
    double_compression_score,
    read_luma_coefficients,
)
from pixelsleuth.forensics.formats.jpeg_quality import (
    QualityEstimate,
    imagemagick_quality,
    jpeg_tables,
    table_signature,
)
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding

# Double-compression decision threshold on the calibrated histogram distance (mean of the
# three largest per-frequency L1 distances in excess of sampling noise). Fitted by
# scripts/calibrate_double_jpeg.py on real photos outside real/camera (corpus groups
# real/ml72 and real/copy-move, at two sizes): the 95th percentile of single-compressed
# images. real/camera is kept for the evaluation in tests/test_jpeg.py.
DOUBLE_JPEG_THRESHOLD = 0.059


# -- encoder signatures -----------------------------------------------------------------------


@functools.cache
def camera_signatures() -> dict[tuple[str, str], set[tuple[int, ...]]]:
    """(make, model) -> the luma+chroma tables (zigzag order, flattened) that model writes."""
    path = resources.files("pixelsleuth.forensics").joinpath("data/jpeg_signatures.json")
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    out: dict[tuple[str, str], set[tuple[int, ...]]] = {}
    for entry in data.get("cameras", []):
        key = (_norm(entry["make"]), _norm(entry["model"]))
        out.setdefault(key, set()).add(tuple(entry["tables"]))
    return out


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


# -- the analyzer -----------------------------------------------------------------------------


@register
class JpegAnalyzer(Analyzer):
    name = "jpeg"
    title = "JPEG tables and compression history"
    explains = (
        "How the JPEG was encoded (quality, tables, subsampling) and whether it was compressed "
        "more than once; re-saving is what editing does, but also what sharing does, so it "
        "shows history, not intent."
    )
    needs_pixels = False  # the tables need no decoding; double compression decodes itself
    order = 40

    def __init__(self, double_compression: bool = True) -> None:
        """``double_compression``: also look for an earlier compression in the DCT
        coefficients (this decodes the pixels); without it, the tables alone (triage)."""
        self.double_compression = double_compression

    def analyze(self, image: LoadedImage) -> Finding:
        meta = parsed_metadata(image)
        tables = jpeg_tables(image)
        if meta.containers.kind != "jpeg" or tables is None:
            return Finding(
                analyzer=self.name,
                summary=f"Not a JPEG file ({image.info.format or 'unknown format'}): there are "
                "no JPEG tables to inspect.",
            )
        info, quality = tables
        luma = info.luma_table()
        details: dict[str, Any] = {
            "process": info.process,
            "progressive": info.process is not None and "progressive" in info.process,
            "subsampling": info.subsampling,
            "huffman": info.huffman,
            "restart_interval": info.restart_interval,
            "scans": info.scans,
            "quantization_tables": {k: v.tolist() for k, v in info.qtables.items()},
            "table_precision_bits": info.qtable_precision,
        }
        evidence: list[Evidence] = []
        if luma is None or quality is None:
            return Finding(
                analyzer=self.name,
                summary="The JPEG has no readable quantization table; it is malformed.",
                evidence=[Evidence("no_qtable", "No quantization table.", Direction.NEUTRAL)],
                details=details,
            )
        details["quality"] = {
            "estimate": quality.quality,
            "exact_ijg": quality.exact,
            "low": quality.low,
            "high": quality.high,
            "imagemagick": imagemagick_quality(info.qtables),
        }
        self._signature_evidence(info, quality, canonical_fields(meta), evidence, details)
        if self.double_compression:
            self._double_compression(image, info, evidence, details)
        else:
            details["double_compression"] = {"score": None, "reason": "not checked (triage)"}
        return Finding(
            analyzer=self.name,
            summary=self._summary(quality, info, evidence),
            score=_score(evidence),
            evidence=evidence,
            details=details,
        )

    @staticmethod
    def _signature_evidence(
        info: JpegInfo,
        quality: QualityEstimate,
        fields: dict[str, Any],
        evidence: list[Evidence],
        details: dict[str, Any],
    ) -> None:
        make, model = fields.get("Make"), fields.get("Model")
        camera = " ".join(p for p in (make, model) if p) or None
        signature = table_signature(info)
        known = camera_signatures().get((_norm(make), _norm(model))) if camera else None
        details["camera_signature"] = (
            "unknown model"
            if camera and known is None
            else None
            if not camera
            else "match"
            if signature in known
            else "mismatch"
        )
        if not camera:
            if quality.exact:
                evidence.append(
                    Evidence(
                        "software_tables",
                        f"The tables are {quality.describe()}, as written by common software "
                        "(Pillow, GIMP, ImageMagick, many web services).",
                        Direction.NEUTRAL,
                        0.0,
                    )
                )
            return
        table_evidence = _camera_table_evidence(camera, known, signature, quality)
        if table_evidence is not None:
            evidence.append(table_evidence)
        encoder = _encoder_evidence(details["progressive"], info.huffman)
        if encoder is not None:
            evidence.append(encoder)

    @staticmethod
    def _double_compression(
        image: LoadedImage, info: JpegInfo, evidence: list[Evidence], details: dict[str, Any]
    ) -> None:
        if reduced := image.require_full_resolution("the double-compression test"):
            details["double_compression"] = {"score": None, "reason": reduced}
            return
        try:
            luma = image.gray()
        except Exception as exc:  # damaged pixels: no calibration possible
            details["double_compression"] = {"score": None, "reason": str(exc)}
            return
        # jpeglib's libjpeg can crash the whole process on a damaged JPEG (a double free after
        # "extraneous bytes" warnings): it only reads files libjpeg-turbo decoded cleanly
        coefficients = read_luma_coefficients(image.data) if image.libjpeg_clean else None
        source = "jpeglib"
        qtable = info.luma_table()
        if coefficients is None:  # estimate the coefficients from the decoded pixels
            coefficients = np.round(block_dct(luma) / np.maximum(qtable, 1)).astype(np.int64)
            source = "estimated from pixels"
        else:
            coefficients, qtable = coefficients
        score, per_freq = double_compression_score(coefficients, qtable, luma)
        details["double_compression"] = {
            "score": None if score is None else round(score, 4),
            "threshold": DOUBLE_JPEG_THRESHOLD,
            "per_frequency": [round(d, 4) for d in per_freq],
            "coefficients": source,
        }
        if score is None:
            return
        if score >= DOUBLE_JPEG_THRESHOLD:
            strength = float(min(0.7, 0.4 + (score - DOUBLE_JPEG_THRESHOLD) * 2))
            evidence.append(
                Evidence(
                    "double_compression",
                    "The DCT coefficient histograms carry the traces of an earlier JPEG "
                    "compression: the image was saved as JPEG at least twice (editing does this, "
                    "but so does re-sharing).",
                    Direction.EDITED,
                    strength,
                )
            )
        else:
            evidence.append(
                Evidence(
                    "single_compression",
                    "No trace of an earlier JPEG compression was found (a first save at a higher "
                    "quality than this one would leave none).",
                    Direction.NEUTRAL,
                    0.0,
                )
            )

    @staticmethod
    def _summary(quality: QualityEstimate, info: JpegInfo, evidence: list[Evidence]) -> str:
        strongest = max(
            (e for e in evidence if e.direction is Direction.EDITED),
            key=lambda e: e.strength,
            default=None,
        )
        facts = f"JPEG quality {quality.describe()}, {info.subsampling or 'unknown'} subsampling"
        if strongest is not None:
            return f"{strongest.message} ({facts}.)"
        camera = next((e for e in evidence if e.direction is Direction.CAMERA), None)
        if camera is not None:
            return f"{camera.message} ({facts}.)"
        return f"{facts[0].upper()}{facts[1:]}; nothing in the tables points to re-saving."


def _score(evidence: list[Evidence]) -> float:
    edited = [e.strength for e in evidence if e.direction is Direction.EDITED]
    camera = [e.strength for e in evidence if e.direction is Direction.CAMERA]
    if edited:
        return round(0.5 + 0.5 * max(edited), 4)
    if camera:
        return round(0.5 - 0.5 * max(camera), 4)
    return 0.5


def _camera_table_evidence(
    camera: str,
    known: set[tuple[int, ...]] | None,
    signature: tuple[int, ...] | None,
    quality: QualityEstimate,
) -> Evidence | None:
    """What the quantization tables say of a file whose EXIF names ``camera`` (``known``:
    the table signatures that model writes, None when the model is not in the database)."""
    if known is not None and signature in known:
        return Evidence(
            "camera_tables",
            f"The tables are the ones the {camera} writes itself.",
            Direction.CAMERA,
            0.3,
        )
    if quality.exact:
        return Evidence(
            "software_tables_with_camera_exif",
            f"The EXIF names a {camera}, but the tables are {quality.describe()} — a "
            "software encoder's"
            + (", not this camera's own" if known is not None else "")
            + ": the file was probably saved again by a program.",
            Direction.EDITED,
            0.6 if known is not None else 0.3,
        )
    if known is not None:
        return Evidence(
            "foreign_tables",
            f"The tables differ from those the {camera} writes: the file was probably "
            "saved again by other software.",
            Direction.EDITED,
            0.45,
        )
    return None


def _encoder_evidence(progressive: bool, huffman: str) -> Evidence | None:
    """Encoder choices that cameras rarely make, in a file whose EXIF names a camera."""
    if progressive:
        return Evidence(
            "progressive_with_camera_exif",
            "The JPEG is progressive, which cameras rarely write but web tools often do.",
            Direction.EDITED,
            0.25,
        )
    if huffman == "optimised":
        return Evidence(
            "optimised_huffman",
            "The Huffman tables are optimised for this image, which most cameras do not "
            "do but many editors and optimisers do.",
            Direction.EDITED,
            0.15,
        )
    return None
