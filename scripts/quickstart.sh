#!/usr/bin/env bash
# Set up pixelsleuth in ./.venv, analyse a few sample images, and audit them into an HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Without an NVIDIA GPU, PyTorch's CPU build: the default PyPI build brings about 3 GB of CUDA
# libraries that such a machine never uses. PIXELSLEUTH_TORCH=default keeps PyPI's build.
cpu_index=https://download.pytorch.org/whl/cpu
if ! command -v nvidia-smi >/dev/null 2>&1 && [ "${PIXELSLEUTH_TORCH:-cpu}" = cpu ] \
    && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if .venv/bin/python -c "import urllib.request as u; u.urlopen('$cpu_index/', timeout=10)" \
      2>/dev/null; then
    .venv/bin/python -m pip install -q torch torchvision --index-url "$cpu_index"
  else  # a closed network or a mirror without it: PyPI's build comes with the package below
    echo "PyTorch's CPU index is not reachable: installing PyPI's build of PyTorch instead"
  fi
fi
.venv/bin/python -m pip install -q -e .
# torch and torchvision must be builds of one release, or the detector cannot load: where they
# are not (a mirror holding only some builds), PyPI's matching pair replaces them
if ! .venv/bin/python -c "import torchvision" 2>/dev/null; then
  echo "torch and torchvision do not match: installing PyPI's matching pair"
  .venv/bin/python -m pip uninstall -q -y torch torchvision
  .venv/bin/python -m pip install -q -e .
fi

corpus=../shared/corpus
samples=()
if [ -d "$corpus" ]; then
  samples+=("$corpus/real/camera/drewnoakes+metadata-extractor-images__jpg__Canon EOS 7D.jpg")
  # a Stable Diffusion 1.5 image without metadata (the pixels must speak) and a ComfyUI one with
  # its settings; both full size (the generator-metadata samples are 1×1 stubs for parsers)
  # (sed reads its whole input: `ls | head` can kill ls by a closed pipe, and pipefail then
  # stops the script)
  samples+=("$(printf '%s\n' "$corpus"/ai/sd15-grid/*.webp | sed -n 1p)")
  samples+=("$(printf '%s\n' "$corpus"/ai/comfyui/*.png | sed -n 1p)")
else
  # no corpus beside the project: make a sample so the command still shows something
  mkdir -p out
  .venv/bin/python - <<'PY'
from PIL import Image, PngImagePlugin
info = PngImagePlugin.PngInfo()
info.add_text("parameters", "a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
              "Seed: 42, Size: 512x384, Model: sd15")
ramp = Image.linear_gradient("L").resize((512, 384))  # full size: every analyzer can judge it
Image.merge("RGB", (ramp, ramp.rotate(180), ramp)).save("out/sample.png", pnginfo=info)
PY
  samples+=(out/sample.png)
fi
.venv/bin/pixelsleuth analyze "${samples[@]}"

# the batch audit of the same samples (linked, never copied or modified) → out/quickstart/
rm -rf out/quickstart && mkdir -p out/quickstart/images
for f in "${samples[@]}"; do ln -s "$(realpath "$f")" "out/quickstart/images/$(basename "$f")"; done
.venv/bin/pixelsleuth audit out/quickstart/images --out out/quickstart/results.jsonl \
    --csv out/quickstart/results.csv --html out/quickstart/report.html
echo "open out/quickstart/report.html in a browser; start the app with: .venv/bin/pixelsleuth app"
echo "pixelsleuth is installed in ./.venv: run it as .venv/bin/pixelsleuth, or put it on your PATH"
echo "for this shell with: source .venv/bin/activate"
