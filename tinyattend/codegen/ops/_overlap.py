"""How far a raster-order kernel's output must start below its input to overlap it safely.

A raster-order kernel (our portable and fast CONV_2D, the portable DEPTHWISE_CONV_2D;
not the fast DEPTHWISE_CONV_2D, which works channel plane by channel plane and runs
in place instead, and not CMSIS-NN's, whose order is not ours to rely on)
produces output pixels in increasing p = (n*out_h + y)*out_w + x order and writes
pixel p's C_out bytes only while it still reads input for pixels >= p (the portable
kernels write channel oc of pixel p, then read pixel p's field again for oc + 1; the
fast conv reads pixels p and p+1 before writing either, which needs less). So once
pixel p is being written, the input bytes of earlier pixels' fields are dead, and
the output may reuse them: with the output at `in_base - D`, pixel p's bytes are

    [in_base - D + p*C_out,  in_base - D + (p+1)*C_out)

and they are safe if they all lie below the lowest input byte any pixel q >= p reads:

    (p+1)*C_out - D <= low_suffix(p) = min over q >= p of low(q)             (1)

where low(q), in bytes from in_base, is the first byte of the first row and column
of q's receptive field that is inside the image (padding is never read):

    low(q) = ((n*in_h + y_lo(q.y))*in_w + x_lo(q.x)) * C_in
    y_lo(oy) = min { oy*stride_h - pad_top + k*dilation_h : 0 <= k < filter_h } ∩ [0, in_h)

(x_lo likewise; a pixel whose field lies wholly in the padding reads nothing and
adds no constraint). low() is not monotonic -- with pad_top > 0 output rows 0 and 1
both start at input row 0, and row 1's first pixel reads below row 0's last -- hence
the suffix minimum. The minimum lead is therefore

    D = max over p of (p+1)*C_out - low_suffix(p)                            (2)

Any D' >= D is safe as well (every write moves further below the data still
needed), and so is an output that does not overlap the input at all. For a
3x3 stride-1 'SAME' conv with C_in = C_out = C the maximum is at any interior
pixel: D = (in_w + 2) * C, a little over one input row. D may be negative (the
output may then start above the input, when the first rows are never read).

(2) is tight for the rule "pixel p's bytes must not meet a byte any pixel >= p
reads": with D - 1 the last byte of the pixel that sets the maximum lands on such
a byte. It does not try to fit writes into the gaps between fields (the columns a
strided 1x1 conv skips, say), and for the portable kernels' per-channel order,
which writes pixel p's last byte after pixel p's last read, it can be one byte
more than needed (tests/test_overlap.py simulates both kernels' orders).

A kernel rewrite must keep this order (and must not declare input and output
`restrict`), or drop its `overlap=`: tests/test_overlap.py's residual models
fail bit-exactness when the output clobbers input still to be read.
"""
from __future__ import annotations

import numpy as np

from ..lowering import shape4


def _first_valid(out_size: int, in_size: int, filter_size: int, stride: int, dilation: int,
                 pad: int) -> np.ndarray:
    """Per output row (or column): the lowest input row the field reads, or -1 if none."""
    starts = np.arange(out_size)[:, None] * stride - pad + np.arange(filter_size)[None, :] * dilation
    inside = (starts >= 0) & (starts < in_size)
    lowest = np.where(inside, starts, np.iinfo(np.int64).max).min(axis=1)
    return np.where(inside.any(axis=1), lowest, -1)


def raster_lead(in_shape, out_shape, filter_hw: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], pad_before: tuple[int, int]) -> int:
    """Minimum lead D in bytes (formula (2) above) for int8 NHWC tensors.

    in_shape, out_shape: NHWC (rank <= 4, padded on the left with 1s); filter_hw, stride,
    dilation, pad_before: (height, width) pairs, pad_before being (pad_top, pad_left).
    """
    n, in_h, in_w, in_c = shape4(tuple(in_shape))
    _, out_h, out_w, out_c = shape4(tuple(out_shape))
    y_lo = _first_valid(out_h, in_h, filter_hw[0], stride[0], dilation[0], pad_before[0])
    x_lo = _first_valid(out_w, in_w, filter_hw[1], stride[1], dilation[1], pad_before[1])
    batch = np.arange(n)[:, None, None]
    low = ((batch * in_h + y_lo[None, :, None]) * in_w + x_lo[None, None, :]) * in_c
    reads = np.broadcast_to((y_lo[None, :, None] >= 0) & (x_lo[None, None, :] >= 0), low.shape)
    never = np.iinfo(np.int64).max
    low = np.where(reads, low, never).ravel().astype(np.int64)
    suffix = np.minimum.accumulate(low[::-1])[::-1]
    needed = suffix != never
    if not needed.any():
        return 0                          # nothing is read: any placement is safe
    pixels = np.arange(1, low.size + 1, dtype=np.int64)
    return int((pixels * out_c - suffix)[needed].max())


def conv_overlap(op, graph, pad_top: int, pad_left: int) -> tuple[int, int]:
    """KernelCall.overlap for a CONV_2D or DEPTHWISE_CONV_2D whose kernel runs in raster
    order: (its data input's tensor index, the minimum lead in bytes)."""
    x, y, w = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0]), graph.tensor(op.inputs[1])
    o = op.options
    lead = raster_lead(x.shape, y.shape, (w.shape[1], w.shape[2]), (o["stride_h"], o["stride_w"]),
                       (o["dilation_h_factor"], o["dilation_w_factor"]), (pad_top, pad_left))
    return op.inputs[0], lead
