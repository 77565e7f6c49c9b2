"""AI-generator metadata: the parameters that image generators write into their outputs.

Recognised: AUTOMATIC1111 and its forks (PNG ``parameters`` chunk, JPEG/WebP EXIF UserComment,
and the "stealth" form hidden in the alpha or RGB low bits), ComfyUI (``prompt`` graph and
``workflow``), InvokeAI (``Dream``, ``sd-metadata``, ``invokeai_metadata``), NovelAI
(``Software`` + ``Comment``) and Fooocus. Each marker is trusted only in its proper container:
a PNG text chunk, the EXIF UserComment tag, or the documented pixel-bit layout — never a string
found elsewhere in the bytes.

Parsing is separate from reading: the formats' parsers live in
:mod:`pixelsleuth.forensics.generators` (one module each) and take the text that was read; this
module finds the containers and reports.
"""

from __future__ import annotations

import json

import numpy as np

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.exif import USER_COMMENT, decode_user_comment
from pixelsleuth.forensics.formats.parsed import ParsedMetadata, parsed_metadata
from pixelsleuth.forensics.generators import (
    GeneratorInfo,
    parse_a1111,
    parse_comfyui,
    parse_fooocus,
    parse_invokeai,
    parse_novelai,
    read_stealth,
)
from pixelsleuth.forensics.generators.record import load_json
from pixelsleuth.imageio import ImageInputError, LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding


def find_generator_info(image: LoadedImage, meta: ParsedMetadata) -> list[GeneratorInfo]:
    """Every generator record found in its proper container, most specific first."""
    found: list[GeneratorInfo] = []
    text = meta.text
    for parser in (parse_invokeai, parse_novelai, parse_fooocus):
        info = parser(text)
        if info:
            found.append(info)
    if "prompt" in text or "workflow" in text:
        info = parse_comfyui(text.get("prompt"), text.get("workflow"))
        if info:
            found.append(info)
    if "parameters" in text and not any(i.tool == "Fooocus" for i in found):
        info = parse_a1111(text["parameters"], 'PNG text "parameters"')
        if info:
            found.append(info)
    if meta.exif is not None:
        raw = meta.exif.get("Exif", USER_COMMENT)
        if isinstance(raw, bytes):
            comment = decode_user_comment(raw, meta.exif.byte_order)
            if comment:
                where = f"EXIF UserComment ({meta.containers.exif_container})"
                info = parse_a1111(comment, where) or _json_generator(comment, where)
                if info:
                    found.append(info)
    if not found and meta.containers.kind == "png" and image.info.mode in ("RGBA", "RGB", "LA"):
        try:
            stealth = read_stealth(np.asarray(image.decoded()))
        except ImageInputError:
            stealth = None
        if stealth:
            mode, payload = stealth
            container = f"stealth pnginfo ({mode} channel low bits)"
            info = parse_a1111(payload, container) or GeneratorInfo(
                tool="AUTOMATIC1111", container=container, extra={"text": payload[:2000]}
            )
            found.append(info)
    return found


def _json_generator(text: str, container: str) -> GeneratorInfo | None:
    """Some tools (InvokeAI, ComfyUI savers) put their JSON into UserComment."""
    data = load_json(text)
    if isinstance(data, dict) and ("positive_prompt" in data or "invokeai_metadata" in data):
        return parse_invokeai({"invokeai_metadata": json.dumps(data)})
    return None


@register
class GeneratorMetadataAnalyzer(Analyzer):
    name = "generator-metadata"
    title = "AI generator metadata"
    explains = (
        "Image generators record their settings (model, prompt, seed) in the file; finding them "
        "is strong evidence of generation, but the record can be stripped or forged, so its "
        "absence proves nothing."
    )
    needs_pixels = False
    order = 20

    def analyze(self, image: LoadedImage) -> Finding:
        meta = parsed_metadata(image)
        records = find_generator_info(image, meta)
        if not records:
            return Finding(
                analyzer=self.name,
                summary="No AI-generator settings are recorded in this file (they are easy to "
                "strip, so this proves nothing either way).",
                score=None,
            )
        main = records[0]
        model = f" with model {main.model}" if main.model else ""
        evidence = [
            Evidence(
                code="generator_record",
                message=f"The file carries {r.tool} generation settings in its {r.container}"
                + (f" (model {r.model})" if r.model else "")
                + ".",
                direction=Direction.AI,
                strength=0.95,
            )
            for r in records
        ]
        return Finding(
            analyzer=self.name,
            summary=f"The file says it was made by {main.tool}{model}: its {main.container} "
            "holds the generator's settings.",
            score=0.97,
            evidence=evidence,
            details={"generator": main, "all_records": records[1:]},
        )
