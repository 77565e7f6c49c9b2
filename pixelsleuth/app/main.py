"""Streamlit entry point: `pixelsleuth app` runs `streamlit run` on this file."""

from __future__ import annotations

import streamlit as st

from pixelsleuth import __version__
from pixelsleuth.app import audit_page, generate_page, inspect_page

PAGES = {
    "Inspect": inspect_page.render,
    "Audit": audit_page.render,
    "Generate": generate_page.render,
}

st.set_page_config(page_title="pixelsleuth", layout="wide")
with st.sidebar:
    st.title("pixelsleuth")
    st.caption(
        "Camera original, edited photograph, or AI-generated? Every answer comes with its "
        "evidence. Nothing you upload leaves this server, and no file is ever modified."
    )
    page = st.radio("Page", list(PAGES), key="page")
    st.caption(f"pixelsleuth {__version__}")
PAGES[page]()
