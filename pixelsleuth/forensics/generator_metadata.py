"""AI-generator metadata: the parameters that image generators write into their outputs.

Recognised: AUTOMATIC1111 and its forks (PNG ``parameters`` chunk, JPEG/WebP EXIF UserComment,
and the "stealth" form hidden in the alpha or RGB low bits), ComfyUI (``prompt`` graph and
``workflow``), InvokeAI (``Dream``, ``sd-metadata``, ``invokeai_metadata``), NovelAI
(``Software`` + ``Comment``) and Fooocus. Each marker is trusted only in its proper container:
a PNG text chunk, the EXIF UserComment tag, or the documented pixel-bit layout — never a string
found elsewhere in the bytes.

Parsing is separate from reading: the ``parse_*`` functions take the text that was read and
return a :class:`GeneratorInfo`.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.exif import USER_COMMENT, decode_user_comment
from pixelsleuth.forensics.formats.parsed import ParsedMetadata, parsed_metadata
from pixelsleuth.imageio import ImageInputError, LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding

MAX_JSON_BYTES = 8 * 1024 * 1024


@dataclass
class GeneratorInfo:
    """What a generator recorded about how it made an image. Fields are None when absent."""

    tool: str
    container: str  # where it was found, e.g. 'PNG tEXt "parameters"'
    model: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    sampler: str | None = None
    scheduler: str | None = None
    steps: int | None = None
    cfg: float | None = None
    width: int | None = None
    height: int | None = None
    version: str | None = None
    loras: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# -- AUTOMATIC1111 ----------------------------------------------------------------------------

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
        seed=_int(params.get("Seed")),
        sampler=params.get("Sampler"),
        scheduler=params.get("Schedule type"),
        steps=_int(params.get("Steps")),
        cfg=_float(params.get("CFG scale")),
        width=width,
        height=height,
        version=version,
        extra={k: v for k, v in params.items() if k not in known},
    )


# -- ComfyUI ----------------------------------------------------------------------------------

_OUTPUT_NODES = ("SaveImage", "PreviewImage", "SaveAnimatedWEBP", "SaveAnimatedPNG", "Image Save")
_PARAM_FIELDS = {
    "seed": ("seed", "noise_seed"),
    "steps": ("steps",),
    "cfg": ("cfg",),
    "sampler": ("sampler_name",),
    "scheduler": ("scheduler",),
}
_MODEL_FIELDS = ("ckpt_name", "unet_name", "model_name", "model_path")
_TEXT_FIELDS = ("text", "text_g", "text_l", "t5xxl", "clip_l", "prompt", "string", "value")
# Inputs that lead to earlier passes or pixels, not to this sampler's own settings
_NOT_SETTINGS = {"latent_image", "samples", "image", "pixels", "positive", "negative", "model"}


def parse_comfyui(prompt_json: str | None, workflow_json: str | None) -> GeneratorInfo | None:
    """Walk ComfyUI's API graph from the output node back to its sampler, prompts and model."""
    graph = _json(prompt_json)
    if isinstance(graph, dict) and graph and all(isinstance(v, dict) for v in graph.values()):
        nodes = {str(k): v for k, v in graph.items() if "class_type" in v}
        if nodes:
            return _comfy_from_graph(nodes)
    workflow = _json(workflow_json)
    if isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list):
        return _comfy_from_workflow(workflow)
    return None


def _comfy_from_graph(nodes: dict[str, dict[str, Any]]) -> GeneratorInfo:
    info = GeneratorInfo(tool="ComfyUI", container='PNG tEXt "prompt"')
    sampler_id = _final_sampler(nodes)
    if sampler_id is not None:
        settings = _upstream_values(nodes, sampler_id, _PARAM_FIELDS, skip=_NOT_SETTINGS)
        info.seed = _int(settings.get("seed"))
        noise_source = _noise_sampler(nodes, sampler_id)
        if noise_source != sampler_id:  # a continuation pass: the seed is its parent's
            info.seed = _int(
                _upstream_values(nodes, noise_source, _PARAM_FIELDS, _NOT_SETTINGS).get("seed")
            )
        info.steps = _int(settings.get("steps"))
        info.cfg = _float(settings.get("cfg"))
        info.sampler = _str(settings.get("sampler"))
        info.scheduler = _str(settings.get("scheduler"))
        inputs = _inputs(nodes[sampler_id])
        guider = inputs.get("guider")
        if _is_link(guider):  # SamplerCustomAdvanced keeps prompts and model on its guider
            inputs = {**_inputs(nodes.get(str(guider[0]), {})), **inputs}
        pos = inputs.get("positive", inputs.get("conditioning"))
        info.prompt = _texts_upstream(nodes, pos)
        info.negative_prompt = _texts_upstream(nodes, inputs.get("negative"))
        model_src = inputs.get("model")
        info.model, info.loras = _model_upstream(nodes, model_src)
        info.extra["sampler_node"] = nodes[sampler_id].get("class_type")
    if info.model is None:  # no sampler found, or an unusual loader: any checkpoint named
        for node in nodes.values():
            for f in _MODEL_FIELDS:
                if isinstance(_inputs(node).get(f), str):
                    info.model = _inputs(node)[f]
                    break
            if info.model:
                break
    if info.prompt is None:
        texts = [
            _inputs(n)["text"]
            for n in nodes.values()
            if "CLIPTextEncode" in str(n.get("class_type"))
            and isinstance(_inputs(n).get("text"), str)
        ]
        info.prompt = texts[0] if texts else None
    info.extra["node_count"] = len(nodes)
    return info


