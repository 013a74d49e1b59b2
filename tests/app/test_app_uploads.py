"""Issue 19: uploads are written where only this user can read them, in a folder of this
process's own that is removed when the process ends (not a fixed, world-readable /tmp path)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from app_pages import state
from tests.app.conftest import ROOT, SMALL_CONFIG


def test_an_uploaded_config_is_private():
    path = Path(state.save_uploaded_config("config.json", json.dumps(SMALL_CONFIG).encode()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.upload_dir().stat().st_mode) == 0o700
    assert state.upload_dir() in path.parents
    assert state.upload_dir().name != "archsim-app-uploads"


def test_the_upload_folder_goes_with_the_process():
    code = ("import json\nfrom app_pages import state\n"
            f"print(state.save_uploaded_config('config.json', {json.dumps(SMALL_CONFIG)!r}"
            ".encode()))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.name == "config.json" and not path.exists()


def test_hostile_uploads_are_one_sentence_quickly():
    import time

    import pytest

    from hwspecs import SpecError
    from tests.hwspecs.test_hostile_specs import alias_bomb

    start = time.perf_counter()
    with pytest.raises(SpecError, match="expands to more than") as info:
        state.parse_device_upload("h100-sxm.yaml", (alias_bomb() + "name: h100-sxm\n").encode())
    assert time.perf_counter() - start < 1.0 and str(info.value).startswith("h100-sxm.yaml")
    with pytest.raises(ValueError, match="config.json nests .* too deep"):
        state.save_uploaded_config("config.json", b"[" * 100_000 + b"]" * 100_000)
