"""What each ONNX op becomes in TFLite, and when a node of it cannot be converted (the pre-check's table).

SUPPORTED_OPS maps an ONNX op to (the TFLite op(s) it becomes, a constraint or None). A constraint
`(node, graph: GraphIndex)` returns a human-readable reason when that node cannot be converted, or None.
Forms that look past one node (exact GELU, a normalisation to unit length) have matchers here, shared
with the ONNX rewrites that lower them. tinyattend/convert/onnx_checks.py applies the table.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .onnx_graph import GraphIndex, _attr, _text_attr


# Resize forms onnx2tf 2.6.9 translates faithfully (checked against ONNX Runtime, then bit-exact through
# our RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR or, for cubic, its RESHAPE + BATCH_MATMUL lowering).
RESIZE_LINEAR_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")
RESIZE_NEAREST_FORMS = (("asymmetric", "floor"), ("align_corners", "round_prefer_ceil"))
NEAREST_HINT = ("export nearest resize as torch's nn.Upsample(mode='nearest') does "
                "(coordinate_transformation_mode 'asymmetric', nearest_mode 'floor')")


def _integer_upscale(node, graph) -> bool:
    """True when the Resize has constant scales that are whole numbers >= 1."""
    if graph is None or len(node.input) < 3 or not node.input[2]:
        return False
    scales = graph.constant(node.input[2])
    return scales is not None and scales.size > 0 and all(float(v) >= 1 and float(v).is_integer() for v in scales.ravel())


def _resize(node, graph=None) -> str | None:
    """Linear and cubic resize at any scale (RESIZE_BILINEAR; cubic as onnx2tf's matrix products) in the
    coordinate modes onnx2tf maps exactly; nearest in the modes whose source index TFLite's
    RESIZE_NEAREST_NEIGHBOR reproduces (ONNX's defaults, half_pixel + round_prefer_floor, only at whole
    upscale factors, where they pick the same pixel as asymmetric + floor)."""
    if node.op_type == "Upsample":          # opset 7-9: always the asymmetric form
        mode = _text_attr(node, "mode", "nearest")
        if mode == "nearest":
            return None
        return f"Upsample mode '{mode}' is not supported; use Resize (opset 11+) or mode 'nearest'"
    mode = _text_attr(node, "mode", "nearest")
    transform = _text_attr(node, "coordinate_transformation_mode", "half_pixel")
    if transform == "tf_crop_and_resize":   # onnx2tf 2.6.9 makes tf.CropAndResize, which has no TFLite builtin
        return ("Resize with coordinate_transformation_mode 'tf_crop_and_resize' becomes TensorFlow's "
                "CropAndResize, which has no int8 TFLite op; crop with Slice, then resize")
    if _attr(node, "antialias", 0):
        return "Resize with antialias=1 is not supported; export with antialias=False"
    if mode in ("linear", "cubic"):
        if transform not in RESIZE_LINEAR_MODES:
            return (f"{mode} Resize with coordinate_transformation_mode '{transform}' is not supported; "
                    f"use one of {', '.join(RESIZE_LINEAR_MODES)}")
        return None
    if mode != "nearest":
        return f"Resize mode '{mode}' is not supported; use 'nearest', 'linear' or 'cubic'"
    rounding = _text_attr(node, "nearest_mode", "round_prefer_floor")
    if (transform, rounding) in RESIZE_NEAREST_FORMS:
        return None
    if (transform, rounding) == ("half_pixel", "round_prefer_floor") and _integer_upscale(node, graph):
        return None
    return (f"nearest Resize with coordinate_transformation_mode '{transform}' and nearest_mode '{rounding}' "
            f"picks source pixels that TFLite's RESIZE_NEAREST_NEIGHBOR does not; {NEAREST_HINT}, or use "
            "'align_corners' with 'round_prefer_ceil', or mode 'linear'")


def _div(node, graph: GraphIndex) -> str | None:
    """x / constant becomes MUL by the reciprocal, and x / Sqrt(y) (a normalisation) MUL by RSQRT(y) (Sqrt's
    entry names RSQRT); any other divisor becomes DIV, which the code generator has no kernel for."""
    if graph is None or graph.constant(node.input[1]) is not None:
        return None
    divisor = graph.producer.get(node.input[1])
    if divisor is not None and (divisor.op_type == "Sqrt"
                                or (divisor.op_type == "Pow" and _exponent(divisor, graph) == 0.5)):
        return None             # onnx_norm_rewrites: x * v^-0.5, RSQRT
    if match_l2_normalize(node, graph) is not None:
        return None             # F.normalize: x * RSQRT(max(sum x^2, eps^2)), onnx_norm_rewrites
    return ("division by a computed tensor becomes DIV, which tinyattend's code generator has no kernel for; "
            "division by a constant (a MUL by its reciprocal) or by a Sqrt (MUL by RSQRT) converts")


@dataclass(frozen=True)
class L2Normalize:
    """torch's F.normalize(x, dim): Div(x, [Expand](Clip(ReduceL2(x, axes, keepdims=1), min=eps)))."""
    x: str
    axes: tuple[int, ...]
    eps: float
    reduce: object       # the ReduceL2 node


def match_l2_normalize(div, graph: GraphIndex) -> L2Normalize | None:
    """The F.normalize that Div node `div` ends, or None (Max(norm, eps) in place of the Clip too)."""
    if div.op_type != "Div":
        return None
    x, source = div.input[0], graph.producer.get(div.input[1])
    if source is not None and source.op_type == "Expand":
        source = graph.producer.get(source.input[0])
    if source is None or source.op_type not in ("Clip", "Max") or len(source.input) < 2:
        return None
    if source.op_type == "Clip" and len(source.input) > 2 and source.input[2]:
        return None                      # a maximum norm: not F.normalize
    eps = graph.constant(source.input[1])
    reduce = graph.producer.get(source.input[0])
    if eps is None or eps.size != 1 or reduce is None or reduce.op_type != "ReduceL2" or reduce.input[0] != x \
            or not _attr(reduce, "keepdims", 1):
        return None
    axes = graph.constant(reduce.input[1]) if len(reduce.input) > 1 and reduce.input[1] else _attr(reduce, "axes")
    if axes is None or len(list(axes)) == 0:
        return None
    return L2Normalize(x, tuple(int(a) for a in list(axes)), float(eps.reshape(-1)[0]), reduce)


def _reduce_l2(node, graph: GraphIndex) -> str | None:
    """ReduceL2 converts as the norm of F.normalize (onnx_norm_rewrites: x * RSQRT(max(sum x^2, eps^2)))."""
    normalized = [div for reader in graph.consumers.get(node.output[0], [])
                  for mid in [reader, *graph.consumers.get(reader.output[0], [])]
                  for div in graph.consumers.get(mid.output[0], []) if div.op_type == "Div"]
    readers = graph.consumers.get(node.output[0], [])
    matches = [match_l2_normalize(div, graph) for div in normalized]
    if normalized and all(m is not None and m.reduce is node for m in matches) \
            and all(r.op_type in ("Clip", "Max") for r in readers):
        return None
    return ("ReduceL2 converts only as the norm of x / max(||x||, eps) (torch's F.normalize), which becomes "
            "x * RSQRT(max(sum x^2, eps^2)); TFLite has no int8 L2 reduction")


def _conv_2d(node, graph=None) -> str | None:
    kernel = _attr(node, "kernel_shape")
    if kernel is not None and len(kernel) != 2:
        return f"{len(kernel)}-D {node.op_type} is not supported; only 2-D (NCHW images) is"
    dilations = _attr(node, "dilations")
    if dilations and any(d != 1 for d in dilations) and node.op_type == "ConvTranspose":
        return "dilated ConvTranspose is not supported"
    return None


def _pool_2d(node, graph=None) -> str | None:
    kernel = _attr(node, "kernel_shape")
    if kernel is not None and len(kernel) != 2:
        return f"{len(kernel)}-D {node.op_type} is not supported; only 2-D pooling is"
    return None             # ceil_mode=1: onnx2tf pads the end explicitly (PADV2 + MAX_POOL_2D)


GELU_FORM = "(x * 0.5) * (1 + erf(x / sqrt(2)))"
TORCH_GELU_FORM = "(x * (1 + erf(x / sqrt(2)))) * 0.5"


@dataclass(frozen=True)
class ExactGelu:
    """An exact GELU around one Erf node: GELU_FORM (`half` set) or torch's TORCH_GELU_FORM (`final` set)."""
    x: str               # the GELU's input tensor
    plus_one: object     # Add(erf, 1)
    product: object      # Mul(x * 0.5, plus_one) in GELU_FORM; Mul(x, plus_one) in torch's form
    half: object = None  # GELU_FORM: Mul(x, 0.5)
    final: object = None  # torch's form: Mul(product, 0.5)


def match_exact_gelu(erf, graph: GraphIndex) -> ExactGelu | None:
    """The exact GELU that Erf node `erf` belongs to (x / sqrt 2 as a Div or as a Mul by 1 / sqrt 2), or None."""
    scaled = graph.producer.get(erf.input[0])
    x = None
    if scaled is not None and scaled.op_type == "Mul":
        x = graph.scalar_operand(scaled, 1 / math.sqrt(2))
    elif scaled is not None and scaled.op_type == "Div":
        x = graph.scalar_operand(scaled, math.sqrt(2))
        x = x if x == scaled.input[0] else None        # x / sqrt 2, not sqrt 2 / x
    plus_one = graph.only_consumer(erf.output[0])
    if x is None or plus_one is None or plus_one.op_type != "Add" or graph.scalar_operand(plus_one, 1.0) is None:
        return None
    product = graph.only_consumer(plus_one.output[0])
    if product is None or product.op_type != "Mul":
        return None
    other = product.input[0] if product.input[1] == plus_one.output[0] else product.input[1]
    half = graph.producer.get(other)
    if half is not None and half.op_type == "Mul" and graph.scalar_operand(half, 0.5) == x:
        return ExactGelu(x, plus_one, product, half=half)
    final = graph.only_consumer(product.output[0])
    if other == x and final is not None and final.op_type == "Mul" \
            and graph.scalar_operand(final, 0.5) == product.output[0]:
        return ExactGelu(x, plus_one, product, final=final)
    return None


def _erf_in_gelu(node, graph: GraphIndex) -> str | None:
    """Erf has no int8 TFLite kernel; the TFLite converter fuses an exact GELU written as GELU_FORM into its
    GELU builtin (tinyattend rewrites torch's TORCH_GELU_FORM into GELU_FORM first, see onnx_rewrites)."""
    if match_exact_gelu(node, graph) is not None:
        return None
    return (f"no int8 TFLite lowering outside an exact GELU: Erf converts only inside {GELU_FORM} or "
            f"{TORCH_GELU_FORM} (torch's export of nn.GELU), which becomes the GELU builtin")


def _exponent(node, graph: GraphIndex):
    value = graph.constant(node.input[1]) if len(node.input) > 1 else None
    return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None


def _under_division(name: str, graph: GraphIndex) -> bool:
    """Whether every reader of tensor `name` divides by it (Div's divisor, Reciprocal): 1 / sqrt(v), which
    onnx_norm_rewrites turns into v^-0.5 (RSQRT)."""
    readers = graph.consumers.get(name, [])
    return bool(readers) and all((r.op_type == "Div" and r.input[1] == name and r.input[0] != name)
                                 or r.op_type == "Reciprocal" for r in readers)


def _sqrt(node, graph: GraphIndex) -> str | None:
    if _under_division(node.output[0], graph):
        return None
    return ("TFLM has no int8 SQRT; a square root converts only as a divisor (x / Sqrt(v) or Reciprocal(Sqrt(v)), "
            "which becomes RSQRT): write the normalisation that way, or use LayerNormalization")


def _pow(node, graph: GraphIndex) -> str | None:
    exponent = _exponent(node, graph)
    if exponent in (1.0, 2.0, -0.5) or (exponent == 0.5 and _under_division(node.output[0], graph)):
        return None
    shown = "a run-time value" if exponent is None else f"{exponent:g}"
    return (f"exponent {shown}: Pow converts with a constant exponent 2 (MUL), -0.5 (RSQRT) or 0.5 as a divisor "
            "(RSQRT); other powers have no int8 TFLite kernel")


def _reciprocal(node, graph: GraphIndex) -> str | None:
    source = graph.producer.get(node.input[0])
    if source is not None and (source.op_type == "Sqrt" or (source.op_type == "Pow" and _exponent(source, graph) == 0.5)):
        return None
    return "Reciprocal converts only of a square root (1 / sqrt(v) becomes RSQRT); TFLM's int8 DIV is not in tinyattend"


def _instance_norm(node, graph: GraphIndex) -> str | None:
    if graph.constant(node.input[1]) is None or graph.constant(node.input[2]) is None:
        return "the scale and bias must be constants (initializers)"
    return None


def _expand(node, graph: GraphIndex) -> str | None:
    readers = graph.consumers.get(node.output[0], [])
    if readers and all(r.op_type in ("Add", "Sub", "Mul", "Div") for r in readers):
        return None
    return ("Expand converts only into Add/Sub/Mul/Div, which broadcast by themselves (BROADCAST_TO has no "
            "kernel in tinyattend); let the element-wise op broadcast instead of expanding first")


def _reduce_sum(node, graph: GraphIndex) -> str | None:
    axes = graph.constant(node.input[1]) if len(node.input) > 1 and node.input[1] else _attr(node, "axes")
    if axes is None or len(list(axes)) == 0:
        return "ReduceSum converts over constant, non-empty axes (as MEAN times the count)"
    return None


# ONNX op -> (TFLite op(s) it becomes, constraint or None). Ops that only compute shapes or are
# folded away (Constant, Shape, Identity, BatchNormalization after a conv, ...) are listed too.
SUPPORTED_OPS: dict[str, tuple[str, object]] = {
    "Conv": ("CONV_2D / DEPTHWISE_CONV_2D (+ PAD)", _conv_2d),
    "ConvTranspose": ("TRANSPOSE_CONV", _conv_2d),
    "MaxPool": ("MAX_POOL_2D", _pool_2d),
    "AveragePool": ("AVERAGE_POOL_2D", _pool_2d),
    "GlobalAveragePool": ("MEAN", None),
    "GlobalMaxPool": ("REDUCE_MAX", None),
    "ReduceMean": ("MEAN", None),
    "Resize": ("RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR (cubic: BATCH_MATMUL)", _resize),
    "Upsample": ("RESIZE_NEAREST_NEIGHBOR", _resize),
    "Sigmoid": ("LOGISTIC", None),
    "HardSigmoid": ("RELU_0_TO_1 (its MUL/ADD folded into the op before, or MUL + ADD)", None),
    "HardSwish": ("HARD_SWISH", None),
    "Relu": ("fused activation or RELU", None),
    "Clip": ("fused activation, RELU6 / RELU_N1_TO_1 / RELU_0_TO_1, or MINIMUM + MAXIMUM", None),
    "LeakyRelu": ("LEAKY_RELU", None),
    "PRelu": ("PRELU (one alpha, or one per channel)", None),
    "Tanh": ("TANH", None),
    "Softmax": ("SOFTMAX", None),
    "Mul": ("MUL", None),
    "Add": ("ADD", None),
    "Sub": ("SUB", None),
    "Div": ("MUL (x / constant: by its reciprocal; x / Sqrt(y) and a normalisation to unit length: by the "
            "reciprocal root Sqrt's and ReduceL2's entries name)", _div),
    "Gemm": ("FULLY_CONNECTED", None),
    "MatMul": ("FULLY_CONNECTED / BATCH_MATMUL", None),
    "BatchNormalization": ("folded into the conv, or MUL + ADD", None),
    "Concat": ("CONCATENATION", None),
    "Pad": ("PAD", None),
    "Flatten": ("RESHAPE", None),
    "Reshape": ("RESHAPE", None),
    "Transpose": ("TRANSPOSE", None),
    "Squeeze": ("RESHAPE", None),
    "Unsqueeze": ("RESHAPE", None),
    "Identity": ("(removed)", None),
    "Dropout": ("(removed)", None),
    "Constant": ("(constant)", None),
    "Shape": ("(folded)", None),
    "Gather": ("(folded) / GATHER", None),
    "Slice": ("STRIDED_SLICE", None),
    "Split": ("SPLIT", None),
    "Cast": ("(folded)", None),
    "Sqrt": ("RSQRT (as a divisor: x / Sqrt(v) becomes x * RSQRT(v))", _sqrt),
    "Pow": ("MUL (x^2) / RSQRT (x^-0.5)", _pow),
    "Reciprocal": ("RSQRT (of a Sqrt)", _reciprocal),
    "LayerNormalization": ("MEAN, SQUARED_DIFFERENCE, RSQRT, MUL, SUB, ADD", None),
    "InstanceNormalization": ("MEAN, SUB, MUL, RSQRT (GroupNorm's export too: a 1x1 CONV_2D averages each group)",
                              _instance_norm),
    "ReduceSum": ("MEAN + MUL (by the count)", _reduce_sum),
    "ReduceL2": ("MUL, MEAN, MAXIMUM, RSQRT (only as the norm of a normalisation to unit length, torch's normalize)",
                 _reduce_l2),
    "Expand": ("(into the broadcasting ADD/SUB/MUL that reads it)", _expand),
    "Erf": ("GELU (exact GELU only)", _erf_in_gelu),
}


# What a user can do about an op tinyattend cannot take (shown once per op type with the reason).
OP_ADVICE = {
    "Erf": "exact GELU needs a GELU kernel; use an activation tinyattend has (ReLU, ReLU6, HardSwish, Sigmoid, "
           "Tanh), or export GELU with approximate='tanh' where that lowers to those",
    "Resize": "use mode='nearest' or 'linear' (torch: F.interpolate(mode='nearest' or 'bilinear'))",
    "Upsample": "use mode='nearest' or 'linear'",
    "MaxPool": "export with ceil_mode=False (pad the input instead)",
    "AveragePool": "export with ceil_mode=False (pad the input instead)",
    "HardSigmoid": "use HardSwish or Sigmoid, which tinyattend has",
    "PRelu": "use ReLU or LeakyReLU",
    "LayerNormalization": "use BatchNormalization (folded into the convolution)",
    "InstanceNormalization": "use BatchNormalization (folded into the convolution)",
    "GroupNormalization": "use BatchNormalization (folded into the convolution)",
    "Div": "divide by a constant (or multiply by its reciprocal)",
    "Sqrt": "remove the square root (e.g. a normalisation: use BatchNormalization)",
}
DEFAULT_ADVICE = "replace the op before export, or ask for it in the tinyattend issue tracker"
EXAMPLE_NODES = 3          # node names shown per unsupported op type


def tflite_ops(onnx_op: str) -> tuple[str, ...]:
    """The TFLite builtins SUPPORTED_OPS[onnx_op] names: the upper-case words of its text, in order."""
    return tuple(dict.fromkeys(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\b", SUPPORTED_OPS[onnx_op][0])))


def missing_kernels(onnx_op: str) -> tuple[str, ...]:
    """The TFLite builtins `onnx_op` becomes that the code generator has no module for."""
    from ..codegen.ops import registry
    return tuple(op for op in tflite_ops(onnx_op) if op not in registry())
