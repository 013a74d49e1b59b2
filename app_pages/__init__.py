"""The Streamlit pages of archsim, one module per page, each with `render()`.

`app.py` puts them under `st.navigation`. Pages hold no formulas: they call the same public API
as the CLI (`workloads.get_workload`, `simulator.core.simulate`, `hwspecs`), behind the caches in
`app_pages.state`.
"""
