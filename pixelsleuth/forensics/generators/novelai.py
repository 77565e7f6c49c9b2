"""NovelAI: PNG ``Software`` + ``Comment`` (JSON) chunks."""

from __future__ import annotations

from pixelsleuth.forensics.generators.record import (
    GeneratorInfo,
    as_float,
    as_int,
    as_str,
    load_json,
)


def parse_novelai(text: dict[str, str]) -> GeneratorInfo | None:
    if text.get("Software", "").strip() != "NovelAI":
        return None
    comment = load_json(text.get("Comment"))
    comment = comment if isinstance(comment, dict) else {}
    return GeneratorInfo(
        tool="NovelAI",
        container='PNG tEXt "Software" + "Comment"',
        model=text.get("Source"),
        prompt=text.get("Description") or as_str(comment.get("prompt")),
        negative_prompt=as_str(comment.get("uc")),
        seed=as_int(comment.get("seed")),
        sampler=as_str(comment.get("sampler")),
        steps=as_int(comment.get("steps")),
        cfg=as_float(comment.get("scale")),
        extra={"strength": comment.get("strength"), "noise": comment.get("noise")},
    )
