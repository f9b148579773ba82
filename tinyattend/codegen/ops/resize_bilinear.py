"""RESIZE_BILINEAR: int8, TFLM's integer path (10-bit fixed-point positions, 20-bit products)."""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg, shape4, unsupported
from .resize_nearest_neighbor import check_resize

OP_TYPES = ("RESIZE_BILINEAR",)
MAX_RANK = 4              # NHWC only (the ONNX pre-check reads it too)


def check(op, graph, target) -> list[str]:
    reasons = check_resize(op, graph)
    if op.options.get("align_corners", False) and op.options.get("half_pixel_centers", False):
        reasons.append("align_corners and half_pixel_centers are both set, which TFLM rejects; "
                       "keep one (tf.image.resize uses half_pixel_centers only)")
    return unsupported(reasons)


def scale_10(in_size: int, out_size: int, align_corners: bool) -> int:
    """TFLM's input/output ratio in Q10, rounded."""
    if align_corners and out_size > 1:
        return ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    return ((1 << 10) * in_size + out_size // 2) // out_size


def lower(op, graph, target) -> KernelCall:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    n, in_h, in_w, c = shape4(x.shape)
    _, out_h, out_w, _ = shape4(y.shape)
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    return KernelCall(
        function="ta_resize_bilinear_s8",
        sources=("resize/ta_resize_bilinear_s8.c", "resize/ta_resize_bilinear_s8.h"),
        params_type="ta_resize_bilinear_params",
        params=(
            ("batches", n), ("in_h", in_h), ("in_w", in_w), ("channels", c), ("out_h", out_h), ("out_w", out_w),
            ("scale_h", scale_10(in_h, out_h, align)), ("scale_w", scale_10(in_w, out_w, align)),
            ("half_pixel_centers", int(half)),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
        macs=y.num_elements * 4,
    )
