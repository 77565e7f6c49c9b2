"""A complete metadata dump: every EXIF, GPS, XMP and IPTC tag by name, grouped like
``exiftool -G1`` (IFD0, ExifIFD, GPS, InteropIFD, IFD1, XMP-<namespace>, IPTC, and the maker
for MakerNote fields: Canon, Nikon, Sony, FujiFilm, Olympus, Panasonic, Apple), with values
as ``exiftool -n`` gives them (numbers as numbers, APEX values converted, lists space-joined).

It reads the same containers as the metadata analyzer (never the pixels) and is what
``pixelsleuth metadata FILE`` and the app's "All metadata" view show. XMP edit history
(``xmpMM:History``) is also returned as a timeline.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import piexif

from pixelsleuth.forensics.formats.containers import read_containers
from pixelsleuth.forensics.formats.exif import (
    EXIF_IFD_POINTER,
    GPS_IFD_POINTER,
    INTEROP_IFD_POINTER,
    MAKERNOTE,
    USER_COMMENT,
    decode_user_comment,
    parse_exif,
)
from pixelsleuth.forensics.formats.iptc import parse_iptc
from pixelsleuth.forensics.formats.makernotes import decode_makernote, public_fields
from pixelsleuth.forensics.formats.xmp import parse_xmp

EXIF_GROUPS = {
    "0th": "IFD0",
    "Exif": "ExifIFD",
    "GPS": "GPS",
    "Interop": "InteropIFD",
    "1st": "IFD1",
}

# ExifTool's names where piexif's (the EXIF 2.3 specification's) differ
EXIFTOOL_NAMES = {
    0x0132: "ModifyDate",
    0x9003: "DateTimeOriginal",
    0x9004: "CreateDate",
    0x8827: "ISO",
    0x9204: "ExposureCompensation",
    0xA002: "ExifImageWidth",
    0xA003: "ExifImageHeight",
    0xA005: "InteropOffset",
    0xA434: "LensModel",
    0xA433: "LensMake",
    0xA432: "LensInfo",
    0xA431: "SerialNumber",
    0xA430: "OwnerName",
    0x9010: "OffsetTime",
    0x9011: "OffsetTimeOriginal",
    0x9012: "OffsetTimeDigitized",
    0x9290: "SubSecTime",
    0x9291: "SubSecTimeOriginal",
    0x9292: "SubSecTimeDigitized",
    0x0201: "ThumbnailOffset",
    0x0202: "ThumbnailLength",
    0x8830: "SensitivityType",
    0x8832: "RecommendedExposureIndex",
    0xA20E: "FocalPlaneXResolution",
    0xA20F: "FocalPlaneYResolution",
    0xA210: "FocalPlaneResolutionUnit",
    0xA405: "FocalLengthIn35mmFormat",
    0xA500: "Gamma",
    0x0001: "InteropIndex",
    0x0002: "InteropVersion",
    0x9286: "UserComment",
    0xA401: "CustomRendered",
    0x8298: "Copyright",
    0x013B: "Artist",
    0x0213: "YCbCrPositioning",
    0x0212: "YCbCrSubSampling",
    0xA300: "FileSource",
    0xA301: "SceneType",
    0x9214: "SubjectArea",
    0xA214: "SubjectLocation",
    0x828E: "CFAPattern2",
    0xA302: "CFAPattern",
    0x9102: "CompressedBitsPerPixel",
    0x0103: "Compression",
    0x9C9B: "XPTitle",
    0x9C9C: "XPComment",
    0x9C9D: "XPAuthor",
    0x9C9E: "XPKeywords",
    0x9C9F: "XPSubject",
    0x4746: "Rating",
    0x4749: "RatingPercent",
    0xC4A5: "PrintIM",
    0x0100: "ImageWidth",
    0x0101: "ImageHeight",
    0x00FE: "SubfileType",
    0x1000: "RelatedImageFileFormat",
    0x1001: "RelatedImageWidth",
    0x1002: "RelatedImageHeight",
}
GPS_NAMES = {0x0000: "GPSVersionID"}
APEX_TIME = {0x9201}  # ShutterSpeedValue: seconds = 2^-v
APEX_APERTURE = {0x9202, 0x9205}  # ApertureValue, MaxApertureValue: f-number = 2^(v/2)
FILE_OFFSETS = {0x0201, 0x0111}  # ThumbnailOffset, StripOffsets: ExifTool counts from the file
XMP_APEX_TIME = {"ShutterSpeedValue"}
XMP_APEX_APERTURE = {"ApertureValue", "MaxApertureValue"}
_XMP_DATE = re.compile(r"^(\d{4})-(\d\d)(?:-(\d\d))?(?:T(\d\d:\d\d(?::\d\d(?:\.\d+)?)?)(.*))?$")
_RATIONAL = re.compile(r"^(-?\d+)/(\d+)$")
_XMPTK = re.compile(rb'x:xmptk\s*=\s*["\']([^"\']{1,200})["\']')


@dataclass
class Tag:
    """One tag: ``group`` as ExifTool's family-1 group, ``name`` ExifTool's tag name."""

    group: str
    name: str
    value: Any


@dataclass
class HistoryEvent:
    """One step of an XMP edit history (``xmpMM:History``): what was done, when, by what."""

    action: str | None
    when: str | None
    software: str | None
    changed: str | None
    instance_id: str | None


@dataclass
class MetadataDump:
    """Every tag found, in file order per group, the XMP edit history and reading warnings."""

    tags: list[Tag] = field(default_factory=list)
    history: list[HistoryEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"Group:Name": value}`` like ``exiftool -j -G1``; repeated names get a list."""
        out: dict[str, Any] = {}
        for t in self.tags:
            key = f"{t.group}:{t.name}"
            out[key] = [*out[key], t.value] if isinstance(out.get(key), list) else t.value
        return out

    def table(self, width: int = 100) -> str:
        """A readable table, one tag a line: ``[Group]  Name  : value``."""
        lines = []
        for t in self.tags:
            value = t.value if not isinstance(t.value, list) else ", ".join(map(str, t.value))
            text = str(value).replace("\n", " ")
            if len(text) > width:
                text = text[: width - 1] + "…"
            lines.append(f"[{t.group}]".ljust(16) + f"{t.name:<32}: {text}")
        if self.history:
            lines.append("")
            lines.append("XMP edit history:")
            for h in self.history:
                lines.append(
                    f"  {h.when or '(no date)'}  {h.action or '?'}"
                    + (f" by {h.software}" if h.software else "")
                    + (f" ({h.changed})" if h.changed else "")
                )
        return "\n".join(lines)


