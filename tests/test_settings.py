"""One Settings object: read once from the environment, overridden by a command's options,
passed down to the reader, the analyzers, the verdict and every audit worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixelsleuth.analyzers import create_analyzers
from pixelsleuth.imageio import DEFAULT_MAX_PIXELS, Limits
from pixelsleuth.settings import Settings

from .conftest import jpeg_bytes, photo_like
from .test_bad_input import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_every_variable_is_read_and_written_back(tmp_path):
    pem = tmp_path / "anchors.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {
        "PIXELSLEUTH_MAX_PIXELS": "2000000",
        "PIXELSLEUTH_MAX_FILE_BYTES": "1048576",
        "PIXELSLEUTH_MEMORY_BUDGET_MB": "1800",
        "PIXELSLEUTH_C2PA_TRUST_ANCHORS": str(pem),
        "PIXELSLEUTH_DETECTOR_WEIGHTS": "hf:org/name",
        "PIXELSLEUTH_DETECTOR_PRECISION": "float32",
        "PIXELSLEUTH_VERDICT_MODEL": str(tmp_path / "verdict.json"),
        "PIXELSLEUTH_CALIBRATION": str(tmp_path / "calibration.json"),
        "PIXELSLEUTH_ONLINE_MAP": "1",
    }
    settings = Settings.from_env(env)
    assert settings.limits == Limits(2_000_000, 1_048_576, 1800.0)
    assert settings.limits.memory_budget_bytes == 1800 * 2**20
    assert settings.detector_precision == "float32" and settings.online_map
    assert settings.trust_anchor_pem().startswith("-----BEGIN")
    assert Settings.from_env(settings.environ()) == settings  # what a child process inherits
    defaults = Settings.from_env({})
    assert defaults == Settings() and defaults.limits.max_pixels == DEFAULT_MAX_PIXELS
    # a command's options win over the environment; unset options leave it alone
    cli = settings.with_options(max_pixels=500, memory_budget_mb=None)
    assert cli.limits == Limits(500, 1_048_576, 1800.0)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("MAX_PIXELS", "lots", "must be a number"),
        ("MEMORY_BUDGET_MB", "-5", "must be above zero"),
        ("DETECTOR_PRECISION", "fp8", "must be one of auto, float32, bfloat16"),
    ],
)
def test_a_bad_value_is_refused_in_words_by_every_command(tmp_path, name, value, words):
    with pytest.raises(ValueError, match=f"PIXELSLEUTH_{name} {words}"):
        Settings.from_env({f"PIXELSLEUTH_{name}": value})
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg_bytes(photo_like(64, 64)))
    env = {**os.environ, f"PIXELSLEUTH_{name}": value}
    proc = subprocess.run(
        [sys.executable, "-m", "pixelsleuth", "analyze", str(photo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and f"PIXELSLEUTH_{name} {words}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_options_configure_the_analyzers_they_create(tmp_path):
    pem = tmp_path / "anchors.pem"
    pem.write_text("PEM TEXT")
    settings = Settings(detector_weights=str(tmp_path / "w"), detector_precision="bfloat16")
    settings = settings.with_options(c2pa_trust_anchors=pem)
    provenance, detector = create_analyzers(["provenance", "detector"], settings=settings)
    assert provenance.trust_anchors == "PEM TEXT"
    assert detector.weights == str(tmp_path / "w") and detector.precision == "bfloat16"
    with pytest.raises(ValueError, match="no such trust-anchor file"):
        settings.with_options(c2pa_trust_anchors=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="--max-pixels must be above zero"):
        settings.with_options(max_pixels=0)


def test_audit_has_the_limits_of_analyze_and_its_workers_apply_them(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "small.jpg").write_bytes(jpeg_bytes(photo_like(40, 40)))
    (folder / "large.jpg").write_bytes(jpeg_bytes(photo_like(200, 300)))
    out = tmp_path / "r.jsonl"
    proc = run_cli(
        "audit", str(folder), "--out", str(out), "--workers", "2", "--max-pixels", "10000",
        "--analyzers", "metadata,jpeg",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["small.jpg"]["error"] is None
    assert "exceeds the limit of 0.0 MP" in rows["large.jpg"]["error"]


def test_only_the_settings_module_reads_pixelsleuths_environment():
    readers = []
    for path in (ROOT / "pixelsleuth").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "settings.py" and ("os.environ.get" in text or "getenv(" in text):
            readers.append(str(path.relative_to(ROOT)))
    # the audit's Ray backend reads Ray's own RAY_ADDRESS, not a setting of ours
    assert readers == ["pixelsleuth/audit.py"], readers
    assert "RAY_ADDRESS" in (ROOT / "pixelsleuth/audit.py").read_text()
