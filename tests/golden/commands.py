"""The README's example commands whose `--json` output the golden test holds fixed.

Recorded once before the one-pricing-core refactor (issue 13) with `record.py`; the golden test
runs each again and compares every number. Keys renamed since are mapped in `RENAMED`.
"""

from __future__ import annotations

# name -> archsim arguments (always with --json)
COMMANDS: dict[str, list[str]] = {
    "simulate-prefill": ["simulate", "--model", "llama-2-7b", "--hw", "h100-sxm", "--phase",
                         "prefill", "--seq", "2048"],
    "simulate-decode-w4": ["simulate", "--model", "llama-2-7b", "--hw", "h100-sxm", "--phase",
                           "decode", "--batch", "8", "--context", "4096", "--weights-dtype",
                           "int4", "--kv-dtype", "fp8"],
    "simulate-train-b200": ["simulate", "--model", "llama-3.1-8b", "--hw", "b200", "--phase",
                            "train", "--seq", "4096", "--recompute", "full"],
    "compare-decode": ["compare", "--model", "llama-3.1-8b", "--hw",
                       "h100-sxm,h200-sxm,b200,mi300x", "--phase", "decode", "--batch", "32",
                       "--context", "2048"],
    "compare-all-ideal": ["compare", "--model", "llama-2-70b", "--hw", "all", "--ideal"],
    "compare-tco-sparse": ["compare", "--model", "llama-3.1-8b", "--hw", "h100-sxm,b200",
                           "--phase", "train", "--seq", "1024", "--pricing", "tco",
                           "--sparse", "--dtype", "fp8"],
    "train-plan": ["train", "--model", "llama-3.1-70b", "--system", "dgx-h100:nodes=8",
                   "--gpus", "64", "--tp", "8", "--pp", "4", "--dp", "2", "--zero", "1",
                   "--micro-batch", "1", "--global-batch", "512", "--seq", "4096",
                   "--recompute", "selective"],
    "train-search": ["train", "--model", "llama-3.1-70b", "--system", "dgx-h100:nodes=8",
                     "--gpus", "64", "--global-batch", "512", "--seq", "4096", "--search"],
    "infer-70b-tp8": ["infer", "--model", "llama-3.1-70b", "--system", "dgx-h100", "--tp", "8",
                      "--batch", "16", "--input-len", "2048", "--output-len", "256"],
    "infer-mixtral-ep": ["infer", "--model", "mixtral-8x7b", "--system", "dgx-h100", "--tp",
                         "2", "--ep", "8", "--dp", "4", "--batch", "4", "--input-len", "512",
                         "--output-len", "64", "--dtype", "fp8"],
    "infer-search": ["infer", "--model", "llama-3.1-8b", "--system", "dgx-h100", "--search",
                     "--batch", "8", "--input-len", "1024", "--output-len", "128"],
    "serve": ["serve", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--replicas", "4",
              "--qps", "40", "--input-len", "lognormal:1024:0.6", "--output-len",
              "uniform:64:512", "--duration", "300", "--slo-ttft", "0.5", "--slo-tpot", "0.05",
              "--seed", "1"],
    # The README's command at 300 requests per replication and 4 replications (~50 s of CPU
    # at the defaults, this 14 s); doubling replications is tested in test_steady_capacity.
    "plan-capacity": ["plan-capacity", "--model", "llama-3.1-70b", "--qps", "20",
                      "--input-len", "2048", "--output-len", "256", "--slo-ttft-p99", "1.0",
                      "--slo-tpot-p99", "0.06", "--hw", "h100-sxm,h200-sxm,b200,mi300x",
                      "--tp", "2,4,8", "--requests", "300", "--max-replications", "4"],
    "trace-70b": ["trace", "--model", "llama-3.1-70b", "--phase", "prefill", "--batch", "1",
                  "--seq", "2048"],
    "trace-mixtral": ["trace", "--model", "mixtral-8x7b", "--phase", "decode", "--batch", "8",
                      "--context", "4096"],
    "specs-show": ["specs", "show", "h100-sxm"],
}

# Grids whose sweep rows the golden test holds fixed (examples/).
GRIDS = ("grid.yaml", "grid-plans.yaml")
# Keys not held here: every op (their sums are), and file paths (they name the checkout).
DROP = {"ops", "path"}
# new key -> old key, for keys the one vocabulary renamed.
RENAMED: dict[str, str] = {}
