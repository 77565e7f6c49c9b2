"""Labelled datasets: generated fakes (diffusers SD/LCM pipelines), ingested real photos,
manifests and splits."""
