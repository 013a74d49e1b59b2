"""The CPU bench keeps freed pages in the process while it measures."""

from __future__ import annotations

import sys

import pytest
import torch

from validation.measure.cpu_allocator import ReusedPages


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_reused_pages_sets_and_restores_glibc_options():
    with ReusedPages() as pages:
        if pages.setting is None:
            pytest.skip("not glibc")
        assert "M_MMAP_MAX=0" in pages.setting
        big = torch.empty(64 * 2**20, dtype=torch.uint8)   # served from the heap, not mmap
        big.fill_(1)
        assert int(big[-1]) == 1
    with ReusedPages() as again:   # restoring left mallopt usable
        assert again.setting == pages.setting