def _final_sampler(nodes: dict[str, dict[str, Any]]) -> str | None:
    """The sampler nearest upstream of an output node (the last pass of a multi-pass graph)."""
    outputs = [k for k, n in nodes.items() if str(n.get("class_type")) in _OUTPUT_NODES]
    starts = outputs or list(nodes)
    seen: set[str] = set()
    queue = deque(starts)
    while queue:
        node_id = queue.popleft()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        if _is_sampler(nodes[node_id]):
            return node_id
        for value in _inputs(nodes[node_id]).values():
            if _is_link(value):
                queue.append(str(value[0]))
    samplers = [k for k, n in nodes.items() if _is_sampler(n)]
    return samplers[-1] if samplers else None


def _noise_sampler(nodes: dict[str, dict[str, Any]], sampler_id: str) -> str:
    """The sampler whose seed made the noise: a pass with add_noise disabled continues the
    latent of an earlier pass, so follow its latent input back to one that adds noise."""
    current = sampler_id
    seen: set[str] = set()
    while _inputs(nodes[current]).get("add_noise") == "disable" and current not in seen:
        seen.add(current)
        queue = deque([_inputs(nodes[current]).get("latent_image")])
        upstream = None
        while queue and upstream is None and len(seen) < 500:
            link = queue.popleft()
            if not _is_link(link) or str(link[0]) not in nodes or str(link[0]) in seen:
                continue
            node_id = str(link[0])
            seen.add(node_id)
            if _is_sampler(nodes[node_id]):
                upstream = node_id
            else:
                queue.extend(v for v in _inputs(nodes[node_id]).values() if _is_link(v))
        if upstream is None:
            break
        current = upstream
    return current


def _is_sampler(node: dict[str, Any]) -> bool:
    ctype = str(node.get("class_type", ""))
    inputs = _inputs(node)
    return "Sampler" in ctype and ("latent_image" in inputs or "noise" in inputs)


def _upstream_values(
    nodes: dict[str, dict[str, Any]],
    start: str,
    fields: dict[str, tuple[str, ...]],
    skip: set[str],
) -> dict[str, Any]:
    """For each wanted setting, the nearest literal value upstream of ``start``."""
    found: dict[str, Any] = {}
    seen: set[str] = set()
    queue = deque([start])
    while queue and len(found) < len(fields):
        node_id = queue.popleft()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        inputs = _inputs(nodes[node_id])
        for key, names in fields.items():
            if key in found:
                continue
            for name in names:
                value = inputs.get(name)
                if value is not None and not _is_link(value):
                    found[key] = value
                    break
                if _is_link(value):  # a setting driven by another node (a primitive, say)
                    literal = _literal(nodes, value)
                    if literal is not None:
                        found[key] = literal
                        break
        for name, value in inputs.items():
            if _is_link(value) and name not in skip:
                queue.append(str(value[0]))
    return found


def _literal(nodes: dict[str, dict[str, Any]], link: list[Any]) -> Any:
    node = nodes.get(str(link[0]), {})
    for name in ("seed", "noise_seed", "value", "int", "float", "number", "string", "text"):
        value = _inputs(node).get(name)
        if value is not None and not _is_link(value):
            return value
    return None


