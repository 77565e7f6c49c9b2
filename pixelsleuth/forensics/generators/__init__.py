"""Generator metadata formats, one module each; parsing is separate from reading.

Each ``parse_*`` function takes text already read from its proper container (a PNG text chunk,
the EXIF UserComment) and returns a :class:`GeneratorInfo` or None; ``read_stealth`` reads the
documented pixel-bit layout. Which container is read for which format is the analyzer's part
(:mod:`pixelsleuth.forensics.generator_metadata`).
"""

from pixelsleuth.forensics.generators.a1111 import parse_a1111
from pixelsleuth.forensics.generators.comfyui import parse_comfyui
from pixelsleuth.forensics.generators.fooocus import parse_fooocus
from pixelsleuth.forensics.generators.invokeai import parse_invokeai
from pixelsleuth.forensics.generators.novelai import parse_novelai
from pixelsleuth.forensics.generators.record import GeneratorInfo
from pixelsleuth.forensics.generators.stealth import read_stealth

__all__ = [
    "GeneratorInfo",
    "parse_a1111",
    "parse_comfyui",
    "parse_fooocus",
    "parse_invokeai",
    "parse_novelai",
    "read_stealth",
]
