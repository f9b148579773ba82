"""Scratch sizes in bytes, by the rules of CMSIS-NN v7's `*_get_buffer_size` functions.

Each function takes the core whose code path the library compiles ("c", "dsp" or
"mve", see `_structs.core`) and the same geometry the library's function reads.
Where the library's answer depends on the compiler (armclang vs gcc), the larger
one is returned, so the buffer is enough for either.
"""
from __future__ import annotations

CH_IN_BLOCK_MVE = 124
# arm_nnsupportfunctions.h: 8 with armclang, 1 with gcc; the larger buffer is the 1 case (converts more often).
DW_ONE_IN_CH_THRESHOLD = 1


def conv_s8(core: str, in_c: int, fh: int, fw: int) -> int:
    """arm_convolve_s8_get_buffer_size: the im2col buffer."""
    if core == "mve":
        col_length = (in_c * fw * fh + 15) // 16
        return 4 * col_length * 16
    rhs_cols = fw * fh * in_c
    aligned = (rhs_cols + 3) // 4 * 4
    return 2 * aligned * 2


def conv_1x1_fast(core: str, in_c: int) -> int:
    """arm_convolve_1x1_s8_fast_get_buffer_size: non-zero only for armclang DSP builds."""
    return 2 * in_c * 2 if core == "dsp" else 0


def conv_1_x_n(core: str, in_c: int, in_w: int, fh: int, fw: int, pad_w: int, stride_w: int, out_w: int) -> int:
    """arm_convolve_1_x_n_s8_get_buffer_size."""
    if core != "mve":
        return conv_s8(core, in_c, fh, fw)
    total_pad = (out_w - 1) * stride_w + fw - in_w
    asym_pad = total_pad % 2
    right = max(1, (pad_w + asym_pad + stride_w - 1) // stride_w) if pad_w + asym_pad != 0 else 0
    left = max(1, (pad_w + stride_w - 1) // stride_w) if pad_w != 0 else 0
    no_pad = max(out_w - (right + left), 0)
    if right + no_pad + left != out_w:
        return conv_s8(core, in_c, fh, fw)
    pad_left = pad_w * in_c
    pad_right = right * in_c if asym_pad else pad_left
    elem_left = fw * in_c
    elem_right = elem_left - in_c
    return max(elem_left + pad_left, elem_right + pad_right)


def conv_wrapper_s8(core: str, *, in_h: int, in_w: int, in_c: int, fh: int, fw: int, pad_h: int, pad_w: int,
                    stride_h: int, stride_w: int, dil_h: int, dil_w: int, out_w: int) -> int:
    """arm_convolve_wrapper_s8_get_buffer_size (and its _dsp and _mve variants)."""
    if pad_w == 0 and pad_h == 0 and fw == 1 and fh == 1 and dil_w == 1 and dil_h == 1:
        return conv_1x1_fast(core, in_c) if stride_w == 1 and stride_h == 1 else 0
    if in_h == 1 and dil_w == 1 and fh == 1 and (stride_w * in_c) % 4 == 0:
        return conv_1_x_n(core, in_c, in_w, fh, fw, pad_w, stride_w, out_w)
    return conv_s8(core, in_c, fh, fw)


def depthwise_wrapper_s8(core: str, *, batches: int, in_h: int, in_w: int, in_c: int, out_c: int, fh: int, fw: int,
                         pad_h: int, pad_w: int, stride_h: int, stride_w: int, dil_h: int, dil_w: int,
                         out_w: int) -> int:
    """arm_depthwise_conv_wrapper_s8_get_buffer_size for the core."""
    if core == "mve" and in_c == 1 and out_c > DW_ONE_IN_CH_THRESHOLD:
        # Converted to a convolution: its buffer, then the transposed filter.
        conv = conv_wrapper_s8(core, in_h=in_h, in_w=in_w, in_c=in_c, fh=fh, fw=fw, pad_h=pad_h, pad_w=pad_w,
                               stride_h=stride_h, stride_w=stride_w, dil_h=dil_h, dil_w=dil_w, out_w=out_w)
        return conv + out_c * fh * fw
    if in_c == out_c and batches == 1 and dil_w == 1 and dil_h == 1:
        if core != "mve" and fw == 3 and fh == 3 and pad_h <= 1 and pad_w <= 1:
            return 0
        if core == "mve":
            return 4 * CH_IN_BLOCK_MVE * fw * fh
        if core == "dsp":
            return in_c * fw * fh * 2
    return 0


def fully_connected_s8(core: str, out_c: int) -> int:
    """arm_fully_connected_s8_get_buffer_size: the kernel sums (int32 per output) on MVE."""
    return out_c * 4 if core == "mve" else 0


def avgpool_s8(core: str, in_c: int) -> int:
    """arm_avgpool_s8_get_buffer_size: an int32 accumulator per channel on DSP."""
    return in_c * 4 if core == "dsp" else 0


REVERSE_TCOL_EFFICIENT_THRESHOLD = 16     # arm_nnsupportfunctions.h


def transpose_conv_reverse(in_c: int, stride_h: int, stride_w: int) -> bool:
    """Whether arm_transpose_conv_wrapper_s8 runs the transpose convolution as arm_convolve_s8 on a
    reversed filter (strides up to 2 and more than 16 input channels) rather than arm_transpose_conv_s8."""
    return stride_w <= 2 and stride_h <= 2 and in_c > REVERSE_TCOL_EFFICIENT_THRESHOLD


def transpose_conv_s8(core: str, *, in_w: int, in_c: int, fh: int, fw: int, stride_h: int, stride_w: int,
                      out_c: int) -> int:
    """arm_transpose_conv_s8_get_buffer_size: the convolution's buffer on the reverse path, else the
    rolling int32 accumulator rows. The library sizes a row with max(filter_w, stride_h) where
    arm_transpose_conv_s8 uses max(filter_w, stride_w); the larger of the two is returned."""
    if transpose_conv_reverse(in_c, stride_h, stride_w):
        return conv_s8(core, in_c, fh, fw)
    buf_x = ((in_w - 1) * stride_w + max(fw, stride_w, stride_h)) * out_c
    return buf_x * max(fh, stride_h) * 4


def transpose_conv_reverse_s8(*, in_c: int, fh: int, fw: int, out_c: int, stride_h: int, stride_w: int) -> int:
    """arm_transpose_conv_s8_get_reverse_conv_buffer_size: the reversed filter, on the reverse path only."""
    return in_c * fw * fh * out_c if transpose_conv_reverse(in_c, stride_h, stride_w) else 0
