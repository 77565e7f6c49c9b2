"""Parsing: IPTC-IIM records (as stored in Photoshop resource 0x0404 or TIFF tag 33723)."""

from __future__ import annotations

import struct

# (record, dataset) -> name; the datasets a reader of a news photo cares about
DATASETS = {
    (1, 90): "CodedCharacterSet",
    (2, 0): "ApplicationRecordVersion",
    (2, 10): "Urgency",
    (2, 20): "SupplementalCategories",
    (2, 100): "Country-PrimaryLocationCode",
    (2, 5): "ObjectName",
    (2, 15): "Category",
    (2, 25): "Keywords",
    (2, 40): "SpecialInstructions",
    (2, 55): "DateCreated",
    (2, 60): "TimeCreated",
    (2, 62): "DigitalCreationDate",
    (2, 63): "DigitalCreationTime",
    (2, 65): "OriginatingProgram",
    (2, 70): "ProgramVersion",
    (2, 80): "By-line",
    (2, 85): "By-lineTitle",
    (2, 90): "City",
    (2, 92): "Sub-location",
    (2, 95): "Province-State",
    (2, 101): "Country-PrimaryLocationName",
    (2, 103): "OriginalTransmissionReference",
    (2, 105): "Headline",
    (2, 110): "Credit",
    (2, 115): "Source",
    (2, 116): "CopyrightNotice",
    (2, 120): "Caption-Abstract",
    (2, 122): "Writer-Editor",
}
REPEATABLE = {"Keywords", "By-line", "SupplementalCategories"}
MAX_RECORDS = 5000


def parse_iptc(data: bytes) -> tuple[dict[str, object], list[str]]:
    """Decode an IIM stream into {name: value}; repeatable datasets become lists."""
    out: dict[str, object] = {}
    warnings: list[str] = []
    utf8 = b"\x1b%G" in data[:64]  # CodedCharacterSet ESC % G announces UTF-8
    pos = 0
    count = 0
    while pos + 5 <= len(data) and count < MAX_RECORDS:
        if data[pos] != 0x1C:
            break
        record, dataset = data[pos + 1], data[pos + 2]
        (length,) = struct.unpack(">H", data[pos + 3 : pos + 5])
        pos += 5
        if length & 0x8000:  # extended dataset: the length's length follows
            n = length & 0x7FFF
            if n > 4 or pos + n > len(data):
                warnings.append("malformed extended IPTC dataset")
                break
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        if pos + length > len(data):
            warnings.append(f"IPTC dataset {record}:{dataset} runs past its block")
            break
        raw = data[pos : pos + length]
        pos += length
        count += 1
        name = DATASETS.get((record, dataset), f"{record}:{dataset}")
        if record != 2 and (record, dataset) not in DATASETS:
            continue
        value: object = _text(raw, utf8)
        if (record, dataset) == (2, 0) and len(raw) == 2:  # a binary number, not text
            value = int.from_bytes(raw, "big")
        if name in REPEATABLE:
            out.setdefault(name, [])
            out[name].append(value)  # type: ignore[union-attr]
        else:
            out.setdefault(name, value)
    return out, warnings


def _text(raw: bytes, utf8: bool) -> str:
    if utf8:
        return raw.decode("utf-8", errors="replace").strip("\x00 ")
    try:
        return raw.decode("utf-8").strip("\x00 ")
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip("\x00 ")
