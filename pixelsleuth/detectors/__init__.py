"""Learned detectors (the timm CNN), their training and evaluation (the verdict over all
evidence is in pixelsleuth.verdict).

- ``model``: the residual CNN, safetensors persistence
- ``data``: samples from manifests and imagefolder datasets, augmentation
- ``train`` / ``evaluate``: `pixelsleuth train` and `pixelsleuth eval`, the spectral baseline
- ``analyzer``: the detector as an analyzer
"""
