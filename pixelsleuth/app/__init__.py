"""The Streamlit app: Inspect, Audit and Generate on one screen (`pixelsleuth app`).

The pages only lay out what the library returns: every analysis runs through
:func:`pixelsleuth.analyze.analyze_bytes`, :func:`pixelsleuth.audit.audit` and
:func:`pixelsleuth.datasets.generate.generate`, exactly as the command line does.
"""

from pathlib import Path

MAIN_SCRIPT = Path(__file__).with_name("main.py")
