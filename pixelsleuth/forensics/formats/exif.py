"""Parsing: EXIF as a TIFF structure (0th, Exif, GPS, Interop and 1st IFDs, MakerNote, thumbnail).

Every offset and count is checked against the data, IFD chains are followed at most once per
offset, and entry counts are bounded, so hostile EXIF ends in a warning, never an exception or
a loop. Tag names come from piexif's tables.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import piexif

MAX_ENTRIES_PER_IFD = 1000
MAX_VALUE_BYTES = 4 * 1024 * 1024

# TIFF field types: (struct code, size in bytes)
_TYPES: dict[int, tuple[str, int]] = {
    1: ("B", 1),  # BYTE
    2: ("s", 1),  # ASCII
    3: ("H", 2),  # SHORT
    4: ("I", 4),  # LONG
    5: ("II", 8),  # RATIONAL
    6: ("b", 1),  # SBYTE
    7: ("s", 1),  # UNDEFINED
    8: ("h", 2),  # SSHORT
    9: ("i", 4),  # SLONG
    10: ("ii", 8),  # SRATIONAL
    11: ("f", 4),  # FLOAT
    12: ("d", 8),  # DOUBLE
    13: ("I", 4),  # IFD
}

_TYPE_NAMES = {
    1: "BYTE", 2: "ASCII text", 3: "SHORT", 4: "LONG", 5: "RATIONAL", 6: "SBYTE",
    7: "UNDEFINED bytes", 8: "SSHORT", 9: "SLONG", 10: "SRATIONAL", 11: "FLOAT", 12: "DOUBLE",
    13: "IFD",
}  # fmt: skip
_BYTE_TYPES = {1, 6, 7}
_TEXT_TYPE = 2

EXIF_IFD_POINTER = 0x8769
GPS_IFD_POINTER = 0x8825
INTEROP_IFD_POINTER = 0xA005
MAKERNOTE = 0x927C
USER_COMMENT = 0x9286
THUMB_OFFSET = 0x0201  # JPEGInterchangeFormat
THUMB_LENGTH = 0x0202

IFD_NAMES = ("0th", "Exif", "GPS", "Interop", "1st")


@dataclass
class ExifData:
    """Decoded EXIF. ``ifds[name][tag_id]`` holds the decoded value of each entry."""

    byte_order: str = ""
    ifds: dict[str, dict[int, Any]] = field(default_factory=lambda: {n: {} for n in IFD_NAMES})
    makernote: bytes | None = None
    thumbnail: bytes | None = None
    warnings: list[str] = field(default_factory=list)

    def get(self, ifd: str, tag: int, default: Any = None) -> Any:
        return self.ifds.get(ifd, {}).get(tag, default)

    def named(self) -> dict[str, dict[str, Any]]:
        """The IFDs with tag names instead of numbers (unknown tags as 0xNNNN), for display."""
        out: dict[str, dict[str, Any]] = {}
        for ifd_name, entries in self.ifds.items():
            table = piexif.TAGS.get("Image" if ifd_name in ("0th", "1st") else ifd_name, {})
            named: dict[str, Any] = {}
            for tag, value in entries.items():
                if tag in (MAKERNOTE, EXIF_IFD_POINTER, GPS_IFD_POINTER, INTEROP_IFD_POINTER):
                    continue
                name = table.get(tag, {}).get("name", f"0x{tag:04X}")
                named[name] = _display(value)
            if named:
                out[ifd_name] = named
        return out


def parse_exif(data: bytes) -> ExifData:
    """Decode a TIFF-structured EXIF block (starting at the byte-order mark)."""
    exif = ExifData()
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        exif.warnings.append("the EXIF block does not start with a TIFF header")
        return exif
    reader = _TiffReader(data, exif.warnings)
    exif.byte_order = "little-endian" if reader.endian == "<" else "big-endian"
    first = reader.u32(4)
    if first is None:
        return exif
    seen: set[int] = set()
    ifd0, next_ifd = reader.read_ifd(first, seen, table="Image")
    exif.ifds["0th"] = ifd0
    if next_ifd:
        exif.ifds["1st"], _ = reader.read_ifd(next_ifd, seen, table="Image")
    for pointer, name, parent in (
        (EXIF_IFD_POINTER, "Exif", "0th"),
        (GPS_IFD_POINTER, "GPS", "0th"),
        (INTEROP_IFD_POINTER, "Interop", "Exif"),
    ):
        offset = exif.ifds[parent].get(pointer)
        if isinstance(offset, int) and offset > 0:
            exif.ifds[name], _ = reader.read_ifd(offset, seen, table=name)
    note = exif.ifds["Exif"].get(MAKERNOTE)
    if isinstance(note, bytes) and note:
        exif.makernote = note
    first_ifd = exif.ifds["1st"]
    t_off, t_len = first_ifd.get(THUMB_OFFSET), first_ifd.get(THUMB_LENGTH)
    if isinstance(t_off, int) and isinstance(t_len, int) and t_len > 0:
        if t_off + t_len <= len(data):
            exif.thumbnail = data[t_off : t_off + t_len]
        else:
            exif.warnings.append("the EXIF thumbnail points outside the EXIF block")
    return exif


def read_tiff_tag(data: bytes, tag: int) -> bytes | None:
    """The raw bytes of one tag of a TIFF file's first IFD (XMP, IPTC, ICC live there)."""
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        return None
    reader = _TiffReader(data, [])
    first = reader.u32(4)
    if first is None:
        return None
    entries, _ = reader.read_ifd(first, set(), raw=True)
    value = entries.get(tag)
    return value if isinstance(value, bytes) else None


