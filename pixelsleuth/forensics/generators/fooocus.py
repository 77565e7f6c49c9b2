"""Fooocus: its JSON ``parameters`` chunk and ``fooocus_scheme``."""

from __future__ import annotations

import re

from pixelsleuth.forensics.generators.record import (
    GeneratorInfo,
    as_float,
    as_int,
    as_str,
    load_json,
)


def parse_fooocus(text: dict[str, str]) -> GeneratorInfo | None:
    params = load_json(text.get("parameters"))
    is_fooocus = text.get("fooocus_scheme") == "fooocus" or (
        isinstance(params, dict) and str(params.get("version", "")).startswith("Fooocus")
    )
    if not is_fooocus or not isinstance(params, dict):
        return None
    width = height = None
    resolution = re.findall(r"\d+", str(params.get("resolution", "")))
    if len(resolution) == 2:
        width, height = int(resolution[0]), int(resolution[1])
    return GeneratorInfo(
        tool="Fooocus",
        container='PNG tEXt "parameters" (Fooocus scheme)',
        model=as_str(params.get("base_model")),
        prompt=as_str(params.get("prompt")),
        negative_prompt=as_str(params.get("negative_prompt")) or None,
        seed=as_int(params.get("seed")),
        sampler=as_str(params.get("sampler")),
        scheduler=as_str(params.get("scheduler")),
        steps=as_int(params.get("steps")),
        cfg=as_float(params.get("guidance_scale")),
        width=width,
        height=height,
        version=as_str(params.get("version")),
        loras=[str(x) for x in params.get("loras", []) if x]
        if isinstance(params.get("loras"), list)
        else [],
        extra={"styles": params.get("styles"), "performance": params.get("performance")},
    )
