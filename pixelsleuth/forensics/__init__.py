"""Pure forensic analysis: one module per analyzer, each registered on import.

- ``metadata``: EXIF/XMP/IPTC/ICC/GPS/thumbnail facts and what they imply
- ``generator_metadata``: settings written by AI image generators
- ``provenance``: C2PA Content Credentials and IPTC DigitalSourceType
- ``integrity``: truncation, trailing data, structural damage

``formats/`` holds the readers and parsers they share.
"""

from pixelsleuth.forensics import generator_metadata, integrity, jpeg, metadata, provenance

__all__ = ["generator_metadata", "integrity", "jpeg", "metadata", "provenance"]
