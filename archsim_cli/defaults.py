"""What every face starts from when the user names nothing: the CLI's flags and the app's
widgets share these."""

DEFAULT_MODEL = "llama-3.1-8b"
DEFAULT_DEVICE = "h100-sxm"
DEFAULT_DEVICES = ("h100-sxm", "h200-sxm", "b200", "mi300x")
DEFAULT_SYSTEM = "dgx-h100"            # plans: training and inference at scale
DEFAULT_SERVING_SYSTEM = "h100-sxm"    # one serving replica's device
DEFAULT_SEQ = 2048
DEFAULT_DTYPE = "bf16"
COMPUTE_DTYPES = ("bf16", "fp16", "fp8", "fp32")
WEIGHT_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4", "fp4", "nvfp4", "mxfp4", "mxfp8")
KV_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4")