class _TiffReader:
    def __init__(self, data: bytes, warnings: list[str]) -> None:
        self.data = data
        self.endian = "<" if data[:2] == b"II" else ">"
        self.warnings = warnings

    def u16(self, pos: int) -> int | None:
        if pos < 0 or pos + 2 > len(self.data):
            return None
        return struct.unpack(self.endian + "H", self.data[pos : pos + 2])[0]

    def u32(self, pos: int) -> int | None:
        if pos < 0 or pos + 4 > len(self.data):
            return None
        return struct.unpack(self.endian + "I", self.data[pos : pos + 4])[0]

    def read_ifd(
        self, offset: int, seen: set[int], raw: bool = False, table: str | None = None
    ) -> tuple[dict[int, Any], int]:
        """Entries of the IFD at ``offset`` and the offset of the next IFD (0 if none).
        ``table`` names piexif's tag table ("Image", "Exif", "GPS", "Interop"): an entry whose
        stored type does not fit its tag's (a number where text belongs) is dropped with a
        warning, so that readers never meet a tuple where a string belongs."""
        if offset in seen:
            self.warnings.append(f"IFD at offset {offset} is referenced twice (a loop)")
            return {}, 0
        seen.add(offset)
        count = self.u16(offset)
        if count is None:
            self.warnings.append(f"IFD offset {offset} points outside the EXIF block")
            return {}, 0
        if count > MAX_ENTRIES_PER_IFD:
            self.warnings.append(f"IFD at offset {offset} claims {count} entries; ignored")
            return {}, 0
        entries: dict[int, Any] = {}
        for i in range(count):
            pos = offset + 2 + 12 * i
            if pos + 12 > len(self.data):
                self.warnings.append(f"IFD at offset {offset} is cut off after {i} entries")
                return entries, 0
            tag, typ, n = struct.unpack(self.endian + "HHI", self.data[pos : pos + 8])
            value = self._value(tag, typ, n, pos + 8, raw)
            if value is not _SKIP and table and not raw:
                value = self._typed(table, tag, typ, value)
            if value is not _SKIP:
                entries[tag] = value
        next_ifd = self.u32(offset + 2 + 12 * count) or 0
        return entries, next_ifd

    def _typed(self, table: str, tag: int, typ: int, value: Any) -> Any:
        """``value`` if its stored type fits the tag's, text stored as bytes decoded, else
        _SKIP with a warning."""
        spec = piexif.TAGS.get(table, {}).get(tag)
        if spec is None or spec["type"] == typ:
            return value
        expected = spec["type"]
        if expected == _TEXT_TYPE and isinstance(value, bytes):
            return _ascii(value)  # text written as BYTE/UNDEFINED: still text
        if expected == _TEXT_TYPE and isinstance(value, int) and typ in _BYTE_TYPES:
            return _ascii(bytes([value & 0xFF]))
        fits = (expected in _BYTE_TYPES and typ in _BYTE_TYPES | {_TEXT_TYPE}) or (
            expected not in _BYTE_TYPES | {_TEXT_TYPE} and not isinstance(value, str | bytes)
        )
        if fits:
            return value
        self.warnings.append(
            f"tag {spec['name']} (0x{tag:04X}) is stored as {_TYPE_NAMES.get(typ, typ)} where "
            f"{_TYPE_NAMES.get(expected, expected)} belongs; ignored"
        )
        return _SKIP

    def _value(self, tag: int, typ: int, n: int, field_pos: int, raw: bool) -> Any:
        if typ not in _TYPES:
            return _SKIP  # unknown type (BigTIFF's, or garbage)
        code, size = _TYPES[typ]
        total = size * n
        if total > MAX_VALUE_BYTES:
            self.warnings.append(f"tag 0x{tag:04X} claims {total} bytes; ignored")
            return _SKIP
        # values of up to 4 bytes sit in the entry itself, longer ones at an offset
        start = field_pos if total <= 4 else (self.u32(field_pos) or 0)
        end = start + total
        if end > len(self.data) or start < 0:
            self.warnings.append(f"tag 0x{tag:04X} points outside the EXIF block")
            return _SKIP
        chunk = self.data[start:end]
        if raw or typ == 7:
            return chunk
        if typ == 2:
            return _ascii(chunk)
        if typ in (1, 6) and n > 4:
            return chunk  # byte arrays (XPTitle, versions): keep as bytes
        fmt = self.endian + code * n
        values = struct.unpack(fmt, chunk)
        if typ in (5, 10):
            values = tuple(
                (num / den) if den else None
                for num, den in zip(values[::2], values[1::2], strict=True)
            )
        return values[0] if n == 1 else values


