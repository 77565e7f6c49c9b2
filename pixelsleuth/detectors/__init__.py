"""Learned detectors (the timm CNN), their training and evaluation, and the fusion of all
evidence into one verdict.

- ``model``: the residual CNN, safetensors persistence
- ``data``: samples from manifests and imagefolder datasets, augmentation
- ``train`` / ``evaluate``: `pixelsleuth train` and `pixelsleuth eval`, the spectral baseline
- ``analyzer``: the detector as an analyzer
- ``fusion`` / ``fit_verdict``: the verdict over every analyzer, `pixelsleuth fit-verdict`
"""
