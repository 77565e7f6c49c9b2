"""A magnifier over the image and its maps, side by side at the same scale.

The panes are one self-contained HTML component (images as data URIs, no script or style
from anywhere else, so nothing is fetched): moving the pointer over any pane shows a round
lens at the same spot in every pane, at 1–16 screen pixels per image pixel of the full-
resolution picture. Layout only: the pictures come from the library.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import streamlit.components.v1 as components
from PIL import Image

MAX_PIXELS = 24_000_000  # what one pane sends to the browser at most (about 6 MB as JPEG)
ZOOMS = (1, 2, 4, 8, 16)


def data_uri(rgb: np.ndarray, quality: int = 92) -> str:
    """``rgb`` (uint8 H×W×3) as a JPEG data URI (PNG for small pictures, where JPEG's blocks
    would be visible under the lens), downscaled only above :data:`MAX_PIXELS`."""
    im = Image.fromarray(np.ascontiguousarray(rgb))
    if im.width * im.height > MAX_PIXELS:
        scale = (MAX_PIXELS / (im.width * im.height)) ** 0.5
        im = im.resize((int(im.width * scale), int(im.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if im.width * im.height <= 1_000_000:
        im.save(buf, "PNG", compress_level=1)
        mime = "image/png"
    else:
        im.save(buf, "JPEG", quality=quality)
        mime = "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode()


def magnifier_html(panes: list[tuple[str, str]], aspect: float, zoom: int = 4) -> str:
    """The component's document: ``panes`` are (caption, data URI) pairs of pictures of one
    size; ``aspect`` is height / width. Self-contained: no external resource."""
    figures = "\n".join(
        f'<figure><div class="pane"><img src="{uri}" alt="{html.escape(cap)}">'
        f'<div class="lens"></div></div><figcaption>{html.escape(cap)}</figcaption></figure>'
        for cap, uri in panes
    )
    options = "".join(
        f'<option value="{z}"{" selected" if z == zoom else ""}>{z}× (image pixels)</option>'
        for z in ZOOMS
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body{{margin:0;font:13px sans-serif;color:#31333f}}
.row{{display:grid;grid-template-columns:repeat({len(panes)},1fr);gap:8px}}
figure{{margin:0}} figcaption{{text-align:center;color:#666;padding:2px}}
.pane{{position:relative;cursor:crosshair;line-height:0}}
.pane img{{width:100%;height:auto;display:block}}
.lens{{position:absolute;display:none;width:180px;height:180px;border-radius:50%;
border:2px solid #fff;box-shadow:0 0 0 1px #333,0 2px 8px rgba(0,0,0,.4);
background-repeat:no-repeat;image-rendering:pixelated;pointer-events:none}}
.bar{{margin:4px 0 6px}}
</style></head><body>
<div class="bar">Magnifier: move the pointer over any picture; the lens shows the same spot in
each. <label>Zoom <select id="zoom">{options}</select></label></div>
<div class="row">{figures}</div>
<script>
const panes = Array.from(document.querySelectorAll('.pane'));
const zoomBox = document.getElementById('zoom');
function show(fx, fy) {{
  const z = Number(zoomBox.value);
  for (const pane of panes) {{
    const img = pane.querySelector('img'), lens = pane.querySelector('.lens');
    const w = img.clientWidth, h = img.clientHeight, L = lens.offsetWidth || 180;
    const W = img.naturalWidth * z, H = img.naturalHeight * z;
    lens.style.display = 'block';
    lens.style.left = (fx * w - L / 2) + 'px';
    lens.style.top = (fy * h - L / 2) + 'px';
    lens.style.backgroundImage = 'url(' + img.src + ')';
    lens.style.backgroundSize = W + 'px ' + H + 'px';
    lens.style.backgroundPosition = (L / 2 - fx * W) + 'px ' + (L / 2 - fy * H) + 'px';
  }}
}}
function hide() {{ for (const p of panes) p.querySelector('.lens').style.display = 'none'; }}
for (const pane of panes) {{
  pane.addEventListener('mousemove', e => {{
    const r = pane.getBoundingClientRect();
    show((e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
  }});
  pane.addEventListener('mouseleave', hide);
}}
window.pixelsleuthLens = show;  // lets a test (or a keyboard user's script) place the lens
</script></body></html>"""


def magnifier(panes: list[tuple[str, np.ndarray]], width: int = 620) -> None:
    """Show ``panes`` ((caption, uint8 H×W×3 picture of one size) pairs) side by side at the
    same scale with a synchronised lens; ``width`` is the space the panes get, in CSS px."""
    if not panes:
        return
    h, w = panes[0][1].shape[:2]
    uris = [(cap, data_uri(pic)) for cap, pic in panes]
    pane_width = (width - 8 * (len(panes) - 1)) / len(panes)
    height = int(pane_width * h / w) + 70
    components.html(magnifier_html(uris, h / w), height=height, scrolling=False)
