"""archsim in the browser: `streamlit run app.py`.

Opens on Compare with the built-in default (Llama-3.1-8B, a 2048-token prefill then decode, on
H100 SXM, H200, B200 and MI300X). Pages live in `app_pages/`, one module with `render()` each;
`st.navigation` runs the module's file as the page.
"""

from __future__ import annotations

import streamlit as st

from app_pages import presets, state

st.set_page_config(page_title="archsim", layout="wide")
state.keep_inputs()
pages = [
    st.Page("app_pages/compare.py", title="Compare", default=True),    # at "/"
    st.Page("app_pages/whatif.py", title="What-if", url_path="what-if"),
    st.Page("app_pages/training.py", title="Training", url_path="training"),
    st.Page("app_pages/serving.py", title="Serving & capacity", url_path="serving"),
    st.Page("app_pages/validation.py", title="Validation", url_path="validation"),
    st.Page("app_pages/explore.py", title="Explore", url_path="explore"),
    st.Page("app_pages/hardware.py", title="Hardware", url_path="hardware"),
]
with state.user_errors(stop=False):     # the app's one error boundary: never a traceback
    page = st.navigation(pages)
    presets.apply(page.url_path)        # the page's inputs from the URL, once per session
    page.run()
