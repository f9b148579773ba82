"""The code-generation stage: check support, lower every op, plan the arena, emit C."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import UnsupportedOpError
from ..ir.graph import Graph
from ..ir.quant import MultiplierOutOfRange
from ..plan.arena import ArenaPlan, lower_bound, plan_arena
from ..plan.liveness import live_ranges
from .cmsis_nn import folds_pad, registry as cmsis_nn_registry
from .helium import KERNEL_SET as HELIUM, registry as helium_registry
from .cnames import ConstantOverflow, c_comment_text
from .emit import GeneratedFile, generate_sources
from .library import library_files
from .lowering import Alias, KernelCall, Target
from .prefix import DEFAULT_PREFIX, check_prefix
from .graph_rewrites import fold_pad_into_conv, transpose_conv_to_conv
from .fusion import expand_depthwise, upsample_mul
from .fusion.policy import choose_fusion, fusion_enabled
from .lean import choose_lean_kernels, drop_copies_at_peak
from .optimize import plan_widening
from .ops import registry, supported_op_types


@dataclass(frozen=True)
class _Built:
    """One lowering and arena plan of a graph (fusion/policy.py compares several)."""
    lowered: list
    ranges: list
    buffer_of: dict
    plan: ArenaPlan


@dataclass(frozen=True)
class GeneratedModel:
    files: list[GeneratedFile]
    plan: ArenaPlan
    lowered: list
    buffer_of: dict
    report: dict
    graph: Graph | None = None     # the graph lowered: after pad folding and fusion (fusion/)


def kernel_module(op, graph: Graph, target: Target):
    """The op module that lowers `op` for the target: CMSIS-NN's when the kernel set is
    cmsis-nn and its check passes (or there is no portable one), else the portable one;
    None when there is neither. The helium set likewise takes its MVE kernel when its check passes,
    else the op's own module (which takes the DSP fast kernels for it)."""
    portable = registry().get(op.type)
    if target.kernels == HELIUM:
        module = helium_registry().get(op.type)
        if module is not None and not module.check(op, graph, target):
            return module
    if target.kernels == "cmsis-nn":
        module = cmsis_nn_registry().get(op.type)
        if module is not None and (portable is None or not module.check(op, graph, target)):
            return module
    return portable


def unsupported_ops(graph: Graph, target: Target) -> list[dict]:
    """Every op we cannot run, with the tensor it produces and why."""
    problems = []
    for op in graph.ops:
        tensor = graph.tensor(op.outputs[0])
        module = kernel_module(op, graph, target)
        if module is None:
            reasons = [f"{op.type} has no kernel in tinyattend"]
        else:
            reasons = module.check(op, graph, target)
        for reason in reasons:
            problems.append({"op": op.type, "index": op.index, "tensor": c_comment_text(tensor.name, 120),
                             "reason": reason})
    return problems


def check_io(graph: Graph) -> list[dict]:
    problems = []
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        problems.append({"op": "MODEL", "index": -1, "tensor": "",
                         "reason": f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                                   "generated code supports one of each"})
    for index in (*graph.inputs, *graph.outputs):
        t = graph.tensor(index)
        if t.dtype == "int8" and t.quant is not None:
            continue
        if graph.is_float_edge(index):
            continue
        problems.append({"op": "MODEL", "index": -1, "tensor": c_comment_text(t.name, 120),
                         "reason": f"model input/output '{c_comment_text(t.name)}' is {t.dtype}; "
                                   "int8 in and out are required, or float32 read only by QUANTIZE (input) "
                                   "or written by DEQUANTIZE (output) (convert with tinyattend convert)"})
    for t in graph.tensors:
        if not t.is_constant and t.num_elements == 0:
            problems.append({"op": "MODEL", "index": -1, "tensor": c_comment_text(t.name, 120),
                             "reason": f"tensor {t.index} has a zero-sized shape {list(t.shape)}"})
    return problems


# Ops whose output is rescaled from the product of two inputs' scales (conv weights, MUL's operands).
PRODUCT_RESCALE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "MUL"}
MAX_RESCALE = 2.0 ** 31     # a larger factor shifts an int32 left by 32+ bits (ir.quant.MultiplierOutOfRange)


