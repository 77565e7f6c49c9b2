"""Pure forensic analysis: one module per analyzer.

Each analyzer module registers itself when imported; :data:`pixelsleuth.analyzers.BUILTIN`
names the module of each, and imports it on first use.

- ``metadata``: EXIF/XMP/IPTC/ICC/GPS facts and what they imply (never decodes pixels)
- ``thumbnail``: whether the EXIF preview still shows the image
- ``generator_metadata``: settings written by AI image generators
- ``provenance``: C2PA Content Credentials and IPTC DigitalSourceType
- ``jpeg``: JPEG tables, quality, encoder signatures, double compression
- ``ela``: error level analysis
- ``ghost``: JPEG ghosts of an earlier, lower-quality save
- ``noise``: noise residual and noise-level consistency
- ``copymove``: regions copied within the image
- ``spectrum``: periodic traces in the noise spectrum
- ``integrity``: truncation, trailing data, structural damage

``formats/`` holds the readers, parsers and JPEG maths they share (``jpeg_quality``,
``jpeg_dct``, the headline ``fields``); ``generators/`` one parser module per AI-generator
metadata format (a1111, comfyui, invokeai, novelai, fooocus, stealth); ``maps`` the array maths
behind their heatmaps. None of these imports an analyzer.
An analyzer module imports no other analyzer module (an import-linter contract).
"""
