"""Reading: split a file into the containers that metadata lives in, checking every length.

Nothing here interprets metadata; it only finds blocks in their proper places (a JPEG APPn
segment, a PNG chunk, a RIFF chunk, a TIFF tag) so that the parsers beside this module never
trust a string found elsewhere in the bytes. Hostile lengths end the walk with a warning rather
than an exception.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from pixelsleuth.forensics.formats import isobmff

MAX_TEXT_BYTES = 8 * 1024 * 1024  # per decompressed PNG text chunk: workflows are < 1 MB
MAX_TOTAL_TEXT_BYTES = 32 * 1024 * 1024

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"

# In entropy-coded data a marker is 0xFF followed by anything but 0x00 (stuffing) or RST0-7.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")
# A marker that may follow a segment: not stuffing, not a fill byte, not RST/SOI/EOI
_RESYNC = re.compile(rb"\xff[\xc0-\xcf\xda-\xfe]")


@dataclass
class JpegSegment:
    marker: int  # 0xE1 for APP1, 0xDB for DQT, ...
    offset: int  # of the 0xFF byte
    payload: bytes  # without marker and length


@dataclass
class JpegStructure:
    segments: list[JpegSegment] = field(default_factory=list)
    scans: int = 0
    eoi_offset: int | None = None  # None: the file ends before the end-of-image marker

    def of(self, marker: int) -> list[JpegSegment]:
        return [s for s in self.segments if s.marker == marker]


@dataclass
class TextChunk:
    """A PNG tEXt/zTXt/iTXt chunk (or a similar keyed text block)."""

    key: str
    text: str
    container: str  # "tEXt", "zTXt", "iTXt"


@dataclass
class Containers:
    """Raw metadata blocks of one file, each as found in its proper container."""

    kind: str  # "jpeg", "png", "webp", "tiff", "gif", "heif", "jxl", "other"
    exif: bytes | None = None  # a TIFF structure, starting with "II" or "MM"
    exif_container: str | None = None
    xmp: list[bytes] = field(default_factory=list)  # the main packet first, extended after
    photoshop_irb: bytes | None = None
    iptc: bytes | None = None  # IPTC-IIM stream
    icc: bytes | None = None
    text_chunks: list[TextChunk] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    c2pa_container: str | None = None  # where a C2PA manifest store sits, if any
    jpeg: JpegStructure | None = None
    trailing_bytes: int = 0  # bytes after the format's end marker
    complete: bool = True  # the format's end marker was found
    warnings: list[str] = field(default_factory=list)


def read_containers(data: bytes) -> Containers:
    """Find the metadata containers in ``data``; never raises on malformed input."""
    if data.startswith(JPEG_SOI):
        return _read_jpeg(data)
    if data.startswith(PNG_SIGNATURE):
        return _read_png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _read_webp(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _read_tiff(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _read_gif(data)
    iso = isobmff.sniff(data)  # HEIF/HEIC/AVIF items, JPEG XL boxes
    if iso is not None:
        found = isobmff.read_heif(data) if iso == "heif" else isobmff.read_jxl(data)
        return Containers(
            kind=iso,
            exif=found.exif,
            exif_container=found.exif_container,
            xmp=found.xmp,
            warnings=found.warnings,
        )
    return Containers(kind="other")


# -- JPEG -------------------------------------------------------------------------------------


def read_jpeg_structure(data: bytes) -> tuple[JpegStructure, list[str]]:
    """Walk a JPEG's markers from SOI to EOI with length checks."""
    structure = JpegStructure()
    warnings: list[str] = []
    pos = 2
    n = len(data)
    while pos < n:
        if data[pos] != 0xFF:
            # A segment length that is a little off: resynchronise on the next marker, as
            # libjpeg and ExifTool do, and say so.
            match = _RESYNC.search(data, pos, min(n, pos + 1024))
            if match is None:
                warnings.append(f"expected a marker at byte {pos}, found 0x{data[pos]:02X}")
                break
            warnings.append(f"skipped {match.start() - pos} unknown bytes before a marker")
            pos = match.start()
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        start = pos - 1
        pos += 1
        if marker == 0xD9:  # EOI
            structure.eoi_offset = start
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            continue
        if pos + 2 > n:
            warnings.append(f"segment 0xFF{marker:02X} at byte {start} is cut off")
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > n:
            warnings.append(
                f"segment 0xFF{marker:02X} at byte {start} claims {length} bytes, "
                f"past the end of the file"
            )
            break
        structure.segments.append(JpegSegment(marker, start, data[pos + 2 : pos + length]))
        pos += length
        if marker == 0xDA:  # start of scan: skip the entropy-coded data
            structure.scans += 1
            match = _NEXT_MARKER.search(data, pos)
            if match is None:
                pos = n
                break
            pos = match.start()
    return structure, warnings