def _texts_upstream(nodes: dict[str, dict[str, Any]], link: Any) -> str | None:
    """Prompt text of the encoders feeding a conditioning input (several are joined)."""
    if not _is_link(link):
        return None
    texts: list[str] = []
    seen: set[str] = set()
    queue = deque([str(link[0])])
    while queue and len(seen) < 500:
        node_id = queue.popleft()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        node = nodes[node_id]
        inputs = _inputs(node)
        is_encoder = "TextEncode" in str(node.get("class_type", "")) or "clip" in inputs
        text_found = False
        if is_encoder:
            for name in _TEXT_FIELDS:
                value = inputs.get(name)
                if _is_link(value):
                    value = _literal(nodes, value)
                if isinstance(value, str) and value.strip():
                    if value.strip() not in texts:
                        texts.append(value.strip())
                    text_found = True
                    if name in ("text", "prompt"):
                        break
        if text_found:
            continue
        for name, value in inputs.items():
            if _is_link(value) and name not in ("clip", "model", "vae", "image", "pixels"):
                queue.append(str(value[0]))
    return "\n".join(texts) or None


def _model_upstream(nodes: dict[str, dict[str, Any]], link: Any) -> tuple[str | None, list[str]]:
    loras: list[str] = []
    seen: set[str] = set()
    while _is_link(link) and str(link[0]) not in seen:
        node_id = str(link[0])
        seen.add(node_id)
        inputs = _inputs(nodes.get(node_id, {}))
        if isinstance(inputs.get("lora_name"), str):
            loras.append(inputs["lora_name"])
        for name in _MODEL_FIELDS:
            if isinstance(inputs.get(name), str):
                return inputs[name], loras
        link = inputs.get("model")
    return None, loras


def _comfy_from_workflow(workflow: dict[str, Any]) -> GeneratorInfo:
    """UI-format workflow only (no API graph): read the widgets of well-known nodes."""
    info = GeneratorInfo(tool="ComfyUI", container='PNG tEXt "workflow"')
    for node in workflow["nodes"]:
        if not isinstance(node, dict):
            continue
        ntype = str(node.get("type", ""))
        widgets = node.get("widgets_values") or []
        if not isinstance(widgets, list):
            continue
        if "CheckpointLoader" in ntype and widgets and info.model is None:
            info.model = _str(widgets[-1] if ntype == "CheckpointLoader" else widgets[0])
        elif ntype == "KSampler" and len(widgets) >= 6:
            info.seed, info.steps = _int(widgets[0]), _int(widgets[2])
            info.cfg, info.sampler, info.scheduler = (
                _float(widgets[3]),
                _str(widgets[4]),
                _str(widgets[5]),
            )
        elif ntype == "CLIPTextEncode" and widgets and info.prompt is None:
            info.prompt = _str(widgets[0])
    return info


# -- InvokeAI ---------------------------------------------------------------------------------


def parse_invokeai(text: dict[str, str]) -> GeneratorInfo | None:
    if "invokeai_metadata" in text:
        meta = _json(text["invokeai_metadata"])
        if isinstance(meta, dict):
            model = meta.get("model")
            if isinstance(model, dict):
                model = model.get("model_name") or model.get("name")
            return GeneratorInfo(
                tool="InvokeAI",
                container='PNG tEXt "invokeai_metadata"',
                model=_str(model),
                prompt=_str(meta.get("positive_prompt")),
                negative_prompt=_str(meta.get("negative_prompt")),
                seed=_int(meta.get("seed")),
                sampler=_str(meta.get("scheduler")),
                steps=_int(meta.get("steps")),
                cfg=_float(meta.get("cfg_scale")),
                width=_int(meta.get("width")),
                height=_int(meta.get("height")),
                version=_str(meta.get("app_version")),
                extra={"generation_mode": meta.get("generation_mode")},
            )
    if "sd-metadata" in text:
        meta = _json(text["sd-metadata"])
        if isinstance(meta, dict):
            image = meta.get("image") if isinstance(meta.get("image"), dict) else {}
            prompt = image.get("prompt")
            if isinstance(prompt, list):
                prompt = " ".join(str(p.get("prompt", "")) for p in prompt if isinstance(p, dict))
            prompt, negative = _invoke_split_negative(_str(prompt))
            return GeneratorInfo(
                tool="InvokeAI",
                container='PNG tEXt "sd-metadata"',
                model=_str(meta.get("model_weights") or meta.get("model_id") or meta.get("model")),
                prompt=prompt,
                negative_prompt=negative,
                seed=_int(image.get("seed")),
                sampler=_str(image.get("sampler")),
                steps=_int(image.get("steps")),
                cfg=_float(image.get("cfg_scale")),
                width=_int(image.get("width")),
                height=_int(image.get("height")),
                version=_str(meta.get("app_version")),
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
        seed=_int(flags.get("-S")),
        sampler=flags.get("-A"),
        steps=_int(flags.get("-s")),
        cfg=_float(flags.get("-C")),
        width=_int(flags.get("-W")),
        height=_int(flags.get("-H")),
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


# -- NovelAI and Fooocus ----------------------------------------------------------------------


def parse_novelai(text: dict[str, str]) -> GeneratorInfo | None:
    if text.get("Software", "").strip() != "NovelAI":
        return None
    comment = _json(text.get("Comment"))
    comment = comment if isinstance(comment, dict) else {}
    return GeneratorInfo(
        tool="NovelAI",
        container='PNG tEXt "Software" + "Comment"',
        model=text.get("Source"),
        prompt=text.get("Description") or _str(comment.get("prompt")),
        negative_prompt=_str(comment.get("uc")),
        seed=_int(comment.get("seed")),
        sampler=_str(comment.get("sampler")),
        steps=_int(comment.get("steps")),
        cfg=_float(comment.get("scale")),
        extra={"strength": comment.get("strength"), "noise": comment.get("noise")},
    )


def parse_fooocus(text: dict[str, str]) -> GeneratorInfo | None:
    params = _json(text.get("parameters"))
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
        model=_str(params.get("base_model")),
        prompt=_str(params.get("prompt")),
        negative_prompt=_str(params.get("negative_prompt")) or None,
        seed=_int(params.get("seed")),
        sampler=_str(params.get("sampler")),
        scheduler=_str(params.get("scheduler")),
        steps=_int(params.get("steps")),
        cfg=_float(params.get("guidance_scale")),
        width=width,
        height=height,
        version=_str(params.get("version")),
        loras=[str(x) for x in params.get("loras", []) if x]
        if isinstance(params.get("loras"), list)
        else [],
        extra={"styles": params.get("styles"), "performance": params.get("performance")},
    )


