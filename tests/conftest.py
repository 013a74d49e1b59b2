"""Test-wide environment: no network, and a throw-away cache directory for the session.

Set at import, before any test module imports huggingface_hub or reads the cache location.
"""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
_CACHE_DIR = tempfile.mkdtemp(prefix="archsim-test-cache-")
os.environ["ARCHSIM_CACHE_DIR"] = _CACHE_DIR


def pytest_unconfigure(config) -> None:
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)
