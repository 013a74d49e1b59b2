"""Tests of the Streamlit app: AppTest per page, and one real-browser test."""
