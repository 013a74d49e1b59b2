"""Recording aten ops while a model runs on fake tensors: the dispatch recorder and its taps.

`OpRecorder` is a `TorchDispatchMode` that writes one record per aten op (target, tensor
identities, shapes, dtypes, plain non-tensor arguments, module path, layer, pass). A
`TorchFunctionMode` (`FunctionTap`) sits above autograd: it taps
`F.scaled_dot_product_attention` for the attention facts the aten op hides (causal, GQA
heads, scale) and, in training, tags each autograd node with the module that made it, so the
backward ops know their module and layer too. Roles are resolved at the end (`finish`),
because a gradient is only known to be one once backward has run.

Imported only by the tracer: it imports torch at module level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from hwspecs.dtypes import DType
from workloads.op import Pass, Tensor, TensorRole
from workloads.raw import RawOp

# NB: complex tensors (rotary in a few models) are stored as their real width; no model in the
# catalog uses them.
_TORCH_DTYPES = {
    torch.float64: DType.FP64, torch.float32: DType.FP32, torch.bfloat16: DType.BF16,
    torch.float16: DType.FP16, torch.float8_e4m3fn: DType.FP8, torch.float8_e5m2: DType.FP8,
    torch.int64: DType.INT64, torch.int32: DType.INT32, torch.int16: DType.INT32,
    torch.int8: DType.INT8, torch.uint8: DType.INT8, torch.bool: DType.BOOL,
    torch.complex64: DType.FP64, torch.complex128: DType.FP64,
}
_INDEX_DTYPES = (DType.INT64, DType.INT32, DType.INT8)
_STATE_ROLES = (TensorRole.WEIGHT, TensorRole.KV_CACHE, TensorRole.GRADIENT,
                TensorRole.OPTIMIZER_STATE)
_META_KEY = "archsim"  # key in autograd Node.metadata for (module, layer, attention attrs)


def dtype_of(t: torch.dtype) -> DType:
    try:
        return _TORCH_DTYPES[t]
    except KeyError:
        raise ValueError(f"the traced model uses dtype {t}, which archsim cannot price") from None


def plain(value: Any) -> Any:
    """A non-tensor argument as a plain, picklable Python value."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        return value.node.hint if hasattr(value.node, "hint") else int(value)
    if isinstance(value, torch.dtype):
        return dtype_of(value).value if value in _TORCH_DTYPES else str(value)
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    return str(value)


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value)


@dataclass
class _Record:
    target: str
    in_ids: tuple[int, ...]
    in_meta: tuple[tuple[tuple[int, ...], DType], ...]
    out_ids: tuple[int, ...]
    out_meta: tuple[tuple[tuple[int, ...], DType], ...]
    args: tuple[Any, ...]
    module: str
    layer: int
    pass_: Pass
    attrs: dict[str, Any]
    is_view: bool


@dataclass
class ModuleContext:
    """The module stack as forward hooks see it, and how to read a layer index off a path."""

    layer_prefix: str = ""                      # e.g. "model.layers"
    stack: list[str] = field(default_factory=lambda: [""])
    objects: dict[str, torch.nn.Module] = field(default_factory=dict)

    def layer_of(self, path: str) -> int:
        if not self.layer_prefix:
            return -1
        m = re.match(re.escape(self.layer_prefix) + r"\.(\d+)(\.|$)", path)
        return int(m.group(1)) if m else -1

    def install(self, names: dict[torch.nn.Module, str]) -> list[Any]:
        """Hooks on each module (paths given, from the full model); returns their handles."""
        handles = []
        for mod, name in names.items():
            if not name:
                continue
            self.objects[name] = mod
            handles.append(mod.register_forward_pre_hook(self._push(name)))
            handles.append(mod.register_forward_hook(self._pop(), always_call=True))
        return handles

    def _push(self, name: str):
        def hook(_mod, _args):
            self.stack.append(name)
        return hook

    def _pop(self):
        def hook(_mod, _args, _out):
            if len(self.stack) > 1:
                self.stack.pop()
        return hook


