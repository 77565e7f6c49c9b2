"""The Streamlit app, driven as a person would: AppTest for each page's logic, and a real
headless Chromium against `pixelsleuth app` for the screenshot."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pixelsleuth.app import MAIN_SCRIPT

from .conftest import corpus_dir, corpus_manifest, jpeg_bytes, photo_like

TIMEOUT = 300  # seconds for one script run (the first loads torch and the models)


def _app(page: str = "Inspect") -> AppTest:
    at = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    if page != "Inspect":
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, at.exception
    return at


def _plain(text: str) -> str:
    """What the reader sees: the app escapes Markdown in text that comes from files."""
    return str(text).replace("\\", "")


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.label for e in at.expander] + [s.value for s in at.subheader]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    return _plain("\n".join(str(p) for p in parts))


def _corpus_file(group: str) -> Path:
    entry = next(e for e in corpus_manifest() if e["group"] == group)
    return corpus_dir() / entry["path"]


def _inspect(path: Path, mime: str) -> AppTest:
    """The Inspect page after uploading ``path`` (stability check off, for speed)."""
    at = _app()
    at.toggle(key="stability").set_value(False)
    at.file_uploader(key="uploads").upload(path.name, path.read_bytes(), mime)
    at.run()
    assert not at.exception, at.exception
    return at


def test_inspect_shows_verdict_and_every_section_for_a_corpus_image():
    at = _inspect(_corpus_file("comfyui"), "image/png")
    text = _texts(at)
    assert ":red-background[AI-generated]" in text  # the verdict badge
    assert "ComfyUI" in text  # the top reason
    for title in (
        "Metadata (EXIF, XMP, IPTC, ICC)",
        "AI generator metadata",
        "Provenance (C2PA Content Credentials)",
        "Error level analysis",
        "Noise consistency",
        "JPEG ghosts",
        "Copy-move (cloned regions)",
        "Noise spectrum (periodic traces)",
        "AI-image detector (CNN)",
    ):
        assert title in text, title
    # every section says what it means and what it cannot prove
    assert "absence proves nothing" in text
    assert "C2PA status:" in text
    assert len(at.slider) >= 3  # heatmap opacity sliders beside the image
    assert any(d.label.startswith("Download the report") for d in at.get("download_button"))


def test_inspect_badge_says_the_label_once_and_prompts_are_whole_with_a_copy_button():
    from pixelsleuth.analyze import analyze_file
    from pixelsleuth.analyzers import create_analyzers

    path = _corpus_file("comfyui")
    at = _inspect(path, "image/png")
    header = next(m.value for m in at.markdown if m.value.startswith("### "))
    assert header.count("AI-generated") == 1, header  # the badge, not repeated beside it
    assert "P(AI)" in header
    generator = analyze_file(path, create_analyzers(["generator-metadata"])).findings[0]
    prompt = generator.details["generator"].prompt
    assert len(prompt) > 80  # a long prompt: a table cell would cut it
    codes = [c.value for c in at.code]
    assert prompt in codes  # shown whole, in a code block (which has a copy button)
    # the ComfyUI graph is there to view
    toggle = next(t for t in at.toggle if "ComfyUI" in t.label)
    toggle.set_value(True).run()
    assert not at.exception, at.exception
    assert at.json and any("KSampler" in str(j.value) for j in at.json)


def test_inspect_shows_every_tag_the_edit_history_and_the_iptc_credits():
    camera = corpus_dir("real", "camera")
    at = _inspect(
        camera / "drewnoakes+metadata-extractor-images__jpg__Canon EOS 7D.jpg", "image/jpeg"
    )
    text = _texts(at)
    assert "Description and credits (IPTC)" in text and "Edit history (XMP)" in text
    history = next(d.value for d in at.dataframe if "when" in d.value.columns)
    assert list(history["action"]) == ["saved"] * 3
    toggle = next(t for t in at.toggle if t.label.startswith("Show all metadata"))
    toggle.set_value(True).run()
    assert not at.exception, at.exception
    every = next(d.value for d in at.dataframe if "tag" in d.value.columns)
    assert len(every) > 100 and {"IFD0", "ExifIFD", "IPTC"} <= set(every["group"])
    assert any(g.startswith("XMP-") for g in every["group"])


def _recompute(at: AppTest, which: int) -> None:
    """Press the n-th "Recompute" button (0: ELA's, 1: copy-move's) and rerun."""
    [b for b in at.button if b.label == "Recompute"][which].click().run()


def test_ela_and_copy_move_settings_are_recomputed_on_demand():
    """ELA at another quality and amplification, and copy-move at the calibrated defaults and
    at a stricter setting, each recomputed when the user asks, with the magnifier beside."""
    forged = sorted(corpus_dir("forged", "copy-move").iterdir())[0]
    at = _inspect(forged, "image/png" if forged.suffix == ".png" else "image/jpeg")
    recompute = [b for b in at.button if b.label == "Recompute"]
    assert len(recompute) == 2  # ELA's and copy-move's
    at.slider(key=next(s.key for s in at.slider if s.key.endswith("-q"))).set_value(75)
    at.slider(key=next(s.key for s in at.slider if s.key.endswith("-scale"))).set_value(30)
    _recompute(at, 0)
    assert not at.exception, at.exception
    assert "Error level at quality 75, amplified 30×" in _texts(at)
    _recompute(at, 1)
    assert not at.exception, at.exception
    found = next(c.value for c in at.caption if "copied region(s) at correlation" in c.value)
    default_count = int(found.split()[0])
    at.slider(key=next(s.key for s in at.slider if s.key.endswith("-area"))).set_value(2.0)
    at.slider(key=next(s.key for s in at.slider if s.key.endswith("-z"))).set_value(0.99)
    _recompute(at, 1)
    strict = next(c.value for c in at.caption if "copied region(s) at correlation" in c.value)
    assert "correlation ≥ 0.99 and at least 2.00 %" in strict
    assert int(strict.split()[0]) <= default_count
    assert default_count >= 1  # a forged copy-move image: the defaults find the copy


def test_inspect_reads_an_iphone_style_heic_with_its_metadata():
    from .test_metadata import _phone_photo

    at = _app()
    at.toggle(key="stability").set_value(False)
    at.file_uploader(key="uploads").upload("IMG_0001.HEIC", _phone_photo("HEIF"), "image/heic")
    at.run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "not a recognised image" not in text
    assert "HEIF · 400×300" in text  # identified and decoded
    assert "iPhone 15 Pro" in text and "48.858333, 2.294444" in text  # EXIF and GPS


def test_map_captions_do_not_repeat_the_analyzer_name():
    from pixelsleuth.app.audit_page import map_caption

    assert map_caption("ghost: ghost") == "JPEG ghosts"
    assert map_caption("ghost: jpeg_grid") == "JPEG ghosts — jpeg grid"
    assert map_caption("copy-move: copy_move") == "Copy-move (cloned regions)"


def test_verdict_labels_render_generically():
    from pixelsleuth.app.card import badge, in_words, label_name

    assert label_name("camera-original") == "Camera original"
    assert label_name("no-signs-found") == "No signs found"
    assert badge("no-signs-found") == ":blue-background[No signs found]"
    # a label the verdict may add later renders without a change to the app
    assert badge("too-blurry-to-judge") == ":gray-background[Too blurry to judge]"
    assert badge("ai-generated") == ":red-background[AI-generated]"
    assert (
        in_words("not a recognised image (UnidentifiedImageError: cannot identify image file x)")
        == "not a recognised image"
    )
    assert in_words("damaged (OSError: image file is truncated)") == (
        "damaged (image file is truncated)"
    )


def test_inspect_says_why_the_detector_did_not_judge_a_thumbnail():
    """A 113×85 camera thumbnail: the detector's section explains that it is too small to judge
    and shows no probability, and the rest of the card is there."""
    camera = corpus_dir("real", "camera")
    at = _inspect(
        camera / "drewnoakes+metadata-extractor-images__jpg__Olympus X-2.jpg", "image/jpeg"
    )
    text = _texts(at)
    assert (
        "The detector did not judge this image: 113×85 px is under the detector's minimum" in text
    )
    detector = next(e for e in at.expander if e.label.startswith("AI-image detector (CNN)"))
    assert "suspicion" not in detector.label  # no score, so no suspicion in its title
    assert not detector.get("progress")  # and no probability bar
    assert "Metadata (EXIF, XMP, IPTC, ICC)" in text


def test_inspect_handles_damaged_and_non_image_uploads_beside_a_good_one():
    broken = next(e for e in corpus_manifest() if e["label"] == "broken" and e["bytes"] != "0")
    good = _corpus_file("camera")
    at = _app()
    at.toggle(key="stability").set_value(False)
    at.file_uploader(key="uploads").set_value(
        [
            (good.name, good.read_bytes(), "image/jpeg"),
            ("notes.txt", b"this is not an image", "text/plain"),
            ("truncated.jpg", jpeg_bytes(photo_like(256, 256))[:400], "image/jpeg"),
            (Path(broken["path"]).name, (corpus_dir() / broken["path"]).read_bytes(), "image/jpeg"),
        ]
    ).run()
    assert not at.exception, at.exception
    errors = [_plain(e.value) for e in at.error]
    assert any("not a recognised image" in e for e in errors), errors
    # in words: no exception class names ("UnidentifiedImageError: …") anywhere on the page
    assert not re.search(r"[A-Z][A-Za-z]+(Error|Exception)\b", _texts(at)), errors
    headers = [_plain(s.value) for s in at.subheader]
    assert headers[:4] == ["4 files", good.name, "notes.txt", "truncated.jpg"]
    summary = at.dataframe[0].value  # the summary table comes before the cards
    assert list(summary["file"]) == [good.name, "notes.txt", "truncated.jpg", headers[4]]
    assert summary["verdict"][1] == "could not be analysed"
    assert "not a recognised image" in summary["top reason"][1]
    text = _texts(at)
    assert "File integrity" in text  # the truncated JPEG still gets its findings
    # the good photo got its full card
    assert any(
        b in text
        for b in (
            "Camera original",
            "No signs found",
            "Inconclusive",
            "Manipulated",
            "AI-generated",
        )
    )


def test_hostile_metadata_cannot_inject_markdown():
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "![track](http://evil.example/t.png) :red[FAKE] $x$\nSteps: 20, Sampler: Euler, "
        "CFG scale: 7, Seed: 1, Size: 96x128, Model: [click](http://evil.example)",
    )
    buf = io.BytesIO()
    Image.fromarray(photo_like()).save(buf, "PNG", pnginfo=info)
    at = _app()
    at.toggle(key="stability").set_value(False)
    at.file_uploader(key="uploads").upload("x.png", buf.getvalue(), "image/png").run()
    assert not at.exception, at.exception
    raw = "\n".join(m.value for m in at.markdown)
    assert "click" in raw  # the hostile model name is shown ...
    assert "](http" not in raw and ":red[" not in raw  # ... but as text, not as Markdown


def test_audit_page_runs_on_a_small_folder_and_opens_a_row(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.jpg").write_bytes(jpeg_bytes(photo_like(96, 128, seed=i)))
    (folder / "readme.txt").write_text("not an image")
    at = _app("Audit")
    assert at.toggle(key="audit_stability").value is True  # as `pixelsleuth audit`
    at.toggle(key="audit_stability").set_value(False)
    at.text_input(key="audit_folder").set_value(str(folder)).run()
    at.button(key="audit_run").click().run()
    assert not at.exception, at.exception
    job = at.session_state["audit_job"]
    assert job.wait(TIMEOUT) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    assert at.subheader[-1].value == "4 files"
    progress = at.get("progress")[0]
    assert progress.value == 100 and progress.text.startswith("Done: 4/4"), progress.text
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table["verdict"]) >= {"Error"}
    # the verdict and the top reason come before the detector's column, the server path not at all
    table_element = at.dataframe[0].proto
    assert list(table_element.column_order) == [
        "image",
        "file",
        "verdict",
        "P(AI)",
        "P(manipulated)",
        "top reason",
        "detector",
    ]
    # the user's names, not the server's paths; no "None" where an error row has no image
    assert list(table["file"]) == ["p0.jpg", "p1.jpg", "p2.jpg", "readme.txt"]
    assert all(str(uri).startswith("data:image/") for uri in table["image"])
    # whole percents: the models do not support decimals
    shown = [v for v in table["P(AI)"].tolist() + table["detector"].tolist() if v is not None]
    shown = [v for v in shown if v == v]  # NaN: no value
    assert shown and all(float(v).is_integer() and 0 <= v <= 100 for v in shown)
    error_row = table[table["file"] == "readme.txt"].iloc[0]
    assert "not a recognised image" in error_row["top reason"]
    assert not re.search(r"[A-Z][a-z]+Error\b", error_row["top reason"])
    # an opened row is the Inspect page's card of the Report the audit kept: every section,
    # with the evidence the row itself does not carry, and the small maps
    sections = [e.label for e in at.expander]
    assert any(s.startswith("Error level analysis — suspicion") for s in sections), sections
    captions = [c for im in at.get("image") for c in im.captions]
    assert len(sections) >= 8 and "image" in captions and len(captions) >= 3, captions
    # a row opens as a full card: the maps under the magnifier, every section
    card = next(t for t in at.toggle if t.label.startswith("Open the full card"))
    card.set_value(True).run()
    assert not at.exception, at.exception
    assert "Error level analysis" in _texts(at) and len(at.slider) >= 3
    at.multiselect(key="audit_filter").set_value(["error"]).run()
    assert len(at.dataframe[0].value) == 1
    assert at.selectbox(key="audit_open").value == "readme.txt"
    # the opened error row explains itself in words, without exception class names
    assert "not a recognised image" in _texts(at)
    assert not re.search(r"[A-Z][a-z]+Error\b", _texts(at)), _texts(at)
    assert job.total == 4 and job.done == 4
    labels = {d.label for d in at.get("download_button")}
    assert labels >= {"Download results.jsonl", "Download results.csv", "Download report.html"}


def test_audit_page_names_zip_rows_by_their_name_in_the_zip():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("holiday/beach.jpg", jpeg_bytes(photo_like(96, 128, seed=3)))
        z.writestr("notes.txt", "not an image")
    at = _app("Audit")
    at.toggle(key="audit_stability").set_value(False)
    at.radio(key="audit_source").set_value("An uploaded zip").run()
    at.file_uploader(key="audit_zip").upload("photos.zip", buf.getvalue(), "application/zip")
    at.run()
    at.button(key="audit_run").click().run()
    job = at.session_state["audit_job"]
    assert job.wait(TIMEOUT) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    assert sorted(at.dataframe[0].value["file"]) == ["holiday/beach.jpg", "notes.txt"]
    assert sorted(at.selectbox(key="audit_open").options) == ["holiday/beach.jpg", "notes.txt"]


def test_audit_page_refuses_a_missing_folder_and_a_bad_zip():
    at = _app("Audit")
    at.text_input(key="audit_folder").set_value("/no/such/folder").run()
    assert "is not a folder" in _plain(at.error[0].value)
    at.radio(key="audit_source").set_value("An uploaded zip").run()
    at.file_uploader(key="audit_zip").upload("x.zip", b"PK\x03\x04 broken", "application/zip")
    at.run()
    assert not at.exception and "Could not use this zip" in _plain(at.error[0].value)


def test_generate_page_runs_a_tiny_model_in_the_background(tmp_path):
    from .tiny_diffusers import build_sd

    model = build_sd(tmp_path / "tiny-sd")
    out = tmp_path / "fakes"
    at = _app("Generate")
    at.text_input(key="gen_model").set_value(str(model))
    at.number_input(key="gen_count").set_value(2)
    at.number_input(key="gen_steps").set_value(2)
    at.number_input(key="gen_size").set_value(64)
    at.text_input(key="gen_out").set_value(str(out))
    at.button(key="gen_run").click().run()
    assert not at.exception, at.exception
    job = at.session_state["gen_job"]
    assert job.wait(TIMEOUT) and job.error is None, job.error
    assert job.result.written == 2
    at.run()
    assert not at.exception, at.exception
    assert "2 generated images" in at.subheader[-1].value
    assert len(list(out.rglob("*.png"))) == 2
    captions = [c for im in at.get("image") for c in im.captions]
    assert len(captions) == 2 and all("seed " in c and "?" not in c for c in captions), captions


def test_generate_page_explains_a_bad_request():
    at = _app("Generate")
    at.radio(key="gen_mode").set_value("image-to-image").run()
    at.text_input(key="gen_model").set_value("some/model").run()
    at.button(key="gen_run").click().run()
    assert not at.exception
    shown = _plain(at.error[0].value)
    assert "needs the “Folder of real photos” field" in shown and "--" not in shown, shown
    at.radio(key="gen_mode").set_value("text-to-image").run()
    at.text_input(key="gen_model").set_value("").run()
    at.button(key="gen_run").click().run()
    shown = _plain(at.error[0].value)
    assert "needs the “Model” field" in shown and "--" not in shown, shown


def test_generate_page_shows_steps_and_size_only_where_they_apply():
    at = _app("Generate")
    keys = {n.key for n in at.number_input}
    assert {"gen_steps", "gen_size"} <= keys  # text-to-image uses both
    at.radio(key="gen_mode").set_value("image-to-image").run()
    keys = {n.key for n in at.number_input}
    assert "gen_steps" in keys and "gen_size" not in keys  # the photos keep their size
    at.radio(key="gen_mode").set_value("aligned").run()
    keys = {n.key for n in at.number_input}
    assert "gen_steps" not in keys and "gen_size" not in keys  # one autoencoder pass


# -- a real browser -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(port: int, timeout: float) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the app did not start")


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def _served_app(*app_args: str):
    """``pixelsleuth app`` on a free port and a headless Chromium: yields (browser, base URL)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright drives Chromium")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pixelsleuth", "app", "--port", str(port), *app_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_http(port, 120)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                yield browser, f"http://127.0.0.1:{port}/"
            finally:
                browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def _recording_page(browser, width: int, height: int):
    """A new page and the list of every URL it requests (HTTP and websockets): the one
    recorder the offline tests and the opt-in test share, so the opt-in test proves it sees
    requests that leave the server."""
    context = browser.new_context(viewport={"width": width, "height": height})
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("websocket", lambda ws: requests.append(ws.url))
    return context, page, requests


