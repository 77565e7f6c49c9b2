"""Readers and parsers for the metadata containers of image files.

Reading (``containers``) finds the raw blocks in their proper places; parsing (``exif``,
``xmp``, ``iptc``, ``icc``) turns each block into plain data. Analyzers use both.
"""
