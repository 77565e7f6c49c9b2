import subprocess
import sys

import pytest

from pixelsleuth.analyze import analyze_bytes
from pixelsleuth.analyzers import (
    _REGISTRY,
    BUILTIN,
    Analyzer,
    available_analyzers,
    create_analyzers,
    register,
)
from pixelsleuth.report import Finding

from .conftest import jpeg_bytes, photo_like


def test_builtin_analyzers_are_registered_in_report_order():
    names = list(available_analyzers())
    for name in ("metadata", "generator-metadata", "provenance", "integrity"):
        assert name in names
    assert names.index("metadata") < names.index("integrity")


def test_every_builtin_module_registers_the_analyzer_it_is_listed_for():
    registry = available_analyzers()
    for name, module in BUILTIN.items():
        assert registry[name].__module__ == module


def test_metadata_alone_does_not_import_the_pixel_stack():
    # A metadata audit of thousands of files should not pay for torch, OpenCV and SciPy.
    code = (
        "import sys\n"
        "from pixelsleuth.analyze import analyze_bytes\n"
        "from tests.conftest import jpeg_bytes, photo_like\n"
        "report = analyze_bytes(jpeg_bytes(photo_like()), 'x.jpg', ['metadata', 'provenance'])\n"
        "assert [f.analyzer for f in report.findings] == ['metadata', 'provenance']\n"
        "print(sorted(m for m in ('torch', 'cv2', 'scipy', 'timm') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_new_analyzer_is_one_class():
    @register
    class MeanBrightness(Analyzer):
        name = "test-mean-brightness"
        title = "Mean brightness"
        explains = "Test only."
        default = False

        def analyze(self, image):
            return Finding(
                self.name, "Mean computed.", details={"mean": float(image.gray().mean())}
            )

    try:
        report = analyze_bytes(jpeg_bytes(photo_like()), "x.jpg", ["test-mean-brightness"])
        (finding,) = report.findings
        assert 80 < finding.details["mean"] < 180
        assert "test-mean-brightness" not in [a.name for a in create_analyzers()]
    finally:
        _REGISTRY.pop("test-mean-brightness")


def test_unknown_analyzer_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown analyzer"):
        create_analyzers(["no-such-thing"])


def test_a_crashing_analyzer_does_not_lose_the_others():
    class Broken(Analyzer):
        name = "broken"
        title = "Broken"
        explains = "Test only."

        def analyze(self, image):
            raise ZeroDivisionError("boom")

    analyzers = [Broken(), *create_analyzers(["metadata"])]
    report = analyze_bytes(jpeg_bytes(photo_like()), "x.jpg", analyzers)
    broken, metadata = report.findings
    assert broken.error == "internal error: ZeroDivisionError: boom"
    assert metadata.error is None and metadata.score is not None
