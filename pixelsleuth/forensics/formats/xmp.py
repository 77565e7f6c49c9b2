"""Parsing: XMP packets into a flat ``{"prefix:Name": value}`` mapping.

Packets are parsed with defusedxml (no entity expansion, no external references). Arrays
(rdf:Seq/Bag/Alt) become lists, structures become nested dicts.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MAX_XMP_BYTES = 4 * 1024 * 1024

PREFIXES = {
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": "stRef",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://ns.adobe.com/xmp/note/": "xmpNote",
    "http://ns.google.com/photos/1.0/camera/": "GCamera",
    "http://ns.google.com/photos/1.0/image/": "GImage",
    "http://ns.adobe.com/pdf/1.3/": "pdf",
    "http://ns.adobe.com/lightroom/1.0/": "lr",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://ns.microsoft.com/photo/1.0/": "MicrosoftPhoto",
    "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "http://c2pa.org/": "c2pa",
}


_WIDE_ENCODINGS = (  # (how the packet starts, its encoding): the XMP spec allows all of these
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)


def as_utf8(packet: bytes) -> bytes:
    """An XMP packet in UTF-8. XMP may be stored in UTF-16 or UTF-32 (either byte order, with
    or without a byte-order mark); those are valid and are re-encoded, not called malformed."""
    head = packet[:4]
    for prefix, encoding in _WIDE_ENCODINGS:
        if head.startswith(prefix):
            text = packet.decode(encoding, errors="replace").lstrip("\ufeff")
            return text.encode("utf-8")
    return packet


def parse_xmp(packet: bytes) -> tuple[dict[str, Any], str | None]:
    """Flatten one XMP packet. Returns (properties, error message or None)."""
    if len(packet) > MAX_XMP_BYTES:
        return {}, f"XMP packet of {len(packet)} bytes is over the limit"
    packet = as_utf8(packet)
    start = packet.find(b"<x:xmpmeta")
    if start < 0:
        start = packet.find(b"<rdf:RDF")
    if start < 0:
        return {}, "XMP packet without an xmpmeta or rdf:RDF element"
    end_tag = b"</x:xmpmeta>" if packet[start:].startswith(b"<x:xmpmeta") else b"</rdf:RDF>"
    end = packet.rfind(end_tag)
    body = packet[start : end + len(end_tag)] if end > start else packet[start:]
    try:
        root = SafeET.fromstring(body)
    except Exception as exc:  # ParseError, or defusedxml refusing entities
        # in words: a reader gains nothing from the parser's class name
        reason = (
            "it declares entities or external references, which are refused"
            if "Forbidden" in type(exc).__name__
            else "it is not well-formed XML"
        )
        return {}, f"XMP could not be parsed ({reason})"
    props: dict[str, Any] = {}
    for desc in root.iter(f"{{{RDF}}}Description"):
        _merge(props, _description(desc))
    return props, None


def _name(tag: str) -> str:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        prefix = PREFIXES.get(uri) or uri.rstrip("/#").rsplit("/", 1)[-1] or "ns"
        return f"{prefix}:{local}"
    return tag


def _description(desc: Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in desc.attrib.items():
        if not key.startswith(f"{{{RDF}}}"):
            out[_name(key)] = value
    for child in desc:
        out[_name(child.tag)] = _value(child)
    return out


def _value(el: Element, depth: int = 0) -> Any:
    if depth > 16:
        return None
    resource = el.get(f"{{{RDF}}}resource")
    if resource is not None:
        return resource
    children = list(el)
    if not children:
        attrs = {_name(k): v for k, v in el.attrib.items() if not k.startswith(f"{{{RDF}}}")}
        if attrs and not (el.text or "").strip():
            return attrs
        return (el.text or "").strip()
    first = children[0]
    if first.tag in (f"{{{RDF}}}Seq", f"{{{RDF}}}Bag", f"{{{RDF}}}Alt"):
        items = [_value(li, depth + 1) for li in first if li.tag == f"{{{RDF}}}li"]
        if first.tag == f"{{{RDF}}}Alt":
            return items[0] if items else ""
        return items
    if first.tag == f"{{{RDF}}}Description":
        return _description(first)
    if el.get(f"{{{RDF}}}parseType") == "Resource" or el.tag == f"{{{RDF}}}li":
        return {_name(c.tag): _value(c, depth + 1) for c in children}
    return {_name(c.tag): _value(c, depth + 1) for c in children}


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        into.setdefault(key, value)