def _read_jpeg(data: bytes) -> Containers:
    c = Containers(kind="jpeg")
    c.jpeg, c.warnings = read_jpeg_structure(data)
    if c.jpeg.eoi_offset is None:
        c.complete = False
    else:
        c.trailing_bytes = len(data) - (c.jpeg.eoi_offset + 2)
    icc_parts: dict[int, bytes] = {}
    xmp_ext: dict[bytes, dict[int, bytes]] = {}
    for seg in c.jpeg.segments:
        p = seg.payload
        if seg.marker == 0xE1:
            if p.startswith(EXIF_HEADER) and c.exif is None:
                c.exif, c.exif_container = p[len(EXIF_HEADER) :], "JPEG APP1"
            elif p.startswith(XMP_HEADER):
                c.xmp.insert(0, p[len(XMP_HEADER) :])
            elif p.startswith(XMP_EXT_HEADER):
                # GUID (32) + full length (4) + offset (4) + data
                body = p[len(XMP_EXT_HEADER) :]
                if len(body) >= 40:
                    (offset,) = struct.unpack(">I", body[36:40])
                    xmp_ext.setdefault(body[:32], {})[offset] = body[40:]
        elif seg.marker == 0xE2 and p.startswith(ICC_HEADER) and len(p) >= 14:
            icc_parts[p[12]] = p[14:]  # sequence number, count, data
        elif seg.marker == 0xED and p.startswith(PHOTOSHOP_HEADER):
            c.photoshop_irb = (c.photoshop_irb or b"") + p[len(PHOTOSHOP_HEADER) :]
        elif seg.marker == 0xEB and p[:2] == b"JP" and b"c2pa" in p[:64]:
            # APP11 carries JUMBF boxes; the C2PA store is labelled "c2pa" in its first box
            c.c2pa_container = "JPEG APP11 (JUMBF)"
        elif seg.marker == 0xFE:
            c.comments.append(_decode_text(p))
    if icc_parts:
        c.icc = b"".join(icc_parts[k] for k in sorted(icc_parts))
    for chunks in xmp_ext.values():
        c.xmp.append(b"".join(chunks[k] for k in sorted(chunks)))
    if c.photoshop_irb:
        c.iptc = _iptc_from_irb(c.photoshop_irb)
    return c


# -- PNG --------------------------------------------------------------------------------------


