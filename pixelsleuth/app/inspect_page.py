"""Inspect: upload images, get a result card for each."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from pixelsleuth.analyze import analyze_bytes, analyze_image, preload
from pixelsleuth.app.card import app_settings, in_words, label_name, plain, report_card
from pixelsleuth.imageio import ImageInputError, load_bytes
from pixelsleuth.report import Report, percent

IMAGE_TYPES = [
    "jpg",
    "jpeg",
    "png",
    "webp",
    "tif",
    "tiff",
    "gif",
    "bmp",
    "heic",
    "heif",
    "avif",
    "jxl",
]


@st.cache_resource(show_spinner="Loading the detector and the verdict model…")
def warm_models() -> str:
    """Load the detector and verdict model once per server (later calls reuse them)."""
    return preload(app_settings())


@st.cache_data(max_entries=64, show_spinner=False)
def analyse(
    data: bytes, name: str, digest: str, stability: bool
) -> tuple[Report, np.ndarray | None]:
    """The Report for uploaded bytes (cached by content), and the pixels to show."""
    settings = app_settings()
    try:
        image = load_bytes(data, name, settings.limits)
    except ImageInputError:  # too large: the Report says so
        return analyze_bytes(data, name, settings=settings), None
    report = analyze_image(image, stability=stability, settings=settings)
    rgb = None
    if report.error is None:
        try:
            rgb = image.rgb()  # decoded once, shared with the analyzers
        except (ImageInputError, OSError, ValueError):
            rgb = None
    if rgb is not None and max(rgb.shape[:2]) > 1600:  # what the browser gets, not the analysis
        step = int(np.ceil(max(rgb.shape[:2]) / 1600))
        rgb = np.ascontiguousarray(rgb[::step, ::step])
    return report, rgb


def render() -> None:
    st.header("Inspect images")
    st.caption(
        "Drop one or more images. Each gets a verdict with its probability, the reasons for "
        "it, and every analyzer's evidence. Files are analysed in memory and never changed."
    )
    warm_models()
    limits = app_settings().limits
    stability = st.toggle(
        "Check the verdict on recompressed and rescaled copies (slower, more careful)",
        value=True,
        key="stability",
    )
    uploads = st.file_uploader(
        "Images",
        type=None,  # any file: a non-image gets a clear message rather than a refusal
        accept_multiple_files=True,
        key="uploads",
        help=f"Up to {limits.max_file_bytes // 2**20} MB and {limits.max_pixels / 1e6:.0f} "
        f"megapixels per image. Supported: {', '.join(IMAGE_TYPES)}.",
    )
    if not uploads:
        st.info("No image yet: drag files onto the box above.")
        return
    analysed = []
    for upload in uploads:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        with st.spinner(f"Analysing {upload.name}…"):
            report, rgb = analyse(data, upload.name, digest, stability)
        analysed.append((upload.name, digest, report, rgb, data))
    if len(analysed) > 1:
        st.subheader(f"{len(analysed)} files")
        st.dataframe(
            summary_rows([(name, report) for name, _, report, _, _ in analysed]),
            hide_index=True,
            width="stretch",
            key="inspect_summary",
        )
    for i, (name, digest, report, rgb, data) in enumerate(analysed):
        with st.container(border=True):
            st.subheader(plain(name))
            left, right = st.columns([1, 2])
            with left:
                if rgb is not None:
                    st.image(rgb, width="stretch")
                info = report.file
                if info.format:
                    st.caption(
                        f"{info.format} · {info.width}×{info.height} · "
                        f"{(info.size_bytes or 0) / 1024:.0f} KB · sha256 {digest[:12]}…"
                    )
            with right:
                report_card(report, rgb, key=f"u{i}-{digest[:8]}", data=data)
            st.download_button(
                "Download the report (JSON)",
                report.to_json(indent=2),
                file_name=f"{name}.pixelsleuth.json",
                mime="application/json",
                key=f"dl-{i}-{digest[:8]}",
            )


def summary_rows(reports: list[tuple[str, Report]]) -> list[dict[str, str]]:
    """One row per uploaded file for the table above the cards: name, verdict, whole-percent
    probabilities and the top reason (or, for a file that could not be analysed, why)."""
    rows = []
    for name, report in reports:
        v = report.verdict
        if report.error or v is None:
            verdict, ai, manipulated = "could not be analysed", "", ""
            reason = in_words(report.error or "no verdict")
        else:
            verdict = label_name(v.label.value)
            ai = "" if v.ai_probability is None else percent(v.ai_probability)
            manipulated = (
                "" if v.manipulation_probability is None else percent(v.manipulation_probability)
            )
            reason = v.reasons[0] if v.reasons else ""
        rows.append(
            {
                "file": name,
                "verdict": verdict,
                "P(AI)": ai,
                "P(manipulated)": manipulated,
                "top reason": reason,
            }
        )
    return rows