# -- stealth pnginfo --------------------------------------------------------------------------

_STEALTH = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
_SIG_BITS = 15 * 8
MAX_STEALTH_BYTES = 1024 * 1024


def read_stealth(pixels: np.ndarray) -> tuple[str, str] | None:
    """Text hidden by sd-webui-stealth-pnginfo in the low bits, read column by column.

    ``pixels``: uint8 H×W×3 or H×W×4. Returns (mode, text) or None. Layout: a 15-byte signature,
    a 32-bit big-endian payload length in bits, then the payload (gzip if the signature says so).
    """
    h, w = pixels.shape[:2]
    candidates = []
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        candidates.append(("alpha", pixels[..., 3:4]))
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        candidates.append(("rgb", pixels[..., :3]))
    for mode, planes in candidates:
        per_pixel = planes.shape[2]
        # column-major order: x outer, y inner; channels innermost
        need_px = -(-(_SIG_BITS + 32) // per_pixel)
        if need_px > h * w:
            continue
        head = _column_major_bits(planes, need_px)
        sig = np.packbits(head[:_SIG_BITS]).tobytes()
        if sig not in _STEALTH or _STEALTH[sig][0] != mode:
            continue
        compressed = _STEALTH[sig][1]
        n_bits = int.from_bytes(np.packbits(head[_SIG_BITS : _SIG_BITS + 32]).tobytes(), "big")
        total_bits = _SIG_BITS + 32 + n_bits
        if n_bits <= 0 or n_bits % 8 or n_bits > MAX_STEALTH_BYTES * 8:
            return None
        if total_bits > h * w * per_pixel:
            return None
        bits = _column_major_bits(planes, -(-total_bits // per_pixel))
        payload = np.packbits(bits[_SIG_BITS + 32 : total_bits]).tobytes()
        if compressed:
            try:
                d = zlib.decompressobj(wbits=31)  # gzip
                payload = d.decompress(payload, MAX_STEALTH_BYTES)
            except zlib.error:
                return None
        return mode, payload.decode("utf-8", errors="replace")
    return None


def _column_major_bits(planes: np.ndarray, n_pixels: int) -> np.ndarray:
    h = planes.shape[0]
    cols = -(-n_pixels // h)
    block = planes[:, :cols, :].transpose(1, 0, 2).reshape(-1)  # x outer, y inner
    return (block[: n_pixels * planes.shape[2]] & 1).astype(np.uint8)


# -- the analyzer -----------------------------------------------------------------------------


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
    data = _json(text)
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


# -- helpers ----------------------------------------------------------------------------------


def _json(text: str | None) -> Any:
    if not text or len(text) > MAX_JSON_BYTES:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _inputs(node: Any) -> dict[str, Any]:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _is_link(value: Any) -> bool:
    # API-format links are [node id (a string), output index]
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value is not None and str(value).strip() else None
    except ValueError:
        try:
            return int(float(str(value)))
        except ValueError:
            return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and str(value).strip() else None
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