def _upload_and_wait(page, *paths: Path, expect: int | None = None) -> None:
    """Upload ``paths`` on the Inspect page and wait for ``expect`` cards (default: one each)."""
    page.get_by_text("Inspect images").wait_for(timeout=180_000)
    page.locator("input[type=file]").first.set_input_files([str(p) for p in paths])
    downloads = page.get_by_text("Download the report (JSON)")
    expect = len(paths) if expect is None else expect
    deadline = time.time() + 300
    while downloads.count() < expect and time.time() < deadline:
        time.sleep(1)
    assert downloads.count() == expect, "the cards did not all appear"
    time.sleep(2)  # let the last images paint


@pytest.mark.slow
def test_inspecting_a_photo_with_gps_makes_no_request_beyond_the_server(tmp_path):
    """Every request the page makes (documents, scripts, images, tiles, websockets) is
    recorded while a photo with GPS coordinates is inspected and its metadata opened; none may
    leave 127.0.0.1. The position is shown as coordinates and an offline sketch."""
    from urllib.parse import urlsplit

    gps_photo = corpus_dir("metadata", "exiftool-samples") / (
        "exiftool+exiftool__t__images__GPS.jpg"
    )
    with _served_app() as (browser, url):
        context, page, requests = _recording_page(browser, 1400, 1600)
        page.goto(url, timeout=120_000)
        _upload_and_wait(page, gps_photo)
        sketch = page.get_by_text("drawn offline").first
        if not sketch.is_visible():  # a suspicion under 0.5 leaves the section closed
            page.get_by_text("Metadata (EXIF, XMP, IPTC, ICC)").first.click()
        sketch.wait_for(timeout=30_000)
        sketch.scroll_into_view_if_needed()
        time.sleep(3)  # anything a map widget would fetch has had time to start
        page.screenshot(path=str(_shot_dir(tmp_path) / "inspect-gps.png"), full_page=True)
        body = page.inner_text("body")
        context.close()
    assert "54.989667, -1.914167" in body
    assert "54°59′22.8″ N, 1°54′51.0″ W" in body
    assert len(requests) > 10  # the recording worked: the page loaded its own assets
    hosts = {urlsplit(u).hostname for u in requests if urlsplit(u).scheme not in ("data", "blob")}
    assert hosts == {"127.0.0.1"}, sorted(u for u in requests if "127.0.0.1" not in u)