def check_rescales(graph: Graph) -> list[dict]:
    """Ops whose input-to-output rescale factor no int32 requantization can apply (a corrupt scale, e.g. an
    output scale of 1e-30): found here, with the op and the scales, before any kernel is chosen."""
    problems = []
    for op in graph.ops:
        outputs = [graph.tensor(i) for i in op.outputs if i is not None]
        quantized = [graph.tensor(i) for i in op.inputs if i is not None]
        quantized = [t for t in quantized if t.dtype in ("int8", "int16") and t.quant is not None and t.quant.scale]
        out_scales = [min(t.quant.scale) for t in outputs if t.quant is not None and t.quant.scale]
        if not quantized or not out_scales or min(out_scales) <= 0:
            continue
        scales = [max(t.quant.scale) for t in quantized]
        numerator = scales[0] * scales[1] if op.type in PRODUCT_RESCALE_OPS and len(scales) >= 2 else max(scales)
        factor = numerator / min(out_scales)
        if factor >= MAX_RESCALE:
            problems.append({"op": op.type, "index": op.index,
                             "tensor": c_comment_text(outputs[0].name, 120) if outputs else "",
                             "reason": f"its rescale factor (input scale{'s' if numerator != max(scales) else ''} "
                                       f"over output scale) is {factor:.3g}, over 2^31: a quantization scale is "
                                       f"out of range (output scale {min(out_scales):.3g})"})
    return problems


