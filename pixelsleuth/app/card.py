"""The result card for one Report: verdict badge, reasons, then one section per analyzer.

Layout only: everything shown comes from the Report and the analyzers' own ``title`` and
``explains`` (what a finding means and what it cannot prove).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import streamlit as st

from pixelsleuth.analyzers import create_analyzers
from pixelsleuth.report import Finding, Report, percent
from pixelsleuth.verdict.rules import LABEL_DEFINITIONS

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|:~$])")


def plain(text: object) -> str:
    """Text from a file (metadata, names, messages quoting them) made inert for Streamlit's
    Markdown: no links, images, colours, emoji codes or LaTeX from hostile metadata."""
    return _MARKDOWN.sub(r"\\\1", str(text))


BADGE = {
    "ai-generated": ("red", "AI-generated"),
    "manipulated": ("orange", "Manipulated"),
    "camera-original": ("green", "Camera original"),
    "no-signs-found": ("blue", "No signs found"),
    "inconclusive": ("gray", "Inconclusive"),
}


@st.cache_resource
def analyzer_texts() -> dict[str, tuple[str, str]]:
    """name -> (title, explanation) for every analyzer, created once per server."""
    return {a.name: (a.title, a.explains) for a in create_analyzers()}


def verdict_header(report: Report) -> None:
    v = report.verdict
    if report.error:
        st.error(plain(f"Could not analyse this file: {report.error}."))
        return
    if v is None:
        st.info("No verdict: the findings below were not combined.")
        return
    colour, label = BADGE[v.label.value]
    probs = []
    if v.ai_probability is not None:
        probs.append(f"AI-generated {percent(v.ai_probability)}")
    if v.manipulation_probability is not None:
        probs.append(f"manipulated {percent(v.manipulation_probability)}")
    st.markdown(
        f"### :{colour}-background[{label}]" + (f" &nbsp; {' · '.join(probs)}" if probs else "")
    )
    st.caption(
        LABEL_DEFINITIONS[v.label]  # the label's definition, as in the README
        + " Probabilities are calibrated estimates from the evidence below, not proof."
    )
    for reason in v.reasons[:5]:
        st.markdown(f"- {plain(reason)}")


def report_card(report: Report, rgb: np.ndarray | None, key: str) -> None:
    """The whole card for one image."""
    verdict_header(report)
    if report.error:
        return
    texts = analyzer_texts()
    st.caption(
        "Each section's suspicion runs from 0 (consistent with a camera original) to 1 (a "
        "strong sign of generation or editing); a section is open when its suspicion reaches "
        "the level that fewer than 5 % of ordinary photos reach (the rule the verdict uses)."
    )
    for finding in report.findings:
        title, explains = texts.get(finding.analyzer, (finding.analyzer, ""))
        score = "" if finding.score is None else f" — suspicion {finding.score:.2f}"
        suspicious = report.verdict is not None and finding.analyzer in report.verdict.flagged
        with st.expander(f"{title}{score}", expanded=suspicious or finding.analyzer == "detector"):
            st.caption(explains)
            if finding.error:
                st.warning(plain(finding.summary))
                continue
            st.markdown(plain(finding.summary))
            SECTIONS.get(finding.analyzer, _evidence)(finding, rgb, f"{key}-{finding.analyzer}")


def _evidence(finding: Finding, rgb: np.ndarray | None, key: str) -> None:
    shown = [e for e in finding.evidence if e.message != finding.summary]
    for e in shown[:8]:
        st.markdown(f"- {plain(e.message)}")
    if finding.heatmaps and rgb is not None:
        _heatmaps(finding, rgb, key)


def _heatmaps(finding: Finding, rgb: np.ndarray, key: str) -> None:
    from pixelsleuth.forensics.maps import colorize, overlay

    names = [h.name for h in finding.heatmaps]
    name = st.radio("map", names, horizontal=True, key=f"{key}-map") if len(names) > 1 else names[0]
    heat = next(h for h in finding.heatmaps if h.name == name)
    st.caption(heat.description)
    if name == "spectrum":  # a spectrum has no pixel positions to lay over the image
        st.image(colorize(heat.data), caption="spectrum (bright = strong)", width=320)
        return
    alpha = st.slider(
        "heatmap over image",
        0.0,
        1.0,
        0.6,
        0.1,
        key=f"{key}-alpha",
        help="0 shows the image, 1 the heatmap alone; bright = suspicious",
    )
    left, right = st.columns(2)
    left.image(rgb, caption="image", width="stretch")
    right.image(overlay(rgb, heat.data, alpha), caption=f"{name}", width="stretch")


def _table(data: dict[str, Any]) -> None:
    rows = [{"field": k, "value": str(v)} for k, v in data.items() if v not in (None, "", [])]
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")


def _metadata(finding: Finding, rgb: np.ndarray | None, key: str) -> None:
    d = finding.details
    fields = d.get("fields") or {}
    groups = {
        "Camera": ("Make", "Model", "LensModel", "Orientation"),
        "Dates": ("DateTimeOriginal", "CreateDate", "ModifyDate", "OffsetTimeOriginal"),
        "Software": ("Software", "CreatorTool"),
    }
    used: set[str] = set()
    for group, names in groups.items():
        values = {n: fields.get(n) for n in names if fields.get(n) not in (None, "")}
        used.update(names)
        if values:
            st.markdown(f"**{group}**")
            _table(values)
    rest = {k: v for k, v in fields.items() if k not in used and not k.startswith("GPS")}
    if any(v not in (None, "", []) for v in rest.values()):
        st.markdown("**Other fields**")
        _table(rest)
    gps = d.get("gps")
    if gps:
        st.markdown(f"**GPS** {gps['latitude']:.5f}, {gps['longitude']:.5f}")
        st.map({"lat": [gps["latitude"]], "lon": [gps["longitude"]]}, zoom=10, height=260)
    _evidence(finding, rgb, key)


def _generator(finding: Finding, rgb: np.ndarray | None, key: str) -> None:
    g = finding.details.get("generator")
    if g is not None:
        g = g if isinstance(g, dict) else g.__dict__
        _table(
            {
                k: g.get(k)
                for k in (
                    "tool",
                    "model",
                    "prompt",
                    "negative_prompt",
                    "seed",
                    "sampler",
                    "steps",
                    "cfg",
                    "container",
                )
            }
        )
    _evidence(finding, rgb, key)


def _provenance(finding: Finding, rgb: np.ndarray | None, key: str) -> None:
    c2pa = finding.details.get("c2pa") or {}
    state = getattr(c2pa.get("state"), "value", c2pa.get("state")) or "none"
    label = {
        "valid-trusted": ":green[trusted signer]",
        "valid-untrusted": ":orange[valid, but the signer is not on your trust list]",
        "tampered": ":red[tampered: the file changed after signing]",
        "invalid": ":red[invalid signature]",
        "unreadable": ":orange[present but unreadable]",
        "none": "none attached",
    }.get(state, state)
    st.markdown(f"**C2PA status:** {label}")
    if c2pa.get("signer"):
        st.markdown(f"**Signer:** {plain(c2pa['signer'])}")
    _evidence(finding, rgb, key)


def _jpeg(finding: Finding, rgb: np.ndarray | None, key: str) -> None:
    d = finding.details
    q = d.get("quality") or {}
    if q:
        exact = " (exact standard IJG table)" if q.get("exact_ijg") else ""
        st.markdown(
            f"**Quality** {q.get('estimate')}{exact}; ImageMagick-style estimate "
            f"{q.get('imagemagick')}. **Subsampling** {d.get('subsampling')}, "
            f"{'progressive' if d.get('progressive') else 'baseline'}, "
            f"Huffman {d.get('huffman')}."
        )
    tables = d.get("quantization_tables") or {}
    if tables:
        names = {"0": "0 (luma)", "1": "1 (chroma)", "2": "2 (chroma)"}
        which = st.selectbox(
            "quantization table",
            list(tables),
            format_func=lambda t: names.get(str(t), str(t)),
            key=f"{key}-table",
        )
        st.dataframe(np.asarray(tables[which]).reshape(8, 8), width="content")
    _evidence(finding, rgb, key)


def _detector(finding: Finding, rgb: np.ndarray | None, key: str) -> None:
    d = finding.details
    if d.get("probability") is not None:
        st.progress(
            float(d["probability"]),
            text=f"probability of AI {percent(d['probability'])} (threshold {d['threshold']:.0%})",
        )
    _evidence(finding, rgb, key)


SECTIONS = {
    "metadata": _metadata,
    "generator-metadata": _generator,
    "provenance": _provenance,
    "jpeg": _jpeg,
    "detector": _detector,
}