@pytest.mark.slow
def test_every_page_in_headless_chromium_with_screenshots_and_no_outside_request(tmp_path):
    """Inspect with one file and with three (the summary table), the magnifier, Audit while
    running and when done (a folder) and from a zip, and Generate, driven in Chromium; each is
    photographed (PIXELSLEUTH_SCREENSHOT_DIR keeps them) and no request leaves 127.0.0.1."""
    import zipfile
    from urllib.parse import urlsplit

    shots = _shot_dir(tmp_path)
    camera = corpus_dir("real", "camera")
    one = camera / "drewnoakes+metadata-extractor-images__jpg__Canon EOS 7D.jpg"
    three = [one, _corpus_file("comfyui"), tmp_path / "notes.txt"]
    three[2].write_text("not an image")
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        (folder / f"p{i}.jpg").write_bytes(jpeg_bytes(photo_like(300, 400, seed=i)))
    (folder / "readme.txt").write_text("not an image")
    archive = tmp_path / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(folder / "p0.jpg", "beach/p0.jpg")
        z.write(folder / "readme.txt", "readme.txt")
    with _served_app() as (browser, url):
        context, page, requests = _recording_page(browser, 1500, 1100)

        def shot(name: str) -> None:
            time.sleep(1.5)
            page.screenshot(path=str(shots / f"{name}.png"))

        page.goto(url, timeout=120_000)
        _upload_and_wait(page, one)
        body = page.inner_text("body")
        assert "Camera original" in body or "Manipulated" in body or "Inconclusive" in body
        shot("inspect-one")
        # the magnifier: place its lens in the middle of the first picture pair
        frame = next(f for f in page.frames if f != page.main_frame and "Magnifier" in f.content())
        frame.frame_element().scroll_into_view_if_needed()
        frame.evaluate("window.pixelsleuthLens(0.45, 0.4)")
        lenses = frame.locator(".lens")
        assert lenses.count() == 2 and all(
            lenses.nth(i).is_visible() for i in range(2)
        )  # the same spot in the image and in the map
        shot("magnifier")
        page.goto(url, timeout=120_000)
        _upload_and_wait(page, *three[:2], three[2], expect=3)
        page.get_by_text("3 files").first.scroll_into_view_if_needed()
        shot("inspect-three")
        summary = page.inner_text("body")
        assert "3 files" in summary and "UnidentifiedImageError" not in summary

        page.get_by_text("Audit", exact=True).first.click()
        page.get_by_label("Folder path").fill(str(folder))
        page.get_by_label("Folder path").press("Enter")
        page.get_by_role("button", name="Run the audit").click()
        page.get_by_text("Auditing:").first.wait_for(timeout=60_000)
        shot("audit-running")
        page.get_by_text("Done: 7/7").first.wait_for(timeout=300_000)
        page.get_by_text("7 files").first.wait_for(timeout=30_000)
        shot("audit-done")
        # the opened row is the Inspect card of the Report the audit kept
        page.get_by_text("Open the full card").first.scroll_into_view_if_needed()
        shot("audit-row")
        page.get_by_text("Image and heatmaps").first.scroll_into_view_if_needed()
        shot("audit-row-maps")
        assert "Error level analysis" in page.inner_text("body")
        page.get_by_text("An uploaded zip").first.click()
        page.locator("input[type=file]").first.set_input_files(str(archive))
        page.get_by_text("Unpacked 2 files").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Run the audit").click()
        page.get_by_text("Done: 2/2").first.wait_for(timeout=300_000)
        page.get_by_text("2 files").first.wait_for(timeout=30_000)
        shot("audit-zip")

        page.get_by_text("Generate", exact=True).first.click()
        page.get_by_text("Generate a labelled fake dataset").wait_for(timeout=60_000)
        page.get_by_text("Output folder").first.wait_for(timeout=60_000)
        refusal = page.get_by_text("needs the “Model” field").first
        for _ in range(3):  # a click during a rerun of the busy page can be lost
            page.get_by_role("button", name="Generate", exact=True).click()
            try:
                refusal.wait_for(timeout=30_000)
                break
            except Exception:
                continue
        assert refusal.is_visible()
        shot("generate")
        context.close()
    hosts = {urlsplit(u).hostname for u in requests if urlsplit(u).scheme not in ("data", "blob")}
    assert hosts == {"127.0.0.1"}, sorted(u for u in requests if "127.0.0.1" not in u)