class OpRecorder(TorchDispatchMode):
    """Records every aten op (except metadata queries) with tensor identities."""

    def __init__(self, modules: ModuleContext):
        super().__init__()
        self.modules = modules
        self.pass_ = Pass.FORWARD
        self.records: list[_Record] = []
        self.roles: dict[int, TensorRole] = {}
        self.attention: dict[str, Any] | None = None   # set by FunctionTap around SDPA
        self.in_cache_update = False
        self.param_modules: dict[int, str] = {}           # id(parameter) -> module path
        self._ids: dict[int, int] = {}
        self._alive: list[torch.Tensor] = []            # keeps id() of seen tensors unique

    def tensor_id(self, t: torch.Tensor) -> int:
        key = id(t)
        found = self._ids.get(key)
        if found is None:
            found = len(self._alive)
            self._ids[key] = found
            self._alive.append(t)
        return found

    def known_id(self, t: torch.Tensor) -> int | None:
        return self._ids.get(id(t))

    def mark(self, tensors, role: TensorRole) -> None:
        for t in tensors:
            if isinstance(t, torch.Tensor):
                self.roles[self.tensor_id(t)] = role

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.namespace in ("prim", "profiler"):   # metadata queries, profiler marks
            return out
        self._record(func, args, kwargs, out)
        return out

    def _record(self, func, args, kwargs, out) -> None:
        ins = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
        outs = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        plain_args = tuple(plain(a) for a in args if not _has_tensor(a))
        attrs: dict[str, Any] = {}
        kw = {k: plain(v) for k, v in kwargs.items() if not _has_tensor(v)}
        if kw:
            attrs["kwargs"] = kw
        module, layer = self._where()
        if self.attention is not None:
            attrs.update(self.attention)
        if self.in_cache_update:
            attrs["cache_update"] = True
        out_ids = tuple(self.tensor_id(o) for o in outs)
        if self.in_cache_update:
            for i in out_ids:
                self.roles[i] = TensorRole.KV_CACHE
        is_view = bool(func._schema.returns) and func._schema.returns[0].alias_info is not None
        self.records.append(_Record(
            target=str(func), in_ids=tuple(self.tensor_id(t) for t in ins),
            in_meta=tuple(_meta(t) for t in ins), out_ids=out_ids,
            out_meta=tuple(_meta(o) for o in outs), args=plain_args, module=module,
            layer=layer, pass_=self.pass_, attrs=attrs, is_view=is_view))

    def _where(self) -> tuple[str, int]:
        if self.pass_ is Pass.BACKWARD:
            node = torch._C._current_autograd_node()
            meta = node.metadata.get(_META_KEY) if node is not None else None
            if meta is not None:
                module, layer, attention = meta
                if attention is not None:
                    self.attention = attention
                else:
                    self.attention = None
                return module, layer
            self.attention = None
            param = getattr(node, "variable", None) if node is not None else None
            module = self.param_modules.get(id(param), "") if param is not None else ""
            return module, self.modules.layer_of(module)
        module = self.modules.stack[-1]
        return module, self.modules.layer_of(module)

    def finish(self) -> tuple[RawOp, ...]:
        """Resolve roles in op order (views of a weight or cache keep its role) into RawOps."""
        roles = dict(self.roles)
        self._roles_back_through_views(roles)
        ops = []
        for r in self.records:
            in_roles = tuple(_role(roles, i, m[1]) for i, m in zip(r.in_ids, r.in_meta, strict=True))
            if r.is_view and in_roles and in_roles[0] in _STATE_ROLES:
                for o in r.out_ids:
                    roles.setdefault(o, in_roles[0])
            out_roles = tuple(_role(roles, i, m[1]) for i, m in zip(r.out_ids, r.out_meta, strict=True))
            ins = zip(r.in_meta, in_roles, strict=True)
            outs = zip(r.out_meta, out_roles, strict=True)
            ops.append(RawOp(
                target=r.target, inputs=tuple(Tensor(m[0], m[1], role) for m, role in ins),
                outputs=tuple(Tensor(m[0], m[1], role) for m, role in outs),
                input_ids=r.in_ids, output_ids=r.out_ids, args=r.args, module=r.module,
                layer=r.layer, pass_=r.pass_, attrs=r.attrs))
        return tuple(ops)

    def _roles_back_through_views(self, roles: dict[int, TensorRole]) -> None:
        """A gradient that is a view (t, alias) of an op's output makes that output one too."""
        for r in reversed(self.records):
            if r.is_view and r.in_ids and r.out_ids:
                role = roles.get(r.out_ids[0])
                if role is TensorRole.GRADIENT and r.in_ids[0] not in roles:
                    roles[r.in_ids[0]] = role


