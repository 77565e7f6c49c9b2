"""The result card for one Report: verdict badge, reasons, then one section per analyzer.

Layout only: everything shown comes from the Report and the analyzers' own ``title`` and
``explains`` (what a finding means and what it cannot prove).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import streamlit as st

from pixelsleuth.analyzers import create_analyzers
from pixelsleuth.app.magnifier import magnifier
from pixelsleuth.messages import in_words
from pixelsleuth.report import Finding, Report, percent
from pixelsleuth.settings import Settings
from pixelsleuth.verdict.rules import LABEL_DEFINITIONS

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|:~$])")


def plain(text: object) -> str:
    """Text from a file (metadata, names, messages quoting them) made inert for Streamlit's
    Markdown: no links, images, colours, emoji codes or LaTeX from hostile metadata."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def message(text: object) -> str:
    """An error or status message, in words and inert as Markdown."""
    return plain(in_words(text))


BADGE_COLOURS = {
    "ai-generated": "red",
    "manipulated": "orange",
    "camera-original": "green",
    "no-signs-found": "blue",
}
LABEL_NAMES = {"ai-generated": "AI-generated"}


def label_name(label: str) -> str:
    """A verdict label as people read it ("camera-original" → "Camera original"); any label
    the verdict may add later renders without a change here."""
    return LABEL_NAMES.get(label) or label.replace("-", " ").capitalize()


def badge(label: str) -> str:
    """The verdict label as a coloured Streamlit badge (grey for labels without a colour)."""
    return f":{BADGE_COLOURS.get(label, 'gray')}-background[{label_name(label)}]"


def probabilities_text(ai: float | None, manipulated: float | None) -> str:
    """The calibrated probabilities beside the badge, worded so that they never repeat it."""
    parts = []
    if ai is not None:
        parts.append(f"P(AI) {percent(ai)}")
    if manipulated is not None:
        parts.append(f"P(manipulated) {percent(manipulated)}")
    return " · ".join(parts)


@st.cache_resource
def app_settings() -> Settings:
    """The server's settings, read once from the environment that ``pixelsleuth app`` gave
    it (its limits, trust anchors, and whether the browser may fetch map tiles)."""
    return Settings.from_env()


@st.cache_resource
def analyzer_texts() -> dict[str, tuple[str, str]]:
    """name -> (title, explanation) for every analyzer, created once per server."""
    return {a.name: (a.title, a.explains) for a in create_analyzers(settings=app_settings())}


def verdict_header(report: Report) -> None:
    v = report.verdict
    if report.error:
        st.error(message(f"Could not analyse this file: {report.error}."))
        return
    if v is None:
        st.info("No verdict: the findings below were not combined.")
        return
    probs = probabilities_text(v.ai_probability, v.manipulation_probability)
    st.markdown(f"### {badge(v.label.value)}" + (f" &nbsp; {probs}" if probs else ""))
    st.caption(
        LABEL_DEFINITIONS.get(v.label, "")  # the label's definition, as in the README
        + " Probabilities are calibrated estimates from the evidence below, not proof."
    )
    for reason in v.reasons[:5]:
        st.markdown(f"- {message(reason)}")


def report_card(
    report: Report, rgb: np.ndarray | None, key: str, data: bytes | None = None
) -> None:
    """The whole card for one image; ``data`` (the file's bytes) lets sections show what the
    Report keeps only in part, such as a ComfyUI graph."""
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
                st.warning(message(finding.summary))
                continue
            st.markdown(plain(finding.summary))
            section = SECTIONS.get(finding.analyzer, _evidence)
            section(finding, rgb, f"{key}-{finding.analyzer}", data)


def _evidence(
    finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None
) -> None:
    shown = [e for e in finding.evidence if e.message != finding.summary]
    for e in shown[:8]:
        st.markdown(f"- {plain(e.message)}")
    if rgb is not None and any(h.data is not None for h in finding.heatmaps):
        _heatmaps(finding, rgb, key, data)


