"""pixelsleuth: is this image a camera original, an edited photograph, or AI-generated?

>>> from pixelsleuth import analyze_file
>>> report = analyze_file("photo.jpg")          # doctest: +SKIP
>>> print(report.to_json(indent=2))             # doctest: +SKIP
"""

__version__ = "0.1.0"

from pixelsleuth.analyze import analyze_bytes, analyze_file
from pixelsleuth.report import Evidence, Finding, Report, Verdict

__all__ = [
    "Evidence",
    "Finding",
    "Report",
    "Verdict",
    "__version__",
    "analyze_bytes",
    "analyze_file",
]