def dump_metadata(data: bytes) -> MetadataDump:
    """Every EXIF, GPS, XMP and IPTC tag in ``data`` (a whole image file); never raises."""
    found = MetadataDump()
    containers = read_containers(data)
    found.warnings += containers.warnings
    if containers.exif:
        tiff_start = data.find(containers.exif[:64]) if containers.kind != "tiff" else 0
        _exif_tags(containers.exif, found, max(tiff_start, 0))
    for packet in containers.xmp[:1]:  # the main packet; Extended XMP continues its properties
        props, error = parse_xmp(b"".join(containers.xmp) if len(containers.xmp) == 1 else packet)
        if error:
            found.warnings.append(error)
        toolkit = _XMPTK.search(containers.xmp[0][:4096])
        if toolkit:
            found.tags.append(
                Tag("XMP-x", "XMPToolkit", toolkit.group(1).decode("utf-8", "replace"))
            )
        _xmp_tags(props, found)
    if containers.iptc:
        fields, warnings = parse_iptc(containers.iptc)
        found.warnings += warnings
        for name, value in fields.items():
            found.tags.append(Tag("IPTC", name, _iptc_value(name, value)))
    return found


def _exif_tags(raw: bytes, found: MetadataDump, tiff_start: int) -> None:
    exif = parse_exif(raw)
    found.warnings += exif.warnings
    for ifd, entries in exif.ifds.items():
        group = EXIF_GROUPS.get(ifd, ifd)
        table = piexif.TAGS.get("Image" if ifd in ("0th", "1st") else ifd, {})
        for tag, value in entries.items():
            if tag in (EXIF_IFD_POINTER, GPS_IFD_POINTER, INTEROP_IFD_POINTER):
                continue
            if tag == MAKERNOTE:
                continue  # decoded by maker below, not shown as bytes
            names = GPS_NAMES if ifd == "GPS" else EXIFTOOL_NAMES
            name = names.get(tag) or table.get(tag, {}).get("name") or f"Exif_0x{tag:04x}"
            if tag in FILE_OFFSETS and isinstance(value, int):
                value = value + tiff_start
            elif tag == USER_COMMENT and isinstance(value, bytes):
                value = decode_user_comment(value, exif.byte_order) or ""
            found.tags.append(Tag(group, name, _exif_value(tag, value, ifd)))
    if exif.thumbnail:
        found.tags.append(Tag("IFD1", "ThumbnailImage", _binary(len(exif.thumbnail))))
    if exif.makernote:
        make = exif.ifds.get("0th", {}).get(0x010F)
        note = decode_makernote(raw, exif.makernote, str(make or ""))
        if note is not None:
            found.warnings += note.warnings
            for name, value in public_fields(note).items():
                found.tags.append(Tag(note.maker, name, value))
    gps = exif.ifds.get("GPS", {})
    for tag in (2, 4, 20, 22):  # GPS(Dest)Latitude/Longitude in degrees, unsigned, as -n gives
        if tag in gps:
            _replace(found, "GPS", piexif.TAGS["GPS"][tag]["name"], _degrees(gps[tag]))