def _heatmaps(finding: Finding, rgb: np.ndarray, key: str, data: bytes | None = None) -> None:
    from pixelsleuth.drawing import colorize, overlay

    drawn = [h for h in finding.heatmaps if h.data is not None]
    names = [h.name for h in drawn]
    name = st.radio("map", names, horizontal=True, key=f"{key}-map") if len(names) > 1 else names[0]
    heat = next(h for h in drawn if h.name == name)
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
    full = full_rgb(data) if data is not None else None
    picture = full if full is not None else rgb
    title = analyzer_texts().get(finding.analyzer, (finding.analyzer, ""))[0]
    same = name.replace("_", "-") == finding.analyzer  # "copy-move" and its "copy_move" map
    caption = title if same else f"{title} — {name.replace('_', ' ')}"
    magnifier([("image", picture), (caption, overlay(picture, heat.data, alpha))])


@st.cache_data(max_entries=2, show_spinner=False)
def full_rgb(data: bytes) -> np.ndarray | None:
    """The file's pixels at full resolution for the magnifier (the card's own copy is reduced
    for the page), or None when they cannot be decoded."""
    from pixelsleuth.imageio import ImageInputError, load_bytes

    try:
        return np.asarray(load_bytes(data).rgb())
    except (ImageInputError, OSError, ValueError):
        return None


def _evidence_then_picture(
    finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None
) -> np.ndarray | None:
    """The analyzer's own section, then the pixels an explorer recomputes on: the file's full
    resolution when its bytes are at hand, else the working copy (None without pixels)."""
    _evidence(finding, rgb, key, data)
    return full_rgb(data) if data is not None else rgb


def _ela(finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None) -> None:
    """The analyzer's ELA, then an explorer: another re-save quality and amplification,
    recomputed at full resolution when asked (as Forensically offers)."""
    from pixelsleuth.forensics.ela import ELA_QUALITY, error_level

    picture = _evidence_then_picture(finding, rgb, key, data)
    if picture is None:
        return
    with st.form(f"{key}-explore"):
        st.markdown("**Explore: re-save quality and amplification**")
        c1, c2 = st.columns(2)
        quality = c1.slider("JPEG quality of the re-save", 50, 100, ELA_QUALITY, key=f"{key}-q")
        scale = c2.slider("amplification (×)", 1, 50, 15, key=f"{key}-scale")
        go = st.form_submit_button("Recompute")
    if go:
        with st.spinner("Recomputing the error levels…"):
            levels = error_level(np.ascontiguousarray(picture), int(quality))
            shown = np.clip(levels * float(scale), 0, 255).astype(np.uint8)
        st.caption(
            f"Error level at quality {quality}, amplified {scale}×: bright areas changed more "
            "on re-saving; regions edited after the last save often stand out."
        )
        magnifier(
            [("image", picture), (f"ELA q{quality} ×{scale}", np.repeat(shown[..., None], 3, 2))]
        )


def _copy_move(
    finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None
) -> None:
    """The analyzer's result, then an explorer: how alike a copy must be and how small it may
    be, recomputed when asked. The defaults are the calibrated ones the score uses."""
    import cv2

    from pixelsleuth.drawing import overlay
    from pixelsleuth.forensics.copymove import (
        MAX_SIDE,
        MIN_AREA_FRACTION,
        ZNCC_MIN,
        detect_copy_move,
    )

    picture = _evidence_then_picture(finding, rgb, key, data)
    if picture is None:
        return
    with st.form(f"{key}-explore"):
        st.markdown("**Explore: copy-move sensitivity**")
        c1, c2 = st.columns(2)
        likeness = c1.slider(
            "how alike a copy must be (correlation)", 0.80, 0.99, ZNCC_MIN, 0.01, key=f"{key}-z"
        )
        smallest = c2.slider(
            "smallest copy (% of the image)",
            0.01,
            2.0,
            MIN_AREA_FRACTION * 100,
            0.01,
            key=f"{key}-area",
        )
        go = st.form_submit_button("Recompute")
    if go:
        gray = cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2GRAY)
        if max(gray.shape) > MAX_SIDE:  # the analyzer's own working size
            f = MAX_SIDE / max(gray.shape)
            gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        with st.spinner("Looking for copied regions…"):
            mask, regions, _ = detect_copy_move(gray, smallest / 100, likeness)
        st.caption(
            f"{len(regions)} copied region(s) at correlation ≥ {likeness:.2f} and at least "
            f"{smallest:.2f} % of the image (the score above uses {ZNCC_MIN:.2f} and "
            f"{MIN_AREA_FRACTION * 100:.2f} %). Lower values find more, and more look-alikes."
        )
        magnifier(
            [("image", picture), ("copies found", overlay(picture, mask.astype(np.float32), 0.6))]
        )