def _meta(t: torch.Tensor) -> tuple[tuple[int, ...], DType]:
    return tuple(int(d) for d in t.shape), dtype_of(t.dtype)


def _role(roles: dict[int, TensorRole], tid: int, dtype: DType) -> TensorRole:
    role = roles.get(tid)
    if role is not None:
        return role
    return TensorRole.INDEX if dtype in _INDEX_DTYPES else TensorRole.ACTIVATION


class FunctionTap(TorchFunctionMode):
    """Taps SDPA for attention facts; in training, tags autograd nodes with their module."""

    def __init__(self, recorder: OpRecorder, causal_model: bool, tag_nodes: bool):
        super().__init__()
        self.recorder = recorder
        self.causal_model = causal_model
        self.tag_nodes = tag_nodes
        self.calls = 0    # SDPA calls so far: ops of one call share attrs["sdpa_call"]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            facts = attention_facts(self._module_object(), args, kwargs, self.causal_model)
            facts["sdpa_call"] = self.calls
            self.calls += 1
            self.recorder.attention = facts
            try:
                out = func(*args, **kwargs)
            finally:
                attention, self.recorder.attention = self.recorder.attention, None
            self._tag(out, attention)
            return out
        out = func(*args, **kwargs)
        if self.tag_nodes:
            self._tag(out, None)
        return out

    def _module_object(self) -> torch.nn.Module | None:
        return self.recorder.modules.objects.get(self.recorder.modules.stack[-1])

    def _tag(self, out, attention) -> None:
        if not self.tag_nodes or self.recorder.pass_ is not Pass.FORWARD:
            return
        module = self.recorder.modules.stack[-1]
        meta = (module, self.recorder.modules.layer_of(module), attention)
        todo = [o.grad_fn for o in tree_flatten(out)[0]
                if isinstance(o, torch.Tensor) and o.grad_fn is not None]
        while todo:  # the nodes this call made: untagged ones reachable from its outputs
            fn = todo.pop()
            if fn is None or _META_KEY in fn.metadata:
                continue
            fn.metadata[_META_KEY] = meta
            todo.extend(nxt for nxt, _ in fn.next_functions)


def attention_facts(module, args, kwargs, causal_model: bool) -> dict[str, Any]:
    """The logical attention shape behind one SDPA call, undoing transformers' GQA tricks."""
    q, k, v = args[0], args[1], args[2]
    mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
    is_causal = bool(kwargs.get("is_causal", args[5] if len(args) > 5 else False))
    scale = kwargs.get("scale")
    head_dim = int(q.shape[-1])
    heads, q_len = int(q.shape[-3]), int(q.shape[-2])
    kv_heads, kv_len = int(k.shape[-3]), int(k.shape[-2])
    groups = int(getattr(module, "num_key_value_groups", 1) or 1)
    config_heads = getattr(getattr(module, "config", None), "num_attention_heads", None)
    repeated = False
    if not kwargs.get("enable_gqa", False) and groups > 1 and heads == kv_heads:
        if config_heads is not None and heads * groups == config_heads and q_len == groups:
            heads, q_len = heads * groups, 1          # pack_gqa: one query token, heads folded
        else:
            kv_heads, repeated = heads // groups, True  # repeat_kv expanded K/V to all heads
    window = getattr(module, "sliding_window", None)
    # NB: a mask transformers built for a causal LM is a causal (maybe sliding-window) mask;
    # fake tensors hide its values, so it is not inspected.
    causal = is_causal or (mask is not None and causal_model and q_len > 1)
    return {
        "attention": True, "causal": causal, "has_mask": mask is not None,
        "batch": int(q.shape[0]), "heads": heads, "kv_heads": kv_heads, "q_len": q_len,
        "kv_len": kv_len, "head_dim": head_dim, "v_head_dim": int(v.shape[-1]),
        "scale": float(scale) if scale is not None else head_dim ** -0.5,
        "kv_repeated": repeated, "sliding_window": int(window) if window else None,
        "dropout_p": float(kwargs.get("dropout_p", 0.0) or 0.0),
    }