def _replace(found: MetadataDump, group: str, name: str, value: Any) -> None:
    for t in found.tags:
        if t.group == group and t.name == name:
            t.value = value


def _degrees(value: Any) -> Any:
    parts = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(p, int | float) and p is not None for p in parts):
        return _plain(value)
    d, m, s = ([*parts, 0, 0])[:3]
    return round(d + m / 60 + s / 3600, 10)


def _exif_value(tag: int, value: Any, ifd: str) -> Any:
    plausible = isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 64
    if ifd == "Exif" and plausible:  # hostile APEX values stay as stored
        if tag in APEX_TIME:
            return round(2.0 ** (-value), 10)
        if tag in APEX_APERTURE:
            return round(2.0 ** (value / 2), 10)
    if ifd == "GPS" and tag == 0x0007 and isinstance(value, tuple):  # GPSTimeStamp
        h, m, s = ([*value, 0, 0])[:3]
        if all(isinstance(v, int | float) for v in (h, m, s)):
            return f"{int(h):02d}:{int(m):02d}:{s:02g}".replace(":0:", ":00:")
    return _plain(value)


def _plain(value: Any) -> Any:
    """A value as ``exiftool -j -n`` writes it: numbers, strings, arrays space-joined."""
    if isinstance(value, bytes):
        if 0 < len(value) <= 8 and all(32 <= b < 127 for b in value):
            return value.decode("ascii")  # ExifVersion "0230"
        if len(value) <= 16:
            return " ".join(str(b) for b in value)  # ComponentsConfiguration "1 2 3 0"
        return _binary(len(value))
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 10)
    if isinstance(value, tuple | list):
        return " ".join(str(_plain(v)) for v in value)
    if value is None:  # a rational with a zero denominator
        return "undef"
    return value


def _binary(size: int) -> str:
    """How ExifTool shows a binary value it does not print."""
    return f"(Binary data {size} bytes, use -b option to extract)"