def _table(data: dict[str, Any]) -> None:
    rows = [{"field": k, "value": str(v)} for k, v in data.items() if v not in (None, "", [])]
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")


def _metadata(
    finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None
) -> None:
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
    iptc = d.get("iptc") or {}
    credits = {
        label: iptc.get(name)
        for label, name in (
            ("Caption", "Caption-Abstract"),
            ("Headline", "Headline"),
            ("By-line", "By-line"),
            ("Credit", "Credit"),
            ("Source", "Source"),
            ("Copyright", "CopyrightNotice"),
        )
        if iptc.get(name)
    }
    if credits:
        st.markdown("**Description and credits (IPTC)**")
        _table({k: ", ".join(v) if isinstance(v, list) else v for k, v in credits.items()})
    gps = d.get("gps")
    if gps:
        _gps(gps)
    _evidence(finding, rgb, key, data)
    if data is not None:
        _full_metadata(data, key)


def _full_metadata(data: bytes, key: str) -> None:
    """Every EXIF, GPS, XMP and IPTC tag (as `pixelsleuth metadata` prints them) and the XMP
    edit history as a timeline."""
    from pixelsleuth.metadump import dump_metadata

    found = dump_metadata(data)
    if found.history:
        st.markdown("**Edit history (XMP)**")
        st.dataframe(
            [
                {"when": h.when, "action": h.action, "software": h.software, "changed": h.changed}
                for h in found.history
            ],
            hide_index=True,
            width="stretch",
        )
    if not found.tags:
        return
    if st.toggle(f"Show all metadata ({len(found.tags)} tags)", key=f"{key}-all"):
        st.dataframe(
            [{"group": t.group, "tag": t.name, "value": _cell(t.value)} for t in found.tags],
            hide_index=True,
            width="stretch",
            height=min(600, 38 + 35 * len(found.tags)),
        )
    st.download_button(
        "Download all metadata (JSON)",
        json.dumps(found.to_dict(), ensure_ascii=False, indent=1, default=str),
        file_name="metadata.json",
        mime="application/json",
        key=f"{key}-all-dl",
    )


def _cell(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def dms(value: float, positive: str, negative: str) -> str:
    """Decimal degrees as degrees, minutes and seconds with a hemisphere letter."""
    sign = positive if value >= 0 else negative
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return f"{degrees}°{minutes:02d}′{seconds:04.1f}″ {sign}"


def gps_sketch(latitude: float, longitude: float, scale: int = 2) -> np.ndarray:
    """An offline position sketch: the globe as a latitude/longitude grid (every 30°, equator
    and prime meridian darker) with the point marked; ``scale`` pixels per degree. Drawn here so
    that no map tile is ever fetched from a third party."""
    from PIL import Image, ImageDraw

    width, height = 360 * scale, 180 * scale
    canvas = Image.new("RGB", (width, height), (235, 242, 250))
    draw = ImageDraw.Draw(canvas)
    for lon in range(-180, 181, 30):
        x = (lon + 180) * scale
        draw.line([(x, 0), (x, height)], fill=(120, 120, 120) if lon == 0 else (200, 205, 215))
    for lat in range(-90, 91, 30):
        y = (90 - lat) * scale
        draw.line([(0, y), (width, y)], fill=(120, 120, 120) if lat == 0 else (200, 205, 215))
    x, y = (longitude + 180) * scale, (90 - latitude) * scale
    draw.line([(x, 0), (x, height)], fill=(220, 60, 60))
    draw.line([(0, y), (width, y)], fill=(220, 60, 60))
    r = 3 * scale
    draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=(200, 0, 0), outline=(255, 255, 255))
    return np.asarray(canvas)


