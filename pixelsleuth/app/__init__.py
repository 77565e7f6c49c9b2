"""The Streamlit app: one screen over the same Report that the CLI and the audit render."""
