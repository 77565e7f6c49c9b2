"""InvokeAI: ``invokeai_metadata``, ``sd-metadata`` and the older ``Dream`` line."""

from __future__ import annotations

import itertools
import re
import shlex

from pixelsleuth.forensics.generators.record import (
    GeneratorInfo,
    as_float,
    as_int,
    as_str,
    load_json,
)


def parse_invokeai(text: dict[str, str]) -> GeneratorInfo | None:
    if "invokeai_metadata" in text:
        meta = load_json(text["invokeai_metadata"])
        if isinstance(meta, dict):
            model = meta.get("model")
            if isinstance(model, dict):
                model = model.get("model_name") or model.get("name")
            return GeneratorInfo(
                tool="InvokeAI",
                container='PNG tEXt "invokeai_metadata"',
                model=as_str(model),
                prompt=as_str(meta.get("positive_prompt")),
                negative_prompt=as_str(meta.get("negative_prompt")),
                seed=as_int(meta.get("seed")),
                sampler=as_str(meta.get("scheduler")),
                steps=as_int(meta.get("steps")),
                cfg=as_float(meta.get("cfg_scale")),
                width=as_int(meta.get("width")),
                height=as_int(meta.get("height")),
                version=as_str(meta.get("app_version")),
                extra={"generation_mode": meta.get("generation_mode")},
            )
    if "sd-metadata" in text:
        meta = load_json(text["sd-metadata"])
        if isinstance(meta, dict):
            image = meta.get("image") if isinstance(meta.get("image"), dict) else {}
            prompt = image.get("prompt")
            if isinstance(prompt, list):
                prompt = " ".join(str(p.get("prompt", "")) for p in prompt if isinstance(p, dict))
            prompt, negative = _invoke_split_negative(as_str(prompt))
            return GeneratorInfo(
                tool="InvokeAI",
                container='PNG tEXt "sd-metadata"',
                model=as_str(
                    meta.get("model_weights") or meta.get("model_id") or meta.get("model")
                ),
                prompt=prompt,
                negative_prompt=negative,
                seed=as_int(image.get("seed")),
                sampler=as_str(image.get("sampler")),
                steps=as_int(image.get("steps")),
                cfg=as_float(image.get("cfg_scale")),
                width=as_int(image.get("width")),
                height=as_int(image.get("height")),
                version=as_str(meta.get("app_version")),
            )
    if "Dream" in text:
        return _parse_dream(text["Dream"])
    return None


def _parse_dream(dream: str) -> GeneratorInfo | None:
    """InvokeAI 1.x/2.x 'Dream' command line.

    Form: "prompt" -s steps -S seed -W width -H height -C cfg -A sampler.
    """
    try:
        parts = shlex.split(dream)
    except ValueError:
        return None
    if not parts:
        return None
    flags: dict[str, str] = {}
    for flag, value in itertools.pairwise(parts[1:]):
        if flag.startswith("-") and not value.startswith("-"):
            flags.setdefault(flag, value)
    prompt, negative = _invoke_split_negative(parts[0])
    return GeneratorInfo(
        tool="InvokeAI",
        container='PNG tEXt "Dream"',
        model=flags.get("-m"),
        prompt=prompt,
        negative_prompt=negative,
        seed=as_int(flags.get("-S")),
        sampler=flags.get("-A"),
        steps=as_int(flags.get("-s")),
        cfg=as_float(flags.get("-C")),
        width=as_int(flags.get("-W")),
        height=as_int(flags.get("-H")),
    )


def _invoke_split_negative(prompt: str | None) -> tuple[str | None, str | None]:
    """InvokeAI 2.x writes the negative prompt in square brackets inside the prompt."""
    if not prompt:
        return prompt, None
    negatives = re.findall(r"\[([^\[\]]*)\]", prompt)
    if not negatives:
        return prompt, None
    positive = re.sub(r"\s*\[[^\[\]]*\]", "", prompt).strip()
    return positive, ", ".join(n.strip() for n in negatives)
