"""File integrity: is the file whole, does it decode, and does anything follow its end?

Damage is not manipulation, but a reader must know when the pixels could not all be decoded,
and bytes appended after an image's end are worth a look.
"""

from __future__ import annotations

from typing import Any

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.imageio import DamagedImageError, ImageInputError, LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding


@register
class IntegrityAnalyzer(Analyzer):
    name = "integrity"
    title = "File integrity"
    explains = (
        "Whether the file is complete and decodes; damage is not proof of manipulation, but "
        "the other results are only as complete as the pixels that could be read."
    )
    needs_pixels = False
    order = 90

    # Over 80 lines: one branch per kind of damage (header, partial decode, decoder error,
    # truncation, trailing data), each a sentence for the reader, sharing one decode.
    def analyze(self, image: LoadedImage) -> Finding:
        if isinstance(image.header_error, DamagedImageError):
            return Finding(
                analyzer=self.name,
                summary=f"The file is {image.header_error}.",
                evidence=[Evidence("header_damaged", f"The file is {image.header_error}.")],
                details={"decodes": False, "decoder_warnings": image.decode_warnings},
                error=str(image.header_error),
            )
        if image.header_error is not None:
            return Finding(
                analyzer=self.name,
                summary=f"This is not an image pixelsleuth can read: {image.header_error}.",
                error=str(image.header_error),
            )
        c = parsed_metadata(image).containers
        evidence: list[Evidence] = []
        details: dict[str, Any] = {
            "container": c.kind,
            "complete": c.complete,
            "trailing_bytes": c.trailing_bytes,
            "warnings": c.warnings[:20],
        }
        if c.jpeg is not None:
            details["jpeg_scans"] = c.jpeg.scans
        decode_error = None
        try:
            image.rgb()  # libjpeg-turbo first for a JPEG, whose warnings reveal damage
            details["decodes"] = "partly" if image.partial else True
        except DamagedImageError as exc:
            decode_error = str(exc)
            details["decodes"] = False
        except ImageInputError as exc:  # too large: not damage, but nothing was decoded
            details["decodes"] = None
            details["not_decoded"] = str(exc)
        details["decoder_warnings"] = image.decode_warnings[:20]
        damage = self._partial_message(image) if image.partial else None
        if damage:
            details["decoded_rows"] = image.decoded_rows
            evidence.append(Evidence("partly_decoded", damage, Direction.NEUTRAL, 0.0))
        elif decode_error:
            evidence.append(
                Evidence(
                    "truncated",
                    f"The pixel data is damaged: {decode_error}.",
                    Direction.NEUTRAL,
                    0.0,
                )
            )
        elif not c.complete and c.kind in ("jpeg", "png"):
            evidence.append(
                Evidence(
                    "no_end_marker",
                    "The file ends without its end-of-image marker: it "
                    "was cut short, though the visible pixels decoded.",
                    Direction.NEUTRAL,
                    0.0,
                )
            )
        if c.trailing_bytes > 0:
            embedded = "" if c.kind != "jpeg" else self._trailer_kind(image.data, c)
            evidence.append(
                Evidence(
                    "trailing_data",
                    f"{c.trailing_bytes} bytes follow the end of the image{embedded}; phones "
                    "store extra pictures there, but appended data can also hide content.",
                    Direction.EDITED if not embedded else Direction.NEUTRAL,
                    0.1 if not embedded else 0.0,
                )
            )
        if damage:
            summary = f"The file is damaged and only partly readable. {damage}"
        elif decode_error:
            summary = f"The file is damaged and only partly readable: {decode_error}."
        elif evidence:
            summary = evidence[0].message
        else:
            summary = "The file is complete and decodes without errors."
        return Finding(
            analyzer=self.name,
            summary=summary,
            score=None,
            evidence=evidence,
            details=details,
        )

    @staticmethod
    def _partial_message(image: LoadedImage) -> str:
        """What decoded of a damaged file, in words, with the decoder's own words."""
        said = "; ".join(image.decode_warnings[:3])
        said = f" (the decoder said: {said})" if said else ""
        height, rows = image.info.height or 0, image.decoded_rows
        if rows is not None and 0 < rows < height:
            return (
                f"Its pixel data ends early{said}: the top {rows} of {height} rows "
                f"({rows / height:.0%}) decoded, and the pixel analyses used only those."
            )
        return (
            f"The decoder reported damaged pixel data{said}; every row decoded, but parts of "
            "the picture may be wrong or missing detail, and the pixel analyses include them."
        )

    @staticmethod
    def _trailer_kind(data: bytes, c: Any) -> str:
        start = c.jpeg.eoi_offset + 2
        tail = data[start : start + 64].lstrip(b"\x00")
        if tail.startswith(b"\xff\xd8"):
            return " (another JPEG image: a preview, depth map or second frame)"
        return ""
