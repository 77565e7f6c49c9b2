"""AI-generator metadata on the corpus's real generator outputs and on files made here."""

from __future__ import annotations

import gzip
import io

import numpy as np
import piexif
import piexif.helper
import pytest
from PIL import Image, PngImagePlugin

from pixelsleuth.analyze import analyze_bytes, analyze_file
from pixelsleuth.forensics.generators import parse_a1111, parse_comfyui

from .conftest import corpus_dir, jpeg_bytes, photo_like

TOOLS_BY_NAME = {
    "AUTOMATIC1111": "AUTOMATIC1111",
    "ComfyUI": "ComfyUI",
    "Fooocus": "Fooocus",
    "InvokeAI": "InvokeAI",
    "NovelAI": "NovelAI",
}


def _generator(path):
    finding = analyze_file(path, ["generator-metadata"]).findings[0]
    assert finding.error is None
    return finding.details.get("generator")


def _expected_tool(path) -> str:
    if path.parent.name == "comfyui":
        return "ComfyUI"
    if path.parent.name == "invokeai":
        return "InvokeAI"
    (tool,) = [t for key, t in TOOLS_BY_NAME.items() if f"__{key}__" in path.name]
    return tool


@pytest.mark.parametrize("group", ["generator-metadata", "comfyui", "invokeai"])
def test_every_generator_file_is_recognised_with_the_right_tool(group):
    paths = sorted(corpus_dir("ai", group).iterdir())
    assert paths
    wrong = []
    for path in paths:
        info = _generator(path)
        if info is None or info.tool != _expected_tool(path):
            wrong.append((path.name, None if info is None else info.tool))
    print(f"\n{group}: {len(paths) - len(wrong)}/{len(paths)} recognised with the right tool")
    assert wrong == []


# Values read by hand from the files' text chunks (see the corpus and `exiftool -a -G1`).
HAND_READ = {
    "AUTOMATIC1111__automatic1111_cropped.png": (
        "realistic_realisticVisionV20_v20",
        235284042,
        "photo of a duck",
        "monochrome",
    ),
    "AUTOMATIC1111__automatic1111_cropped.jpg": (
        "realistic_realisticVisionV20_v20",
        235284042,
        "photo of a duck",
        "monochrome",
    ),
    "ComfyUI__img2img_cropped.png": (
        "v1-5-pruned-emaonly.ckpt",
        280823642470253,
        "photograph of victorian woman with wings, sky clouds, meadow grass",
        "watermark, text",
    ),
    "InvokeAI__invokeai_imeta1.png": (
        "juggernautXL",
        3293022630,
        "digital artwork, oil painting. painterly brushstrokes, holidays,",
        None,
    ),
    "InvokeAI__invokeai_sdmeta1.png": (
        "deliberateForInvoke_v08",
        2980747362,
        None,
        "rendering, glowing eyes, skinny",
    ),
    "NovelAI__novelai1_cropped.png": (
        "Stable Diffusion 1D44365E",
        2253955223,
        "masterpiece, best quality,  cat, space, icon",
        None,
    ),
    "Fooocus__fooocus1_cropped.png": (
        "juggernautXL_v8Rundiffusion",
        6952411511246973023,
        "a smiling goldfish",
        None,
    ),
}


@pytest.mark.parametrize("suffix", sorted(HAND_READ))
def test_model_seed_and_prompt_equal_hand_read_values(suffix):
    folder = corpus_dir("ai", "generator-metadata")
    (path,) = [p for p in folder.iterdir() if p.name.endswith(suffix)]
    model, seed, prompt, negative = HAND_READ[suffix]
    info = _generator(path)
    assert info.model == model
    assert info.seed == seed
    if prompt is not None:
        assert info.prompt == prompt
    if negative is not None:
        assert info.negative_prompt == negative


def test_comfyui_corpus_graphs_yield_models_and_prompts():
    paths = sorted(corpus_dir("ai", "comfyui").iterdir())
    infos = [_generator(p) for p in paths]
    with_model = sum(1 for i in infos if i.model)
    with_prompt = sum(1 for i in infos if i.prompt)
    print(
        f"\nComfyUI: model found in {with_model}/{len(infos)}, prompt in {with_prompt}/{len(infos)}"
    )
    assert with_model >= 0.9 * len(infos)
    assert with_prompt >= 0.9 * len(infos)


A1111_TEXT = (
    "a red bicycle, studio light\nNegative prompt: blurry, text\n"
    "Steps: 24, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567, "
    'Size: 640x480, Model hash: abc123, Model: mymodel_v1, Lora hashes: "a: 1, b: 2", '
    "Version: v1.10.0"
)


