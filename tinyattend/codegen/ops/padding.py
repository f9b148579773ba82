"""TFLite's output-size and padding rules for convolutions and pooling (no OP_TYPES)."""
from __future__ import annotations


def output_size(padding: str, in_size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride


def padding_before(padding: str, in_size: int, filter_size: int, stride: int, dilation: int, out_size: int) -> int:
    """TFLite's ComputePaddingWithOffset: the padding before the data (the extra goes after)."""
    if padding == "VALID":
        return 0
    effective = (filter_size - 1) * dilation + 1
    total = max(0, (out_size - 1) * stride + effective - in_size)
    return total // 2


def conv_padding(options, x_shape, filter_h: int, filter_w: int, y_shape) -> tuple[int, int]:
    """(top, left) padding of a CONV_2D or DEPTHWISE_CONV_2D: TFLite's SAME/VALID rule, or the
    explicit padding of a PAD folded into it (codegen/graph_rewrites.py; bottom and right follow
    from the output size)."""
    if options["padding"] == "EXPLICIT":
        return options["pad_top"], options["pad_left"]
    return (padding_before(options["padding"], x_shape[1], filter_h, options["stride_h"],
                           options.get("dilation_h_factor", 1), y_shape[1]),
            padding_before(options["padding"], x_shape[2], filter_w, options["stride_w"],
                           options.get("dilation_w_factor", 1), y_shape[2]))
