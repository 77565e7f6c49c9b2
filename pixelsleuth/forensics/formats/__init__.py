"""Readers and parsers for the metadata containers of image files.

Reading (``containers``) finds the raw blocks in their proper places; parsing (``exif``,
``xmp``, ``iptc``, ``icc``) turns each block into plain data. Analyzers use both. Shared by
several analyzers too: ``fields`` (the headline metadata fields), ``jpeg_quality`` (JPEG
tables and quality) and ``jpeg_dct`` (the block DCT and the double-compression score).
"""
