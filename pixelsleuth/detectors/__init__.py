"""Learned detectors (the timm CNN), their training and evaluation, and the fusion of all
evidence into one verdict."""
