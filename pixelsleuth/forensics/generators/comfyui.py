"""ComfyUI: the ``prompt`` graph (API format) and the editor's ``workflow``, walked from the
final sampler back to its model, prompts and settings."""

from __future__ import annotations

from collections import deque
from typing import Any

from pixelsleuth.forensics.generators.record import (
    GeneratorInfo,
    as_float,
    as_int,
    as_str,
    load_json,
)

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
    graph = load_json(prompt_json)
    if isinstance(graph, dict) and graph and all(isinstance(v, dict) for v in graph.values()):
        nodes = {str(k): v for k, v in graph.items() if "class_type" in v}
        if nodes:
            return _comfy_from_graph(nodes)
    workflow = load_json(workflow_json)
    if isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list):
        return _comfy_from_workflow(workflow)
    return None


def _comfy_from_graph(nodes: dict[str, dict[str, Any]]) -> GeneratorInfo:
    info = GeneratorInfo(tool="ComfyUI", container='PNG tEXt "prompt"')
    sampler_id = _final_sampler(nodes)
    if sampler_id is not None:
        settings = _upstream_values(nodes, sampler_id, _PARAM_FIELDS, skip=_NOT_SETTINGS)
        info.seed = as_int(settings.get("seed"))
        noise_source = _noise_sampler(nodes, sampler_id)
        if noise_source != sampler_id:  # a continuation pass: the seed is its parent's
            info.seed = as_int(
                _upstream_values(nodes, noise_source, _PARAM_FIELDS, _NOT_SETTINGS).get("seed")
            )
        info.steps = as_int(settings.get("steps"))
        info.cfg = as_float(settings.get("cfg"))
        info.sampler = as_str(settings.get("sampler"))
        info.scheduler = as_str(settings.get("scheduler"))
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
            info.model = as_str(widgets[-1] if ntype == "CheckpointLoader" else widgets[0])
        elif ntype == "KSampler" and len(widgets) >= 6:
            info.seed, info.steps = as_int(widgets[0]), as_int(widgets[2])
            info.cfg, info.sampler, info.scheduler = (
                as_float(widgets[3]),
                as_str(widgets[4]),
                as_str(widgets[5]),
            )
        elif ntype == "CLIPTextEncode" and widgets and info.prompt is None:
            info.prompt = as_str(widgets[0])
    return info


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
