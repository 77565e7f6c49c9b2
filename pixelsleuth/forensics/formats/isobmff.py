"""Reading: metadata blocks in ISO base media files: HEIF/HEIC/AVIF items and JPEG XL boxes.

HEIF keeps EXIF and XMP as *items*: ``meta/iinf`` names each item's type (``Exif``, or
``mime`` with content type ``application/rdf+xml`` for XMP) and ``meta/iloc`` says where its
bytes are. JPEG XL's container keeps them as top-level ``Exif`` and ``xml `` boxes, or
Brotli-compressed inside ``brob`` boxes. Every size and offset is checked against the data
and box counts are bounded, so a hostile file ends in a warning, never an exception or a loop.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
JXL_CODESTREAM = b"\xff\x0a"
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis"}
MAX_BOXES = 10_000
MAX_METADATA_BYTES = 16 * 1024 * 1024  # EXIF/XMP larger than this is not metadata


@dataclass
class IsoMetadata:
    """What an ISOBMFF file carries: ``kind`` is "heif" or "jxl"; ``exif`` a TIFF structure
    (from "II"/"MM"), ``xmp`` the XMP packets, ``exif_container`` where the EXIF was."""

    kind: str
    exif: bytes | None = None
    exif_container: str | None = None
    xmp: list[bytes] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sniff(data: bytes) -> str | None:
    """ "heif" for HEIF/HEIC/AVIF, "jxl" for JPEG XL (container or bare codestream), else None."""
    if data.startswith(JXL_CONTAINER) or data.startswith(JXL_CODESTREAM):
        return "jxl"
    if data[4:8] == b"ftyp" and len(data) >= 12:
        size = struct.unpack(">I", data[:4])[0]
        brands = {data[8:12]} | {data[i : i + 4] for i in range(16, min(size, 64, len(data)), 4)}
        if brands & HEIF_BRANDS:
            return "heif"
    return None


def boxes(
    data: bytes, start: int, end: int, warnings: list[str]
) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box between ``start`` and ``end``."""
    pos, seen = start, 0
    while pos + 8 <= end and seen < MAX_BOXES:
        seen += 1
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if pos + 16 > end:
                warnings.append("a box header is cut off")
                return
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:  # the box runs to the end
            size = end - pos
        if size < header or pos + size > end:
            warnings.append(f"the {kind.decode('latin-1')!r} box overruns the file")
            return
        yield kind, pos + header, pos + size
        pos += size


def read_jxl(data: bytes) -> IsoMetadata:
    """EXIF and XMP of a JPEG XL file (a bare codestream has none)."""
    meta = IsoMetadata(kind="jxl")
    if not data.startswith(JXL_CONTAINER):
        return meta
    for kind, start, end in boxes(data, 0, len(data), meta.warnings):
        payload = data[start:end]
        container = f"JXL {kind.decode('latin-1').strip()} box"
        if kind == b"brob" and len(payload) >= 4:  # Brotli-compressed: inner type, then data
            kind, payload = payload[:4], _brotli(payload[4:], meta.warnings)
            container = f"JXL brob box ({kind.decode('latin-1').strip()}, Brotli)"
            if payload is None:
                continue
        if kind == b"Exif" and len(payload) > 4:
            _set_exif(meta, payload, container)
        elif kind == b"xml ":
            meta.xmp.append(payload)
    return meta


def read_heif(data: bytes) -> IsoMetadata:
    """EXIF and XMP items of a HEIF/HEIC/AVIF file."""
    meta = IsoMetadata(kind="heif")
    top = {k: (s, e) for k, s, e in boxes(data, 0, len(data), meta.warnings)}
    if b"meta" not in top:
        return meta
    start, end = top[b"meta"]
    children = {k: (s, e) for k, s, e in boxes(data, start + 4, end, meta.warnings)}  # full box
    if b"iinf" not in children or b"iloc" not in children:
        return meta
    try:
        types = _item_types(data, *children[b"iinf"], meta.warnings)
        places = _item_locations(data, *children[b"iloc"])
    except struct.error:
        meta.warnings.append("the HEIF item tables are cut off")
        return meta
    for item_id, (item_type, content_type) in types.items():
        extents = places.get(item_id)
        if not extents:
            continue
        blob = b"".join(data[o : o + n] for o, n in extents if o + n <= len(data))
        if len(blob) != sum(n for _, n in extents):
            meta.warnings.append(f"HEIF item {item_id} lies outside the file")
            continue
        if item_type == b"Exif" and len(blob) > 4:
            _set_exif(meta, blob, "HEIF Exif item")
        elif item_type == b"mime" and content_type.startswith("application/rdf+xml"):
            meta.xmp.append(blob)
    return meta


