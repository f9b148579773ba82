"""Per-channel requantization constants shared by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED."""
from __future__ import annotations

import functools

import numpy as np

from ...ir.graph import Graph, Op
from ...ir.quant import activation_range, effective_scale, quantize_multiplier_array


def channel_multipliers(graph: Graph, op: Op, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLM's PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel."""
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    weight_scales = tuple(w.quant.scale if w.quant.per_channel else w.quant.scale * channels)
    multipliers, shifts = _multipliers(float(x.scale), weight_scales, float(y.scale))
    return multipliers.copy(), shifts.copy()


@functools.lru_cache(maxsize=512)
def _multipliers(input_scale: float, weight_scales: tuple, output_scale: float) -> tuple[np.ndarray, np.ndarray]:
    # Kept: the fusion policy lowers the same layer once per band height it tries.
    return quantize_multiplier_array([effective_scale(input_scale, s, output_scale) for s in weight_scales])


def output_range(graph: Graph, op: Op) -> tuple[int, int]:
    y = graph.tensor(op.outputs[0])
    return activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
