"""Parsing: the facts of an ICC colour profile that say where an image has been."""

from __future__ import annotations

import struct
from typing import Any


def parse_icc(data: bytes) -> dict[str, Any]:
    """Header facts and the description/copyright text of an ICC profile; never raises."""
    if len(data) < 132 or data[36:40] != b"acsp":
        return {"valid": False, "bytes": len(data)}
    info: dict[str, Any] = {
        "valid": True,
        "bytes": len(data),
        "cmm": _sig(data[4:8]),
        "version": f"{data[8]}.{data[9] >> 4}.{data[9] & 0xF}",
        "device_class": _sig(data[12:16]),
        "color_space": _sig(data[16:20]),
        "creator": _sig(data[80:84]),
        "manufacturer": _sig(data[48:52]),
        "model": _sig(data[52:56]),
    }
    (count,) = struct.unpack(">I", data[128:132])
    for i in range(min(count, 200)):
        pos = 132 + 12 * i
        if pos + 12 > len(data):
            break
        sig, offset, size = struct.unpack(">4sII", data[pos : pos + 12])
        if sig in (b"desc", b"cprt") and offset + size <= len(data):
            text = _text_tag(data[offset : offset + size])
            if text:
                info["description" if sig == b"desc" else "copyright"] = text
    return info


def _sig(raw: bytes) -> str:
    return raw.decode("latin-1").strip("\x00 ") if any(raw) else ""


def _text_tag(tag: bytes) -> str | None:
    kind = tag[:4]
    if kind == b"desc" and len(tag) >= 12:  # v2: ASCII count + text
        (n,) = struct.unpack(">I", tag[8:12])
        return tag[12 : 12 + n].split(b"\x00", 1)[0].decode("latin-1").strip() or None
    if kind == b"text":
        return tag[8:].split(b"\x00", 1)[0].decode("latin-1").strip() or None
    if kind == b"mluc" and len(tag) >= 16:  # v4: records of UTF-16BE strings
        (n, rec_size) = struct.unpack(">II", tag[8:16])
        if n >= 1 and 16 + rec_size <= len(tag):
            _lang, length, offset = struct.unpack(">4sII", tag[16:28])
            if offset + length <= len(tag):
                return (
                    tag[offset : offset + length]
                    .decode("utf-16-be", errors="replace")
                    .strip("\x00 ")
                )
    return None
