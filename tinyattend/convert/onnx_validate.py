"""Validate an ONNX model's numbers before onnx2tf, TensorFlow or ONNX Runtime see them.

onnx2tf runs unbounded: a Conv padded by 100,000 pixels kept it busy for minutes at 4-5 GiB, a batch of
100,000 took 7.6 GiB, an opset from the future or a group that does not divide the channels ended
in raw ONNX Runtime errors after half a minute of work. Each check here is cheap and names the node,
the attribute and the fix.
"""
from __future__ import annotations

import math
from pathlib import Path

import onnx

from ..errors import BadModelError, ResourceLimitError
from ..limits import limits, refuse
from .onnx_graph import GraphIndex, OnnxInput, _attr

SPATIAL_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")
AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
OLDEST_OPSET = 7          # onnx2tf and the TFLite path are tested from opset 7 on


def _text(value) -> str:
    """An attribute or name from the file as printable text (it need not be UTF-8)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "?" for c in str(value))[:80]


def validate_onnx(model, path: Path, onnx_in: OnnxInput) -> None:
    """BadModelError or ResourceLimitError for the first problem found."""
    _check_opset(model, path)
    _check_input(path, onnx_in)
    graph = GraphIndex(model.graph)
    channels = _channels(model)
    for index, node in enumerate(model.graph.node):
        if node.op_type in SPATIAL_OPS and node.domain in ("", "ai.onnx"):
            where = f"{path}: {node.op_type} node '{_text(node.name) or f'#{index}'}'"
            _check_spatial(node, graph, where, channels.get(node.input[0]) if node.input else None)


def _channels(model) -> dict[str, int]:
    """Tensor name -> its static channel count (dimension 1, NCHW), from ONNX shape inference; {} when it fails
    (the converter's own errors then speak)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is best effort here
        return {}
    found = {}
    for value in (*inferred.graph.input, *inferred.graph.value_info):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value"):
            found[value.name] = int(dims[1].dim_value)
    return found


def _check_opset(model, path: Path) -> None:
    newest = onnx.defs.onnx_opset_version()
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx") and not OLDEST_OPSET <= entry.version <= newest:
            raise BadModelError(f"{path}: ONNX opset {entry.version}; this installation reads opsets "
                                f"{OLDEST_OPSET} to {newest}",
                                f"re-export the model with an opset from {OLDEST_OPSET} to {newest} "
                                "(torch.onnx.export(..., opset_version=17))")


def _check_input(path: Path, onnx_in: OnnxInput) -> None:
    if onnx_in.shape and onnx_in.shape[0] != 1:
        raise BadModelError(f"{path}: input '{_text(onnx_in.name)}' has batch dimension {onnx_in.shape[0]}; "
                            "tinyattend converts single-sample (batch 1) models for microcontrollers",
                            "export the model with batch size 1, or give --input-shape 1,...")
    refuse(f"{path}: input '{_text(onnx_in.name)}' of shape {list(onnx_in.shape)} (float32) is too large",
           4 * math.prod(onnx_in.shape), "max_tensor_bytes", " bytes")


def _ints(node, name, where, count=None) -> list[int] | None:
    value = _attr(node, name)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        raise BadModelError(f"{where}: attribute {name} is not a list of integers", "re-export the model")
    if count is not None and len(value) != count:
        raise BadModelError(f"{where}: attribute {name} has {len(value)} values; a 2-D {node.op_type} takes "
                            f"{count}", "re-export the model")
    return list(value)


def _check_spatial(node, graph: GraphIndex, where: str, in_channels: int | None) -> None:
    fix = "the model is corrupt or was edited by hand; re-export it"
    max_pad = limits().max_pad
    weight = graph.constant(node.input[1]) if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 1 \
        else None
    kernel = _ints(node, "kernel_shape", where, 2)
    if kernel is None and weight is not None and weight.ndim == 4:
        kernel = list(weight.shape[2:])
    if kernel is not None and any(k < 1 for k in kernel):
        raise BadModelError(f"{where}: kernel_shape {kernel} has a size below 1", fix)
    if kernel is not None and weight is not None and weight.ndim == 4 and list(weight.shape[2:]) != kernel:
        raise BadModelError(f"{where}: kernel_shape {kernel} does not match its weights' shape "
                            f"{list(weight.shape)} (O, I/group, kH, kW)", fix)
    strides = _ints(node, "strides", where, 2)
    if strides is not None and any(not 1 <= s <= max_pad for s in strides):
        raise BadModelError(f"{where}: strides {strides} must be from 1 to {max_pad}", fix)
    dilations = _ints(node, "dilations", where, 2)
    if dilations is not None and any(d < 1 for d in dilations):
        raise BadModelError(f"{where}: dilations {dilations} must be at least 1", fix)
    if dilations is not None and kernel is not None:
        extent = max((k - 1) * d + 1 for k, d in zip(kernel, dilations))
        if extent > max_pad:
            raise ResourceLimitError(f"{where}: dilations {dilations} make a {extent}-pixel kernel, over "
                                     f"tinyattend's limit of {max_pad}",
                                     "check the model; raise the limit with TINYATTEND_MAX_PAD=N if meant")
    pads = _ints(node, "pads", where, 4)
    if pads is not None and any(p < 0 for p in pads):
        raise BadModelError(f"{where}: negative pads {pads}", fix)
    if pads is not None and max(pads) > max_pad:
        raise ResourceLimitError(f"{where}: pads {pads} are over tinyattend's limit of {max_pad} pixels",
                                 "check the model (padding that large is a corrupt or hostile file); raise the "
                                 "limit with TINYATTEND_MAX_PAD=N if meant")
    auto_pad = _text(_attr(node, "auto_pad", b"NOTSET"))
    if auto_pad not in AUTO_PADS:
        raise BadModelError(f"{where}: auto_pad '{auto_pad}' is not one of {', '.join(AUTO_PADS)}", fix)
    group = _attr(node, "group", 1)
    if node.op_type in ("Conv", "ConvTranspose"):
        if not isinstance(group, int) or group < 1:
            raise BadModelError(f"{where}: group {group} must be a positive integer", fix)
        if weight is not None and weight.ndim == 4:
            takes = weight.shape[1] * group if node.op_type == "Conv" else weight.shape[0]
            if node.op_type == "Conv" and weight.shape[0] % group:
                raise BadModelError(f"{where}: group {group} does not divide its {weight.shape[0]} output "
                                    f"channels (weights {list(weight.shape)})", fix)
            if in_channels is not None and in_channels != takes:
                raise BadModelError(f"{where}: its input has {in_channels} channels, but weights "
                                    f"{list(weight.shape)} with group {group} take {takes}", fix)