def _read_png(data: bytes) -> Containers:
    c = Containers(kind="png", complete=False)
    pos = len(PNG_SIGNATURE)
    n = len(data)
    text_budget = MAX_TOTAL_TEXT_BYTES
    bad_crc = 0
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body_start = pos + 8
        body_end = body_start + length
        if length > 0x7FFFFFFF or body_end + 4 > n:
            c.warnings.append(f"chunk {ctype!r} at byte {pos} runs past the end of the file")
            break
        body = data[body_start:body_end]
        (crc,) = struct.unpack(">I", data[body_end : body_end + 4])
        if zlib.crc32(ctype + body) != crc:
            bad_crc += 1
        pos = body_end + 4
        if ctype == b"IEND":
            c.complete = True
            c.trailing_bytes = n - pos
            break
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            chunk = _png_text(ctype, body, min(MAX_TEXT_BYTES, text_budget), c.warnings)
            if chunk is not None:
                text_budget -= len(chunk.text)
                if chunk.key == "XML:com.adobe.xmp":
                    c.xmp.insert(0, chunk.text.encode("utf-8"))
                else:
                    c.text_chunks.append(chunk)
        elif ctype == b"eXIf" and c.exif is None:
            c.exif, c.exif_container = body, "PNG eXIf"
        elif ctype == b"iCCP":
            _name, _, rest = body.partition(b"\x00")
            c.icc = _inflate(rest[1:], MAX_TEXT_BYTES, c.warnings, "iCCP")
        elif ctype == b"caBX":
            c.c2pa_container = "PNG caBX chunk"
    if bad_crc:
        c.warnings.append(f"{bad_crc} chunk(s) with a wrong CRC checksum")
    if not c.complete and not c.warnings:
        c.warnings.append("the file ends before the IEND chunk")
    return c


def _png_text(ctype: bytes, body: bytes, limit: int, warnings: list[str]) -> TextChunk | None:
    key_raw, sep, rest = body.partition(b"\x00")
    if not sep or not (1 <= len(key_raw) <= 79):
        warnings.append(f"malformed {ctype.decode()} chunk")
        return None
    key = key_raw.decode("latin-1")
    if ctype == b"tEXt":
        return TextChunk(key, rest[:limit].decode("latin-1"), "tEXt")
    if ctype == b"zTXt":
        raw = _inflate(rest[1:], limit, warnings, "zTXt")
        return None if raw is None else TextChunk(key, raw.decode("latin-1"), "zTXt")
    # iTXt: compression flag, method, language\0, translated keyword\0, text (UTF-8)
    if len(rest) < 2:
        warnings.append("malformed iTXt chunk")
        return None
    compressed = rest[0] == 1
    tail = rest[2:]
    _lang, _, tail = tail.partition(b"\x00")
    _translated, _, text = tail.partition(b"\x00")
    if compressed:
        inflated = _inflate(text, limit, warnings, "iTXt")
        if inflated is None:
            return None
        text = inflated
    return TextChunk(key, text[:limit].decode("utf-8", errors="replace"), "iTXt")


def _inflate(data: bytes, limit: int, warnings: list[str], what: str) -> bytes | None:
    """zlib-decompress at most ``limit`` bytes: a tiny chunk can expand to gigabytes."""
    try:
        d = zlib.decompressobj()
        out = d.decompress(data, limit)
        if d.unconsumed_tail:
            warnings.append(f"{what} data larger than {limit} bytes was cut")
        return out
    except zlib.error:
        warnings.append(f"{what} data could not be decompressed")
        return None


# -- WebP (RIFF) ------------------------------------------------------------------------------


def _read_webp(data: bytes) -> Containers:
    c = Containers(kind="webp")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_size)
    if 8 + riff_size > len(data):
        c.complete = False
        c.warnings.append("the RIFF header claims more bytes than the file has")
    c.trailing_bytes = max(0, len(data) - (8 + riff_size))
    pos = 12
    while pos + 8 <= end:
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if pos + 8 + size > end:
            c.warnings.append(f"chunk {fourcc!r} runs past the end of the file")
            c.complete = False
            break
        if fourcc == b"EXIF" and c.exif is None:
            # some writers keep the JPEG-style "Exif\0\0" prefix
            c.exif = body[len(EXIF_HEADER) :] if body.startswith(EXIF_HEADER) else body
            c.exif_container = "WebP EXIF chunk"
        elif fourcc == b"XMP ":
            c.xmp.insert(0, body)
        elif fourcc == b"ICCP":
            c.icc = body
        elif fourcc == b"C2PA":
            c.c2pa_container = "WebP C2PA chunk"
        pos += 8 + size + (size & 1)
    return c