@pytest.mark.slow
def test_the_request_recorder_sees_map_tiles_when_the_operator_opts_in(tmp_path):
    """The same recording with `pixelsleuth app --online-map`: now the street map asks a tile
    server outside, and the recorder sees it, so the test above can fail."""
    from urllib.parse import urlsplit

    gps_photo = corpus_dir("metadata", "exiftool-samples") / (
        "exiftool+exiftool__t__images__GPS.jpg"
    )
    with _served_app("--online-map") as (browser, url):
        context, page, requests = _recording_page(browser, 1400, 1600)
        page.goto(url, timeout=120_000)
        _upload_and_wait(page, gps_photo)
        if not page.get_by_text("GPS").first.is_visible():
            page.get_by_text("Metadata (EXIF, XMP, IPTC, ICC)").first.click()
        deadline = time.time() + 30
        outside: list[str] = []
        while not outside and time.time() < deadline:
            time.sleep(1)
            outside = [u for u in requests if urlsplit(u).hostname not in ("127.0.0.1", None)]
        context.close()
    assert outside, "no request left the server although the operator asked for a street map"


def _shot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: PIXELSLEUTH_SCREENSHOT_DIR to keep and look at them."""
    folder = Path(os.environ.get("PIXELSLEUTH_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.slow
def test_app_in_headless_chromium_uploads_an_image_and_shows_the_verdict(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright drives Chromium")
    image = _corpus_file("camera")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pixelsleuth", "app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    shot = Path(os.environ.get("PIXELSLEUTH_SCREENSHOT", tmp_path / "app.png"))
    try:
        _wait_http(port, 120)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                args=CHROMIUM_ARGS,
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            page.get_by_text("Inspect images").wait_for(timeout=180_000)
            page.locator("input[type=file]").first.set_input_files(str(image))
            shot.parent.mkdir(parents=True, exist_ok=True)
            try:  # the card is complete once its download button is there
                page.get_by_text("Download the report (JSON)").wait_for(timeout=240_000)
                page.get_by_text("AI-image detector (CNN)").first.wait_for(timeout=30_000)
                time.sleep(2)  # let the last images paint
            finally:
                page.screenshot(path=str(shot), full_page=False)
            body = page.inner_text("body")
            browser.close()
        assert any(
            v in body
            for v in (
                "Camera original",
                "No signs found",
                "Manipulated",
                "AI-generated",
                "Inconclusive",
            )
        )
        for title in (
            "Metadata (EXIF, XMP, IPTC, ICC)",
            "JPEG tables and compression history",
            "Error level analysis",
            "AI-image detector (CNN)",
        ):
            assert title in body, title
        assert shot.stat().st_size > 20_000
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
