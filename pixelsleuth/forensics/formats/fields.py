"""The headline metadata fields of a file (make, model, software, dates, orientation, lens,
GPS), read from EXIF, XMP, IPTC and PNG text in ExifTool's order of preference.

Shared by the ``metadata`` and ``jpeg`` analyzers and by ``scripts/build_jpeg_signatures.py``.
"""

from __future__ import annotations

import re
from typing import Any

from pixelsleuth.forensics.formats.exif import gps_decimal
from pixelsleuth.forensics.formats.parsed import ParsedMetadata

# EXIF tag numbers used below
MAKE, MODEL, SOFTWARE, DATETIME, ORIENTATION, ARTIST = (
    0x010F,
    0x0110,
    0x0131,
    0x0132,
    0x0112,
    0x013B,
)
DT_ORIGINAL, DT_DIGITIZED = 0x9003, 0x9004
LENS_MAKE, LENS_MODEL = 0xA433, 0xA434


def canonical_fields(meta: ParsedMetadata) -> dict[str, Any]:
    """The headline fields, taken in ExifTool's order of preference: EXIF, then XMP, then
    PNG text. Values are as stored (strings stripped, numbers as numbers)."""
    exif = meta.exif
    xmp = meta.xmp
    text = meta.text

    def pick(ifd: str, tag: int, *fallbacks: Any) -> Any:
        value = exif.get(ifd, tag) if exif else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None and not isinstance(value, str | bytes):
            return value
        for fb in fallbacks:
            if isinstance(fb, str) and fb.strip():
                return fb.strip()
            if isinstance(fb, int | float) and not isinstance(fb, bool):
                return fb
        return None

    fields: dict[str, Any] = {
        "Make": pick("0th", MAKE, xmp.get("tiff:Make")),
        "Model": pick("0th", MODEL, xmp.get("tiff:Model")),
        "Software": pick("0th", SOFTWARE, xmp.get("tiff:Software"), text.get("Software")),
        "DateTimeOriginal": pick(
            "Exif",
            DT_ORIGINAL,
            _xmp_date(xmp.get("exif:DateTimeOriginal")),
            _iptc_date(meta.iptc.get("DateCreated"), meta.iptc.get("TimeCreated")),
        ),
        "CreateDate": pick("Exif", DT_DIGITIZED, _xmp_date(xmp.get("xmp:CreateDate"))),
        "ModifyDate": pick("0th", DATETIME, _xmp_date(xmp.get("xmp:ModifyDate"))),
        "Orientation": pick("0th", ORIENTATION, _int_or_none(xmp.get("tiff:Orientation"))),
        "LensModel": pick("Exif", LENS_MODEL, xmp.get("aux:Lens"), xmp.get("exifEX:LensModel")),
        "CreatorTool": xmp.get("xmp:CreatorTool")
        if isinstance(xmp.get("xmp:CreatorTool"), str)
        else None,
    }
    lat = lon = alt = None
    if exif and exif.ifds.get("GPS"):
        lat, lon, alt = gps_decimal(exif.ifds["GPS"])
    if lat is None and isinstance(xmp.get("exif:GPSLatitude"), str):
        lat = _xmp_gps(xmp["exif:GPSLatitude"])
        lon = _xmp_gps(xmp.get("exif:GPSLongitude"))
    fields.update(GPSLatitude=lat, GPSLongitude=lon, GPSAltitude=alt)
    return fields


def _xmp_date(value: Any) -> str | None:
    """XMP ISO dates in EXIF form ('2004-03-01T10:20:30' -> '2004:03:01 10:20:30')."""
    if not isinstance(value, str):
        return None
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?", value)
    if not m:
        return None
    y, mo, d, h, mi, s = m.groups()
    return f"{y}:{mo}:{d} {h}:{mi}:{s or '00'}"


def _iptc_date(date: Any, time: Any) -> str | None:
    """IPTC DateCreated 'YYYYMMDD' + TimeCreated 'HHMMSS±HHMM' in EXIF form."""
    if not isinstance(date, str) or not re.fullmatch(r"\d{8}", date):
        return None
    out = f"{date[:4]}:{date[4:6]}:{date[6:8]}"
    if isinstance(time, str) and re.match(r"\d{6}", time):
        out += f" {time[:2]}:{time[2:4]}:{time[4:6]}"
        if re.fullmatch(r"\d{6}[+-]\d{4}", time):
            out += f"{time[6:9]}:{time[9:11]}"
    else:
        out += " 00:00:00"
    return out


def _xmp_gps(value: Any) -> float | None:
    """XMP GPS coordinate 'DD,MM.mmmmN' or 'DD,MM,SSN' to signed decimal degrees."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"\s*(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])\s*", value)
    if not m:
        return None
    deg = float(m.group(1)) + float(m.group(2)) / 60 + float(m.group(3) or 0) / 3600
    return -deg if m.group(4) in "SW" else deg


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