def test_a1111_infotext_is_parsed_fully():
    info = parse_a1111(A1111_TEXT, "test")
    assert (info.tool, info.model, info.seed, info.steps, info.cfg) == (
        "AUTOMATIC1111",
        "mymodel_v1",
        1234567,
        24,
        6.5,
    )
    assert (info.sampler, info.scheduler, info.width, info.height) == (
        "DPM++ 2M",
        "Karras",
        640,
        480,
    )
    assert info.prompt == "a red bicycle, studio light"
    assert info.negative_prompt == "blurry, text"
    assert info.extra["Lora hashes"] == "a: 1, b: 2"


@pytest.mark.parametrize("encoding", ["unicode", "jis", "ascii"])
def test_a1111_in_jpeg_user_comment(encoding):
    comment = piexif.helper.UserComment.dump(A1111_TEXT, encoding=encoding)
    exif = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: comment}})
    if encoding == "jis":  # not a form A1111 writes: must not be mistaken for one
        report = analyze_bytes(jpeg_bytes(photo_like(), exif=exif), "x.jpg", ["generator-metadata"])
        assert report.findings[0].details == {}
        return
    report = analyze_bytes(jpeg_bytes(photo_like(), exif=exif), "x.jpg", ["generator-metadata"])
    info = report.findings[0].details["generator"]
    assert info.seed == 1234567 and "UserComment" in info.container


def _stealth_png(text: str, mode: str, compressed: bool) -> bytes:
    """Embed like sd-webui-stealth-pnginfo: signature, 32-bit bit length, payload; column-major."""
    sig = f"stealth_{'png' if mode == 'alpha' else 'rgb'}{'comp' if compressed else 'info'}"
    payload = gzip.compress(text.encode()) if compressed else text.encode()
    bits = "".join(f"{b:08b}" for b in sig.encode())
    bits += f"{len(payload) * 8:032b}" + "".join(f"{b:08b}" for b in payload)
    h, w = 64, 96
    arr = np.dstack([photo_like(h, w), np.full((h, w), 255, np.uint8)])
    planes = arr[..., 3:4] if mode == "alpha" else arr[..., :3]
    flat = planes.transpose(1, 0, 2).reshape(-1).copy()  # x outer, y inner
    vals = np.array([int(b) for b in bits], np.uint8)
    flat[: len(vals)] = (flat[: len(vals)] & 0xFE) | vals
    planes_new = flat.reshape(w, h, planes.shape[2]).transpose(1, 0, 2)
    if mode == "alpha":
        arr[..., 3:4] = planes_new
    else:
        arr[..., :3] = planes_new
    buf = io.BytesIO()
    Image.fromarray(arr, "RGBA").save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("mode", "compressed"), [("alpha", False), ("alpha", True), ("rgb", True)])
def test_stealth_pnginfo_round_trip(mode, compressed):
    data = _stealth_png(A1111_TEXT, mode, compressed)
    info = analyze_bytes(data, "s.png", ["generator-metadata"]).findings[0].details["generator"]
    assert info.seed == 1234567 and mode in info.container


def test_stealth_on_the_corpus_file():
    folder = corpus_dir("ai", "generator-metadata")
    (path,) = [p for p in folder.iterdir() if p.name.endswith("automatic1111_stealth.png")]
    info = _generator(path)
    assert info.tool == "AUTOMATIC1111" and "stealth" in info.container
    assert (info.prompt, info.negative_prompt, info.seed) == ("a circle", "a square", 2015833630)


def test_markers_outside_their_proper_container_are_ignored():
    """The same infotext in a JPEG comment, after the image end, or in a wrongly named PNG
    chunk is just bytes: it must not be read as generator metadata."""
    jpeg = jpeg_bytes(photo_like(), comment=A1111_TEXT.encode()) + A1111_TEXT.encode()
    png_info = PngImagePlugin.PngInfo()
    png_info.add_text("Description", A1111_TEXT)
    buf = io.BytesIO()
    Image.fromarray(photo_like()).save(buf, "PNG", pnginfo=png_info)
    png = buf.getvalue() + b'{"3": {"class_type": "KSampler", "inputs": {}}}'
    for data, name in ((jpeg, "c.jpg"), (png, "c.png")):
        finding = analyze_bytes(data, name, ["generator-metadata"]).findings[0]
        assert finding.details == {} and finding.score is None


def test_hostile_comfyui_graphs_do_not_hang_or_crash():
    cyclic = (
        '{"1": {"class_type": "KSampler", "inputs": {"model": ["2", 0], "positive": ["2", 0],'
        ' "latent_image": ["2", 0], "add_noise": "disable"}}, "2": {"class_type": "X",'
        ' "inputs": {"a": ["1", 0], "model": ["1", 0]}}}'
    )
    info = parse_comfyui(cyclic, None)
    assert info is not None and info.tool == "ComfyUI" and info.model is None
    assert parse_comfyui("[1, 2]", "not json") is None
    assert parse_comfyui('{"1": 5}', '{"nodes": [1, {"type": "KSampler", "widgets_values": 3}]}')
