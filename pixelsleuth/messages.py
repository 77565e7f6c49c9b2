"""Messages for people: what the library says, without Python's exception class names.

Reports keep their messages as they were recorded; every front end (the command line, the
app) passes what it shows through :func:`in_words`, so that "not a recognised image
(UnidentifiedImageError: cannot identify image file …)" reads "not a recognised image".
"""

from __future__ import annotations

import re

_CLASS_NAME = re.compile(r"\b_?[A-Z][A-Za-z0-9]*(?:Error|Exception|Warning)\b:?\s*")
_PILLOW_NOISE = re.compile(r"\s*\(cannot identify image file[^)]*\)")


def in_words(message: object) -> str:
    """``message`` without exception class names ("OSError: …" → "…"), without Pillow's
    "cannot identify image file" (which repeats what the sentence says) and empty brackets."""
    text = _CLASS_NAME.sub("", str(message))
    text = _PILLOW_NOISE.sub("", text)
    return re.sub(r"\s*\(\s*\)", "", text).strip()