def _gps(gps: dict[str, Any]) -> None:
    lat, lon = float(gps["latitude"]), float(gps["longitude"])
    alt = gps.get("altitude_m")
    where = f"{dms(lat, 'N', 'S')}, {dms(lon, 'E', 'W')}"
    st.markdown(
        f"**GPS** {lat:.6f}, {lon:.6f} ({where})"
        + (f", altitude {float(alt):.0f} m" if alt is not None else "")
    )
    if app_settings().online_map:  # the operator started the app with --online-map
        st.map({"lat": [lat], "lon": [lon]}, zoom=10, height=260)
        return
    st.image(
        gps_sketch(lat, lon),
        caption="Position on a latitude/longitude grid (every 30°), drawn offline. No map "
        "tiles are fetched, so nothing about this photo leaves the server; start the app with "
        "--online-map to show a street map from a tile server instead.",
        width=480,
    )


def _generator(
    finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None
) -> None:
    g = finding.details.get("generator")
    if g is not None:
        g = g if isinstance(g, dict) else g.__dict__
        fields = ("tool", "model", "seed", "sampler", "scheduler", "steps", "cfg", "container")
        _table({k: g.get(k) for k in fields})
        # prompts in full, wrapped, each with Streamlit's copy button (a table cell cuts them)
        for name, label in (("prompt", "Prompt"), ("negative_prompt", "Negative prompt")):
            if g.get(name):
                st.markdown(f"**{label}**")
                st.code(str(g[name]), language=None, wrap_lines=True)
    _evidence(finding, rgb, key, data)
    if data is not None and g is not None and g.get("tool") == "ComfyUI":
        _comfy_graphs(data, key)


def _comfy_graphs(data: bytes, key: str) -> None:
    """The ComfyUI graphs stored in the PNG (``prompt``: the API graph that ran, ``workflow``:
    the editor's layout), viewable as JSON and downloadable to load back into ComfyUI. Read
    whole from the file (the Report keeps only the first 500 characters of each text chunk)."""
    from pixelsleuth.forensics.formats.containers import read_containers

    texts = {c.key: c.text for c in read_containers(data).text_chunks}
    for chunk, what in (("workflow", "ComfyUI workflow"), ("prompt", "ComfyUI prompt graph")):
        raw = texts.get(chunk)
        if not isinstance(raw, str) or not raw.lstrip().startswith("{"):
            continue
        try:
            graph = json.loads(raw)
        except ValueError:
            continue
        if st.toggle(f"Show the {what} ({len(graph)} entries)", key=f"{key}-{chunk}-show"):
            st.json(graph, expanded=1)
        st.download_button(
            f"Download the {what} (JSON)",
            raw,
            file_name=f"{chunk}.json",
            mime="application/json",
            key=f"{key}-{chunk}-dl",
        )


def _provenance(
    finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None
) -> None:
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
    _evidence(finding, rgb, key, data)


def _jpeg(finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None) -> None:
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
    _evidence(finding, rgb, key, data)


def _detector(
    finding: Finding, rgb: np.ndarray | None, key: str, data: bytes | None = None
) -> None:
    d = finding.details
    if d.get("probability") is not None:
        st.progress(
            float(d["probability"]),
            text=f"probability of AI {percent(d['probability'])} (threshold {d['threshold']:.0%})",
        )
    _evidence(finding, rgb, key, data)


SECTIONS = {
    "metadata": _metadata,
    "ela": _ela,
    "copy-move": _copy_move,
    "generator-metadata": _generator,
    "provenance": _provenance,
    "jpeg": _jpeg,
    "detector": _detector,
}