def _iptc_value(name: str, value: Any) -> Any:
    """IPTC values as ExifTool shows them: CCYYMMDD dates as CCYY:MM:DD, HHMMSS±HHMM times
    as HH:MM:SS±HH:MM, one-element lists as the element."""
    if isinstance(value, list):
        return value if len(value) > 1 else (value[0] if value else "")
    if isinstance(value, str) and "Date" in name and re.fullmatch(r"\d{8}", value):
        return f"{value[:4]}:{value[4:6]}:{value[6:]}"
    time = re.fullmatch(r"(\d\d)(\d\d)(\d\d)([+-]\d\d)(\d\d)", str(value))
    if "Time" in name and time:
        h, m, sec, zh, zm = time.groups()
        return f"{h}:{m}:{sec}{zh}:{zm}"
    return value


def _xmp_tags(props: dict[str, Any], found: MetadataDump) -> None:
    for key, value in props.items():
        prefix, _, local = key.partition(":")
        if not local:
            continue  # rdf:about and other attributes without a namespace prefix
        group = f"XMP-{prefix}"
        name = local[:1].upper() + local[1:]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            _xmp_structs(group, name, value, found)  # e.g. xmpMM:History → HistoryAction …
            if key == "xmpMM:History":
                found.history = [_history(v) for v in value]
        elif isinstance(value, dict):
            _xmp_structs(group, name, [value], found)
        else:
            value = _xmp_value(value)
            if prefix == "exif" and isinstance(value, int | float):
                if name in XMP_APEX_TIME and abs(value) < 64:
                    value = round(2.0 ** (-value), 10)
                elif name in XMP_APEX_APERTURE and abs(value) < 64:
                    value = round(2.0 ** (value / 2), 10)
            found.tags.append(Tag(group, name, value))


def _xmp_structs(group: str, name: str, items: list[dict[str, Any]], found: MetadataDump) -> None:
    """Structures flattened as ExifTool does: the field name appended to the property's."""
    fields: dict[str, list[Any]] = {}
    for item in items:
        for k, v in item.items():
            local = k.partition(":")[2] or k
            fields.setdefault(name + local[:1].upper() + local[1:], []).append(v)
    for field_name, values in fields.items():
        flat = [_xmp_value(v) for v in values]
        found.tags.append(Tag(group, field_name, flat if len(flat) > 1 else flat[0]))


def _xmp_value(value: Any) -> Any:
    """An XMP value as ExifTool's -n gives it: rationals as numbers, dates as EXIF dates
    (2010:12:12 12:41:35+01:00), numbers as numbers (not "0221", a version)."""
    if isinstance(value, list):
        flat = [_xmp_value(v) for v in value]
        return flat if len(flat) > 1 else (flat[0] if flat else "")
    if isinstance(value, dict):
        return value.get("x-default", next(iter(value.values()), ""))
    if not isinstance(value, str):
        return value
    if value in ("True", "False"):  # XMP booleans
        return value == "True"
    if " " in value and all(_RATIONAL.match(p) for p in value.split()):  # LensInfo
        return " ".join(str(_xmp_value(p)) for p in value.split())
    rational = _RATIONAL.match(value)
    if rational:
        num, den = int(rational.group(1)), int(rational.group(2))
        return "undef" if den == 0 else _plain(num / den)
    date = _XMP_DATE.match(value)
    if date:
        year, month, day, time, zone = date.groups()
        text = f"{year}:{month}" + (f":{day}" if day else "")
        return text + (f" {time}{zone or ''}" if time else "")
    if value.startswith("0") and value not in ("0",) and not value.startswith("0."):
        return value  # "0221": a version, not a number
    try:
        number = float(value)
    except ValueError:
        return value
    if math.isfinite(number) and value.strip() == value and not value.startswith("+"):
        return int(number) if number.is_integer() and "." not in value else number
    return value


def _history(item: dict[str, Any]) -> HistoryEvent:
    def get(name: str) -> str | None:
        for k, v in item.items():
            if k.partition(":")[2] == name or k == name:
                return str(v)
        return None

    return HistoryEvent(
        action=get("action"),
        when=get("when"),
        software=get("softwareAgent"),
        changed=get("changed"),
        instance_id=get("instanceID"),
    )
