"""The Streamlit app, driven as a person would: AppTest for each page's logic, and a real
headless Chromium against `pixelsleuth app` for the screenshot."""

from __future__ import annotations

import io
import os
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
    headers = [_plain(s.value) for s in at.subheader]
    assert headers[:3] == [good.name, "notes.txt", "truncated.jpg"]
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
    at.text_input(key="audit_folder").set_value(str(folder)).run()
    at.button(key="audit_run").click().run()
    assert not at.exception, at.exception
    job = at.session_state["audit_job"]
    assert job.wait(TIMEOUT) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    assert at.subheader[-1].value == "4 files"
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table["verdict"]) >= {"error"}
    at.multiselect(key="audit_filter").set_value(["error"]).run()
    assert len(at.dataframe[0].value) == 1
    assert "readme.txt" in at.selectbox(key="audit_open").value
    labels = {d.label for d in at.get("download_button")}
    assert labels >= {"Download results.jsonl", "Download results.csv", "Download report.html"}


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


def test_generate_page_explains_a_bad_request():
    at = _app("Generate")
    at.radio(key="gen_mode").set_value("image-to-image").run()
    at.text_input(key="gen_model").set_value("some/model").run()
    at.button(key="gen_run").click().run()
    assert not at.exception
    assert "needs --images" in _plain(at.error[0].value)


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
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
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