# -- TIFF -------------------------------------------------------------------------------------

_TIFF_XMP, _TIFF_IPTC, _TIFF_PHOTOSHOP, _TIFF_ICC = 700, 33723, 34377, 34675
_TIFF_C2PA = 0xCD41


def _read_tiff(data: bytes) -> Containers:
    # The file is itself a TIFF structure: EXIF lives in its first IFD chain.
    from pixelsleuth.forensics.formats.exif import read_tiff_tag

    c = Containers(kind="tiff", exif=data, exif_container="TIFF IFD0")
    xmp = read_tiff_tag(data, _TIFF_XMP)
    if xmp:
        c.xmp.append(xmp)
    c.iptc = read_tiff_tag(data, _TIFF_IPTC)
    c.photoshop_irb = read_tiff_tag(data, _TIFF_PHOTOSHOP)
    if c.iptc is None and c.photoshop_irb:
        c.iptc = _iptc_from_irb(c.photoshop_irb)
    c.icc = read_tiff_tag(data, _TIFF_ICC)
    if read_tiff_tag(data, _TIFF_C2PA):
        c.c2pa_container = "TIFF C2PA tag"
    return c


# -- GIF --------------------------------------------------------------------------------------


def _read_gif(data: bytes) -> Containers:
    c = Containers(kind="gif")
    pos = 0
    # Comments and the XMP application extension live in sub-block chains; scanning for the
    # introducer bytes is safe because we then walk the length-prefixed sub-blocks.
    while True:
        pos = data.find(b"\x21", pos)
        if pos < 0 or pos + 2 > len(data):
            break
        label = data[pos + 1]
        if label == 0xFE:
            text, pos = _gif_sub_blocks(data, pos + 2)
            c.comments.append(_decode_text(text))
        elif label == 0xFF and data[pos + 3 : pos + 14] == b"XMP DataXMP":
            text, pos = _gif_sub_blocks(data, pos + 14, raw=True)
            c.xmp.append(text)
        else:
            pos += 1
    c.complete = data.rstrip().endswith(b"\x3b")
    return c


def _gif_sub_blocks(data: bytes, pos: int, raw: bool = False) -> tuple[bytes, int]:
    if raw:
        # XMP in GIF is stored unblocked, followed by a 258-byte "magic trailer"
        end = data.find(b"<?xpacket end", pos)
        end = data.find(b">", end) + 1 if end >= 0 else len(data)
        return data[pos:end], end
    parts = []
    while pos < len(data):
        size = data[pos]
        if size == 0:
            return b"".join(parts), pos + 1
        parts.append(data[pos + 1 : pos + 1 + size])
        pos += 1 + size
    return b"".join(parts), pos


# -- Photoshop image resources ----------------------------------------------------------------


def iter_irb(irb: bytes) -> list[tuple[int, bytes]]:
    """Photoshop image resource blocks: (resource id, data), length-checked."""
    out = []
    pos = 0
    while pos + 12 <= len(irb) and irb[pos : pos + 4] == b"8BIM":
        (rid,) = struct.unpack(">H", irb[pos + 4 : pos + 6])
        name_len = irb[pos + 6]
        name_total = 1 + name_len + ((1 + name_len) & 1)  # Pascal string padded to even
        size_at = pos + 6 + name_total
        if size_at + 4 > len(irb):
            break
        (size,) = struct.unpack(">I", irb[size_at : size_at + 4])
        start = size_at + 4
        if start + size > len(irb):
            break
        out.append((rid, irb[start : start + size]))
        pos = start + size + (size & 1)
    return out


def _iptc_from_irb(irb: bytes) -> bytes | None:
    for rid, body in iter_irb(irb):
        if rid == 0x0404:
            return body
    return None


def _decode_text(raw: bytes) -> str:
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