_SKIP = object()


def _ascii(chunk: bytes) -> str:
    text = chunk.split(b"\x00", 1)[0]
    try:
        return text.decode("utf-8").strip()
    except UnicodeDecodeError:
        return text.decode("latin-1").strip()


def _display(value: Any) -> Any:
    """A JSON-friendly, readable form of a decoded EXIF value."""
    if isinstance(value, bytes):
        if len(value) <= 8 and all(32 <= b < 127 for b in value):
            return value.decode("ascii")  # ExifVersion, FlashpixVersion, ...
        return value  # report.to_jsonable shows a short hex preview
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, tuple):
        return [_display(v) for v in value]
    return value


def decode_user_comment(raw: bytes, byte_order: str = "big-endian") -> str | None:
    """EXIF UserComment: an 8-byte character-code header then the text."""
    if len(raw) < 8:
        return None
    header, body = raw[:8], raw[8:]
    if header.startswith(b"UNICODE"):
        # The spec says UCS-2 in the EXIF byte order, but writers differ: trust a BOM, then
        # whichever order has the zero bytes where ASCII text would put them.
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            return body.decode("utf-16", errors="replace").rstrip("\x00")
        even_zeros = body[0::2].count(0)
        odd_zeros = body[1::2].count(0)
        if even_zeros != odd_zeros:
            enc = "utf-16-be" if even_zeros > odd_zeros else "utf-16-le"
        else:
            enc = "utf-16-be" if byte_order == "big-endian" else "utf-16-le"
        return body.decode(enc, errors="replace").rstrip("\x00")
    if header.startswith(b"ASCII"):
        return body.decode("latin-1").rstrip("\x00 ")
    if header == b"\x00" * 8:
        text = body.rstrip(b"\x00 ")
        return text.decode("utf-8", errors="replace") if text else None
    return None


def gps_decimal(gps: dict[int, Any]) -> tuple[float | None, float | None, float | None]:
    """Latitude and longitude as signed decimal degrees, altitude in metres (None if absent)."""

    def degrees(value: Any, ref: Any, negative: str) -> float | None:
        if isinstance(value, tuple) and len(value) == 3 and all(v is not None for v in value):
            d, m, s = value
        elif isinstance(value, float):
            d, m, s = value, 0.0, 0.0
        else:
            return None
        result = d + m / 60.0 + s / 3600.0
        if isinstance(ref, str) and ref.upper().startswith(negative):
            result = -result
        return result

    lat = degrees(gps.get(2), gps.get(1), "S")
    lon = degrees(gps.get(4), gps.get(3), "W")
    if lat is not None and not -90 <= lat <= 90:
        lat = None
    if lon is not None and not -180 <= lon <= 180:
        lon = None
    alt = gps.get(6)
    if isinstance(alt, float):
        if gps.get(5) == 1 or gps.get(5) == b"\x01":
            alt = -alt
    else:
        alt = None
    return lat, lon, alt
