"""Metadata: what the file says about the camera, the dates, the software and the place.

Reads EXIF (all IFDs, MakerNote, IFD1 thumbnail), XMP, IPTC-IIM, the ICC profile and PNG text,
and derives evidence from them: camera named or not, editing software named, dates that
disagree, GPS as decimal degrees. It never decodes pixels (the EXIF thumbnail is compared
with the image by the `thumbnail` analyzer). Metadata is easy to strip, copy or forge, so
every conclusion here is a hint, never a proof.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.exif import ExifData
from pixelsleuth.forensics.formats.fields import canonical_fields
from pixelsleuth.forensics.formats.parsed import ParsedMetadata, parsed_metadata
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding

# EXIF tag numbers used below (the headline fields' own are in formats/fields.py)
OFFSET_TIME_ORIGINAL = 0x9011
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
BODY_SERIAL = 0xA431

AI_TOOLS = re.compile(
    r"midjourney|dall[-·e ]*e|stable[ _-]?diffusion|firefly|novelai|imagen|openai|chatgpt|"
    r"gpt-4o|leonardo\.ai|ideogram|flux(\.1|\b)|comfyui|automatic1111|invokeai|fooocus|"
    r"bing image creator|image creator|dreamstudio|nightcafe|playground ai|krea|runway",
    re.IGNORECASE,
)
EDITORS = re.compile(
    r"photoshop|lightroom|camera raw|gimp|affinity|pixelmator|paint\.net|snapseed|picasa|"
    r"capture one|darktable|rawtherapee|luminar|photoscape|acdsee|paintshop|corel|fotor|canva|"
    r"facetune|vsco|picsart|photo ?director|photos? editor|imagemagick|graphicsmagick|"
    r"imageready|digikam|dxo|on1 photo|skylum|photopea|krita|inkscape|preview|"
    r"microsoft photos|windows photo|shotwell|xnview|irfanview|faststone|photoworks|"
    r"adobe express|remini|lensa|meitu|airbrush|pixlr|befunky",
    re.IGNORECASE,
)
METADATA_TOOLS = re.compile(r"photo mechanic|exiftool|exiv2|fotostation|bridge", re.IGNORECASE)


def classify_software(name: str) -> str:
    """'ai', 'editor', 'metadata-tool' or 'other' (camera firmware, phone OS, unknown)."""
    if AI_TOOLS.search(name):
        return "ai"
    if METADATA_TOOLS.search(name):
        return "metadata-tool"
    if EDITORS.search(name):
        return "editor"
    return "other"


def parse_exif_datetime(text: Any) -> datetime | None:
    """'YYYY:MM:DD HH:MM:SS' (EXIF) or ISO 8601 (XMP), time zone dropped; None if unparseable."""
    if not isinstance(text, str):
        return None
    match = re.match(r"(\d{4})[:-](\d{2})[:-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?", text)
    if not match:
        return None
    parts = [int(p) if p else 0 for p in match.groups()]
    try:
        return datetime(*parts)  # type: ignore[arg-type]
    except ValueError:
        return None


@register
class MetadataAnalyzer(Analyzer):
    name = "metadata"
    title = "Metadata (EXIF, XMP, IPTC, ICC)"
    explains = (
        "What the file says about its camera, dates, software and place; it can reveal editing, "
        "but metadata is easily stripped, copied or forged, so it never proves authenticity."
    )
    needs_pixels = False
    order = 10

    def analyze(self, image: LoadedImage) -> Finding:
        meta = parsed_metadata(image)
        fields = canonical_fields(meta)
        evidence: list[Evidence] = []
        details: dict[str, Any] = {"fields": fields}
        self._camera(meta, fields, evidence, details)
        self._software(meta, fields, evidence, details)
        self._dates(meta, fields, evidence, details)
        self._dimensions(image, meta, evidence)
        thumb = meta.exif.thumbnail if meta.exif is not None else None
        # Comparing it with the pixels is the `thumbnail` analyzer's job: this one never decodes.
        details["thumbnail"] = {"present": thumb is not None, "bytes": len(thumb or b"")}
        if fields["GPSLatitude"] is not None and fields["GPSLongitude"] is not None:
            details["gps"] = {
                "latitude": round(fields["GPSLatitude"], 7),
                "longitude": round(fields["GPSLongitude"], 7),
                "altitude_m": fields["GPSAltitude"],
            }
            evidence.append(
                Evidence(
                    "gps",
                    f"GPS position recorded: {fields['GPSLatitude']:.5f}, "
                    f"{fields['GPSLongitude']:.5f} (it can be edited like any other field).",
                )
            )
        details.update(_raw_blocks(meta))
        if meta.warnings:
            details["warnings"] = meta.warnings[:50]
            evidence.append(
                Evidence(
                    "metadata_damaged",
                    f"Some metadata is malformed ({meta.warnings[0]}); damaged metadata often "
                    "comes from careless rewriting by software.",
                    Direction.EDITED,
                    0.2,
                )
            )
        score = _score(evidence)
        return Finding(
            analyzer=self.name,
            summary=_summary(evidence, fields, meta),
            score=score,
            evidence=evidence,
            details=details,
        )

    # -- evidence ---------------------------------------------------------------------------
    @staticmethod
    def _camera(
        meta: ParsedMetadata, fields: dict[str, Any], evidence: list[Evidence], details: dict
    ) -> None:
        make, model = fields["Make"], fields["Model"]
        camera = " ".join(
            p for p in (make, model) if p and not (make and model and model.startswith(make))
        )
        if model and make and model.startswith(make):
            camera = model
        details["camera"] = {
            "make": make,
            "model": model,
            "lens": fields["LensModel"],
            "serial": meta.exif.get("Exif", BODY_SERIAL) if meta.exif else None,
            "makernote": None if meta.exif is None else meta.exif.makernote is not None,
            "makernote_bytes": len(meta.exif.makernote) if meta.exif and meta.exif.makernote else 0,
        }
        if camera:
            evidence.append(
                Evidence(
                    "camera_named",
                    f"The metadata names the camera: {camera}.",
                    Direction.CAMERA,
                    0.2,
                )
            )
            if meta.exif is not None and meta.exif.makernote is not None:
                evidence.append(
                    Evidence(
                        "makernote_present",
                        "The camera maker's private notes (MakerNote) are present; most editors "
                        "and web services drop or damage them.",
                        Direction.CAMERA,
                        0.25,
                    )
                )
            elif meta.exif is not None and meta.exif.ifds.get("Exif"):
                evidence.append(
                    Evidence(
                        "makernote_missing",
                        "The camera is named but the maker's private notes (MakerNote) are "
                        "missing; software that rewrites EXIF often drops them.",
                        Direction.EDITED,
                        0.15,
                    )
                )
        else:
            evidence.append(
                Evidence(
                    "no_camera",
                    "No camera make or model is recorded; common for web images, screenshots, "
                    "messaging apps and generated images.",
                    Direction.NEUTRAL,
                    0.0,
                )
            )

    @staticmethod
    def _software(
        meta: ParsedMetadata, fields: dict[str, Any], evidence: list[Evidence], details: dict
    ) -> None:
        names: list[str] = []
        for candidate in (
            fields["Software"],
            fields["CreatorTool"],
            meta.iptc.get("OriginatingProgram"),
        ):
            if isinstance(candidate, str) and candidate and candidate not in names:
                names.append(candidate)
        history = meta.xmp.get("xmpMM:History")
        if isinstance(history, list):
            for event in history:
                agent = event.get("stEvt:softwareAgent") if isinstance(event, dict) else None
                if isinstance(agent, str) and agent not in names:
                    names.append(agent)
        details["software"] = [{"name": n, "kind": classify_software(n)} for n in names]
        for name in names:
            kind = classify_software(name)
            if kind == "ai":
                evidence.append(
                    Evidence(
                        "ai_software",
                        f"The metadata names an AI image tool as the software: {name}.",
                        Direction.AI,
                        0.8,
                    )
                )
            elif kind == "editor":
                evidence.append(
                    Evidence(
                        "editor_software",
                        f"The file was saved by editing software: {name} (editing can be as "
                        "innocent as cropping or colour correction).",
                        Direction.EDITED,
                        0.5,
                    )
                )
            elif kind == "metadata-tool":
                evidence.append(
                    Evidence(
                        "metadata_tool",
                        f"The metadata was edited with {name} (a captioning tool, which "
                        "usually leaves pixels alone).",
                        Direction.NEUTRAL,
                        0.1,
                    )
                )
        if any(k.startswith("crs:") for k in meta.xmp):
            evidence.append(
                Evidence(
                    "camera_raw_settings",
                    "Adobe Camera Raw / Lightroom development settings are recorded: the image "
                    "was developed or adjusted in Adobe software.",
                    Direction.EDITED,
                    0.4,
                )
            )

    @staticmethod
    def _dates(
        meta: ParsedMetadata, fields: dict[str, Any], evidence: list[Evidence], details: dict
    ) -> None:
        original = parse_exif_datetime(fields["DateTimeOriginal"])
        digitized = parse_exif_datetime(fields["CreateDate"])
        modified = parse_exif_datetime(fields["ModifyDate"])
        details["dates"] = {
            "DateTimeOriginal": fields["DateTimeOriginal"],
            "CreateDate": fields["CreateDate"],
            "ModifyDate": fields["ModifyDate"],
            "OffsetTimeOriginal": meta.exif.get("Exif", OFFSET_TIME_ORIGINAL)
            if meta.exif
            else None,
        }
        if original and digitized and abs((original - digitized).total_seconds()) > 60:
            evidence.append(
                Evidence(
                    "dates_disagree",
                    f"The capture time ({original}) and digitisation time ({digitized}) "
                    "disagree; a camera writes the same time to both.",
                    Direction.EDITED,
                    0.4,
                )
            )
        if original and modified:
            delta = (modified - original).total_seconds()
            if delta > 60:
                evidence.append(
                    Evidence(
                        "modified_after_capture",
                        f"The file was saved again {_duration(delta)} after it was taken "
                        f"({original} → {modified}).",
                        Direction.EDITED,
                        0.35,
                    )
                )
            elif delta < -60:
                evidence.append(
                    Evidence(
                        "modified_before_capture",
                        f"The modification time ({modified}) is before the capture time "
                        f"({original}), which no camera writes.",
                        Direction.EDITED,
                        0.4,
                    )
                )
            else:
                evidence.append(
                    Evidence(
                        "dates_consistent",
                        "The capture and save times agree, as in a file straight from a camera.",
                        Direction.CAMERA,
                        0.15,
                    )
                )

    @staticmethod
    def _dimensions(image: LoadedImage, meta: ParsedMetadata, evidence: list[Evidence]) -> None:
        if meta.exif is None or image.info.width is None:
            return
        ex, ey = meta.exif.get("Exif", PIXEL_X), meta.exif.get("Exif", PIXEL_Y)
        if not (isinstance(ex, int) and isinstance(ey, int)) or ex <= 0 or ey <= 0:
            return
        w, h = image.info.width, image.info.height
        if {ex, ey} != {w, h}:
            evidence.append(
                Evidence(
                    "dimensions_changed",
                    f"EXIF records {ex}×{ey} pixels but the image is {w}×{h}: it was resized or "
                    "cropped after the EXIF was written.",
                    Direction.EDITED,
                    0.45,
                )
            )


def _raw_blocks(meta: ParsedMetadata) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if meta.exif is not None:
        out["exif"] = meta.exif.named()
        out["exif_container"] = meta.containers.exif_container
    if meta.xmp:
        out["xmp"] = meta.xmp
    if meta.iptc:
        out["iptc"] = meta.iptc
    if meta.icc:
        out["icc"] = meta.icc
    if meta.containers.text_chunks:
        out["png_text"] = {c.key: c.text[:500] for c in meta.containers.text_chunks}
    if meta.containers.comments:
        out["comments"] = [c[:500] for c in meta.containers.comments]
    return out


def _score(evidence: list[Evidence]) -> float:
    """0.5 with nothing to go on; up towards 1 with signs of editing or generation, down
    towards 0.2 with signs of a camera original (never lower: EXIF can be copied)."""
    suspicious = [e.strength for e in evidence if e.direction in (Direction.AI, Direction.EDITED)]
    camera = sum(e.strength for e in evidence if e.direction == Direction.CAMERA)
    if suspicious:
        top = max(suspicious)
        return round(min(1.0, 0.5 + 0.5 * top), 4)
    return round(max(0.2, 0.5 - 0.5 * min(camera, 0.6)), 4)


def _summary(evidence: list[Evidence], fields: dict[str, Any], meta: ParsedMetadata) -> str:
    ranked = sorted(
        (e for e in evidence if e.direction in (Direction.AI, Direction.EDITED)),
        key=lambda e: -e.strength,
    )
    if ranked:
        return ranked[0].message
    camera = next((e for e in evidence if e.code == "camera_named"), None)
    if camera:
        return (
            camera.message.rstrip(".")
            + ", and nothing in the metadata points to editing (metadata can be copied or forged)."
        )
    if meta.exif is None and not meta.xmp and not meta.iptc:
        return (
            "The file carries no camera metadata; that is usual for web, messaging-app and "
            "generated images, and proves nothing by itself."
        )
    return "The metadata names no camera and shows no sign of editing."


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"


# re-exported for tests and the app
__all__ = [
    "ExifData",
    "MetadataAnalyzer",
    "classify_software",
]