def raise_unsupported(problems: list[dict], model_name: str) -> None:
    """One line per (op type, reason), with the count and the first few output tensors: a model with 27
    GELUs gets one line, not 27 (and the supported-op list once, in the fix)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for p in problems:
        groups.setdefault((p["op"], p["reason"]), []).append(p)
    lines = []
    for (op, reason), members in groups.items():
        names = ", ".join(f"op {p['index']} '{p['tensor']}'" for p in members[:3])
        more = f", ... ({len(members) - 3} more)" if len(members) > 3 else ""
        lines.append(f"  - {op} x{len(members)} ({names}{more}): {reason}")
    raise UnsupportedOpError(
        f"{model_name}: {len(problems)} problem(s) prevent code generation:\n" + "\n".join(lines),
        f"change these ops in the source model and convert again (`tinyattend inspect` on the source .onnx lists "
        f"what each node becomes), or ask for the op in the tinyattend issue tracker; ops with kernels: "
        f"{', '.join(supported_op_types())}", ops=problems)


FIX_OVERFLOW = ("the model's quantization parameters or options are out of any sane range (a corrupt model?); "
                "re-export it, or check its scales and options with `tinyattend inspect`")


def _lower(op, graph: Graph, target: Target, model_name: str):
    if op.index in target.lean_ops:       # lean.py: the portable kernels, which need no scratch
        target = replace(target, kernels="portable", wide_ops=frozenset(), winograd_ops=frozenset(),
                         lean_ops=frozenset())
    if op.type in expand_depthwise.OP_TYPES:
        module = expand_depthwise
    elif op.type == upsample_mul.OP_TYPE:
        module = upsample_mul
    else:
        module = kernel_module(op, graph, target)
    try:
        return module.lower(op, graph, target)
    except (ConstantOverflow, MultiplierOutOfRange) as err:
        raise UnsupportedOpError(f"{model_name}: op {op.index} ({op.type}), output "
                                 f"'{c_comment_text(graph.tensor(op.outputs[0]).name, 120)}': {err}", FIX_OVERFLOW,
                                 ops=[{"op": op.type, "index": op.index, "reason": str(err)}]) from None


def generate(graph: Graph, target: Target, model_name: str, prefix: str = DEFAULT_PREFIX) -> GeneratedModel:
    """The model library for `target`: its files named and its symbols prefixed with `prefix` (codegen.prefix)."""
    check_prefix(prefix)
    problems = check_io(graph) + check_rescales(graph) + unsupported_ops(graph, target)
    original_ops = graph.ops
    if problems:
        raise_unsupported(problems, model_name)
    # TFLM's graph with TFLM's kernels under cmsis-nn, but no PAD's copy of the image where CMSIS-NN's
    # convolution pads the same way itself: else our plan is TFLM's, and with the stack above its arena
    accepts = (lambda conv, g: folds_pad(conv, g, target)) if target.kernels == "cmsis-nn" else None
    graph = fold_pad_into_conv(graph, accepts)
    folded = len(original_ops) - len(graph.ops)
    if target.kernels != "cmsis-nn" and target.optimize != "size":    # its per-phase channel constants cost flash
        graph = transpose_conv_to_conv(graph)
    target = plan_widening(graph, target)

    # The fusion policy lowers and plans the graph several times with few ops changed: an op's
    # lowering depends on its index only through wide_ops, winograd_ops and uncopied_ops (and, for the fused ops and the
    # cmsis-nn kernels, the names it declares), so it is kept by what it depends on.
    lowerings: dict = {}

    def lower_cached(op, graph: Graph, target: Target):
        named = op.type in (*expand_depthwise.OP_TYPES, upsample_mul.OP_TYPE) or target.kernels == "cmsis-nn"
        # a fused op's options are rebuilt for each band height tried: keyed by what they hold
        options = tuple(op.options.values()) if op.type in expand_depthwise.OP_TYPES else (op.options,)
        key = (op.type, op.inputs, op.outputs, tuple(map(id, options)), op.index in target.wide_ops,
               op.index in target.winograd_ops, op.index in target.lean_ops, op.index in target.uncopied_ops,
               op.index if named else None)
        hit = lowerings.get(key)
        if hit is None or any(a is not b for a, b in zip(hit[0], options)):
            hit = lowerings[key] = (options, _lower(op, graph, target, model_name))
        return hit[1]

    def build(graph: Graph, target: Target) -> _Built:
        lowered = [lower_cached(op, graph, target) for op in graph.ops]
        ranges, buffer_of = live_ranges(graph, lowered)
        return _Built(lowered, ranges, buffer_of, plan_arena(ranges))

    unfused_arena = None
    if fusion_enabled(target):
        unfused_arena = build(graph, target).plan.size       # for the report: what fusion bought
        # the attention condensers' upsampled map (and V * A before a residual ADD) is never written:
        # less RAM, no more work
        graph, target = upsample_mul.fuse(graph, target)
    graph, target, built = choose_fusion(graph, target, build)     # fusion/policy.py
    target, built = drop_copies_at_peak(graph, target, built, build)                 # lean.py
    target, built = choose_lean_kernels(graph, target, built, build, model_name)     # lean.py
    lowered, ranges, buffer_of, plan = built.lowered, built.ranges, built.buffer_of, built.plan
    try:
        files = generate_sources(graph, lowered, plan, buffer_of, model_name)
    except ConstantOverflow as err:
        raise UnsupportedOpError(f"{model_name}: a constant of the generated C is out of range: {err}",
                                 FIX_OVERFLOW) from None
    libraries = sorted({low.library for low in lowered if isinstance(low, KernelCall) and low.library})
    files = library_files(files, prefix=prefix, model_name=model_name, libraries=libraries)
    layers = [{"index": op.index, "op": op.type, "macs": low.macs, "output": list(graph.tensor(op.outputs[0]).shape)}
              for op, low in zip(graph.ops, lowered) if isinstance(low, KernelCall)]
    report = {
        "arena_bytes": plan.size,
        "arena_unfused_bytes": unfused_arena if unfused_arena is not None else plan.size,
        "arena_lower_bound_bytes": lower_bound(ranges),   # most bytes alive at once: no plan needs less
        "ops": [op.type for op in graph.ops],
        "unsupported_ops": [],
        "layers": layers,
        "generated_macs": sum(low.macs for low in lowered if isinstance(low, KernelCall)),
        "aliased_ops": sum(isinstance(low, Alias) for low in lowered),
        "folded_ops": folded,                  # PADs folded into convolutions
        # fusion/: each fused or banded op, with the original graph's op indices (pad folding's)
        "fused_groups": [{"op": op.index, "type": op.type, "depthwise": op.options["depthwise"].index,
                          "expand": op.options["expand"].index if op.options["expand"] is not None else None,
                          "project": getattr(op.options.get("project"), "index", None),
                          "residual": getattr(op.options.get("residual"), "index", None),
                          "band_rows": op.options["band_rows"], "scratch_bytes": low.scratch_bytes,
                          "expanded_bytes": graph.tensor(op.options["depthwise"].inputs[0]).nbytes}
                         for op, low in zip(graph.ops, lowered) if op.type in expand_depthwise.OP_TYPES],
        "upsample_mul_ops": sum(op.type == upsample_mul.OP_TYPE for op in graph.ops),   # RESIZE_NEAREST + MUL fused
        # each streamed condenser tail and the layers it runs (pad folding's op indices; residual None: no ADD)
        "upsample_mul_groups": [{"op": op.index, "resize": op.options["resize"].index, "mul": op.options["mul"].index,
                                 "residual": getattr(op.options.get("residual"), "index", None)}
                                for op in graph.ops if op.type == upsample_mul.OP_TYPE],
        "upsample_mul_residuals": sum(op.type == upsample_mul.OP_TYPE and op.options["residual"] is not None
                                      for op in graph.ops),                # ... with the residual ADD
        "rewritten_transpose_convs": sum(op.type == "TRANSPOSE_CONV" for op in original_ops)
                                     - sum(op.type == "TRANSPOSE_CONV" for op in graph.ops),
        "kernels": target.kernels,
        "wide_weight_ops": sorted(target.wide_ops),
        "lean_ops": sorted(target.lean_ops),   # lean.py: ops on the portable kernels for RAM
        "libraries": libraries,
        "prefix": prefix,
        "scratch_bytes": sum(low.scratch_bytes for low in lowered if isinstance(low, KernelCall)),
        "memory_timeline": [{"op": position, "bytes_live": plan.peak_at(position)} for position in range(len(graph.ops))],
        "buffers": [{"buffer": r.buffer, "offset": plan.offsets[r.buffer], "size": r.size, "first": r.first,
                     "last": r.last, "tensors": list(r.tensors)} for r in plan.ranges],
    }
    return GeneratedModel(files=files, plan=plan, lowered=lowered, buffer_of=buffer_of, report=report,
                          graph=graph)
