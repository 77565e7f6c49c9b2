"""AUTOMATIC1111 and its forks: the ``parameters`` text (PNG chunk, EXIF UserComment)."""

from __future__ import annotations

import json
import re

from pixelsleuth.forensics.generators.record import (
    GeneratorInfo,
    as_float,
    as_int,
)

_A1111_PARAM = re.compile(r'\s*([\w .\-/()]+?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_a1111(text: str, container: str) -> GeneratorInfo | None:
    """The A1111 'infotext': prompt, optional 'Negative prompt:' line, then 'Steps: …' line."""
    lines = text.strip().split("\n")
    if not lines or "Steps:" not in lines[-1]:
        return None
    params_line = lines[-1]
    body = lines[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in body:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line[len("Negative prompt:") :].strip()
        target.append(line)
    params: dict[str, str] = {}
    for key, value in _A1111_PARAM.findall(params_line):
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = value[1:-1]
        params[key.strip()] = value
    if "Steps" not in params:
        return None
    version = params.get("Version")
    tool = "AUTOMATIC1111"
    if version and version.startswith("f") and version[1:2].isdigit():
        tool = "Stable Diffusion WebUI Forge"
    elif version and "fooocus" in version.lower():
        tool = "Fooocus"
    width = height = None
    size = params.get("Size", "")
    if re.fullmatch(r"\d+x\d+", size):
        width, height = (int(v) for v in size.split("x"))
    known = {"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model", "Model hash", "Version"}
    return GeneratorInfo(
        tool=tool,
        container=container,
        model=params.get("Model") or params.get("Model hash"),
        prompt="\n".join(prompt_lines).strip() or None,
        negative_prompt="\n".join(negative_lines).strip() or None,
        seed=as_int(params.get("Seed")),
        sampler=params.get("Sampler"),
        scheduler=params.get("Schedule type"),
        steps=as_int(params.get("Steps")),
        cfg=as_float(params.get("CFG scale")),
        width=width,
        height=height,
        version=version,
        extra={k: v for k, v in params.items() if k not in known},
    )