def _set_exif(meta: IsoMetadata, payload: bytes, container: str) -> None:
    # both formats start with a 4-byte offset to the TIFF header (usually past "Exif\0\0")
    skip = struct.unpack(">I", payload[:4])[0]
    tiff = payload[4 + skip :] if 4 + skip < len(payload) else b""
    if tiff[:2] not in (b"II", b"MM"):  # some writers get the offset wrong: look for the header
        found = [i for i in (payload.find(b"II*\x00"), payload.find(b"MM\x00*")) if i >= 0]
        tiff = payload[min(found) :] if found else b""
    if tiff and meta.exif is None:
        meta.exif, meta.exif_container = tiff, container
    elif not tiff:
        meta.warnings.append(f"the EXIF in the {container} has no TIFF header")


def _brotli(data: bytes, warnings: list[str]) -> bytes | None:
    try:
        import brotli
    except ImportError:
        warnings.append("compressed JPEG XL metadata needs the brotli package")
        return None
    decompressor = brotli.Decompressor()
    try:
        out = decompressor.process(data, output_buffer_limit=MAX_METADATA_BYTES)
    except TypeError:  # older brotli without an output limit: the input size bounds it enough
        out = brotli.decompress(data)
    except brotli.error:
        warnings.append("a compressed JPEG XL metadata box is corrupt")
        return None
    if len(out) >= MAX_METADATA_BYTES:
        warnings.append("a compressed JPEG XL metadata box expands beyond the safety limit")
        return None
    return out


def _item_types(
    data: bytes, start: int, end: int, warnings: list[str]
) -> dict[int, tuple[bytes, str]]:
    """item_ID -> (item_type, content_type) from ``iinf``'s ``infe`` entries (versions 2, 3)."""
    version = data[start]
    pos = start + 4 + (2 if version == 0 else 4)  # full box header, entry count
    found: dict[int, tuple[bytes, str]] = {}
    for kind, s, e in boxes(data, pos, end, warnings):
        if kind != b"infe" or data[s] < 2:
            continue
        v = data[s]
        p = s + 4
        if v == 2:
            item_id = struct.unpack(">H", data[p : p + 2])[0]
            p += 2
        else:
            item_id = struct.unpack(">I", data[p : p + 4])[0]
            p += 4
        p += 2  # protection index
        item_type = data[p : p + 4]
        p += 4
        name_end = data.find(b"\x00", p, e)
        p = e if name_end < 0 else name_end + 1
        content_type = ""
        if item_type == b"mime" and p < e:
            ct_end = data.find(b"\x00", p, e)
            content_type = data[p : ct_end if ct_end >= 0 else e].decode("latin-1")
        found[item_id] = (item_type, content_type)
    return found


def _item_locations(data: bytes, start: int, end: int) -> dict[int, list[tuple[int, int]]]:
    """item_ID -> [(file offset, length)] from ``iloc``; items stored in ``idat``
    (construction method 1) or elsewhere are left out."""
    version = data[start]
    p = start + 4
    sizes = data[p] >> 4, data[p] & 15, data[p + 1] >> 4, data[p + 1] & 15
    offset_size, length_size, base_size, index_size = sizes
    p += 2
    count_fmt = ">I" if version == 2 else ">H"
    count = struct.unpack(count_fmt, data[p : p + struct.calcsize(count_fmt)])[0]
    p += struct.calcsize(count_fmt)
    places: dict[int, list[tuple[int, int]]] = {}
    for _ in range(min(count, MAX_BOXES)):
        item_id = struct.unpack(count_fmt, data[p : p + struct.calcsize(count_fmt)])[0]
        p += struct.calcsize(count_fmt)
        method = 0
        if version in (1, 2):
            method = struct.unpack(">H", data[p : p + 2])[0] & 15
            p += 2
        p += 2  # data reference index
        base, p = _uint(data, p, base_size)
        extent_count = struct.unpack(">H", data[p : p + 2])[0]
        p += 2
        extents = []
        for _ in range(extent_count):
            if version in (1, 2) and index_size:
                _, p = _uint(data, p, index_size)
            offset, p = _uint(data, p, offset_size)
            length, p = _uint(data, p, length_size)
            extents.append((base + offset, length))
        if p > end:
            raise struct.error("iloc overruns its box")
        if method == 0 and sum(n for _, n in extents) <= MAX_METADATA_BYTES:
            places[item_id] = extents
    return places


def _uint(data: bytes, pos: int, size: int) -> tuple[int, int]:
    if size == 0:
        return 0, pos
    if pos + size > len(data):
        raise struct.error("cut off")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size
