"""Generate: make a labelled fake dataset with a diffusers pipeline, in the background."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from pixelsleuth.app.card import message, plain
from pixelsleuth.app.jobs import Job
from pixelsleuth.datasets.generate import GenerationConfig, GenerationError, generate, validate

MODES = ["text-to-image", "image-to-image", "aligned"]
FIELD_FOR_FLAG = {
    "--model": "the “Model” field",
    "--autoencoder": "the “Autoencoder” field",
    "--images": "the “Folder of real photos” field",
    "--count": "“Images”",
    "--steps": "“Steps”",
    "--seed": "“First seed”",
    "--width/--height": "a smaller “Size”",
    "--out": "the “Output folder” field",
}
_FLAG = re.compile(r"--[a-z][a-z-]*(?:/--[a-z][a-z-]*)?")


def in_page_words(text: str) -> str:
    """A library message for this page: command-line flags become the fields a person fills
    in ("needs --model" → "needs the “Model” field"); flags the page has no field for become
    plain words ("--batch-size" → "batch size")."""
    return _FLAG.sub(
        lambda m: FIELD_FOR_FLAG.get(m.group(0), m.group(0).lstrip("-").replace("-", " ")), text
    )


def caption(row: dict[str, Any]) -> str:
    """A generated image's caption from its metadata.jsonl row: seed and prompt when the row
    has them (an aligned fake has no prompt; it names its real twin)."""
    parts = []
    if row.get("seed") is not None:
        parts.append(f"seed {row['seed']}")
    if row.get("prompt"):
        parts.append(str(row["prompt"])[:80])
    elif row.get("real_twin"):
        parts.append(f"from {Path(row['real_twin']).name}")
    return " · ".join(parts) or str(row.get("file_name", ""))


def start_generation(config: GenerationConfig) -> Job:
    def run(progress):
        return generate(config, on_progress=progress)

    return Job("generate", run).start()


def render() -> None:
    st.header("Generate a labelled fake dataset")
    st.caption(
        "Runs a Stable Diffusion or Latent Consistency Model pipeline (a diffusers folder, a "
        ".safetensors file or a hub id) and writes an imagefolder dataset with a metadata.jsonl "
        "row per image. Works on a CPU, faster on a GPU."
    )
    mode = st.radio("Mode", MODES, horizontal=True, key="gen_mode")
    c1, c2 = st.columns(2)
    model = c1.text_input(
        "Model (path or hub id)",
        key="gen_model",
        placeholder="stable-diffusion-v1-5/stable-diffusion-v1-5",
        help="aligned mode may leave this empty and give an autoencoder instead",
    )
    autoencoder = ""
    images = ""
    if mode == "aligned":
        autoencoder = c2.text_input(
            "Autoencoder (aligned)", key="gen_ae", placeholder="../shared/models/taef2"
        )
    if mode != "text-to-image":
        images = st.text_input("Folder of real photos", key="gen_images")
    c1, c2, c3, c4 = st.columns(4)
    count = c1.number_input("Images", 1, 10_000, 4, key="gen_count")
    seed = c2.number_input("First seed", 0, 2**31 - 1, 0, key="gen_seed")
    steps, size = 25, 512  # only the modes that use them show them
    if mode != "aligned":  # an aligned fake is one pass through the autoencoder: no steps
        steps = c3.number_input("Steps", 1, 200, 25, key="gen_steps")
    if mode == "text-to-image":  # the other modes keep the size of their photos
        size = c4.number_input("Size", 32, 2048, 512, step=32, key="gen_size")
    default_out = st.session_state.setdefault(
        "gen_default_out", tempfile.mkdtemp(prefix="pixelsleuth-gen-")
    )
    out = st.text_input("Output folder", default_out, key="gen_out")
    job: Job | None = st.session_state.get("gen_job")
    if st.button(
        "Generate", type="primary", key="gen_run", disabled=job is not None and job.running
    ):
        config = GenerationConfig(
            out=Path(out),
            mode=mode,
            model=model or None,
            autoencoder=autoencoder or None,
            images=Path(images) if images else None,
            count=int(count),
            steps=int(steps),
            seed=int(seed),
            width=int(size) if mode == "text-to-image" else None,
            height=int(size) if mode == "text-to-image" else None,
            progress=False,
        )
        try:
            validate(config)
        except GenerationError as exc:
            st.error(plain(in_page_words(str(exc))))
        else:
            st.session_state.gen_job = job = start_generation(config)
    if job is not None:
        _progress(job)
        if not job.running:
            _browse(Path(out))


@st.fragment(run_every=1.0)
def _progress(job: Job) -> None:
    if job.running:
        st.progress(job.fraction, text=f"Generating: {job.status()}")
    elif job.error:
        st.error(message(in_page_words(f"Generation stopped: {job.error}")))
    else:
        s = job.result
        st.success(f"Wrote {s.written} images ({s.skipped} already there) in {s.seconds:.0f} s.")
        if st.session_state.get("gen_shown") is not job:
            st.session_state.gen_shown = job
            st.rerun()


def _browse(out: Path) -> None:
    rows = []
    for manifest in sorted(out.glob("*/metadata.jsonl")):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["_path"] = manifest.parent / row["file_name"]
                rows.append(row)
    fakes = [r for r in rows if r.get("label") == "ai" and r["_path"].is_file()]
    if not fakes:
        return
    st.subheader(f"{len(fakes)} generated images in {out}")
    cols = st.columns(4)
    for i, r in enumerate(fakes[:48]):
        cols[i % 4].image(str(r["_path"]), caption=plain(caption(r)), width="stretch")
