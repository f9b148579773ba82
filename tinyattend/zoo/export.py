"""Export a zoo model to ONNX: eval mode, BatchNorm folded, GroupNorm(1, C)/LayerNorm in plain ops
(see blocks.plain_export_ops), static [1, 3, H, W], opset 14.

Nearest upsampling is exported from a constant scale factor, which ONNX writes as
Resize(mode=nearest) and the converter maps to RESIZE_NEAREST_NEIGHBOR (not TILE).
"""
from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import BadModelError
from .registry import get_entry, require_torch

OPSET = 14   # HardSwish is an ONNX op from 14 on (13 splits it into HardSigmoid + Mul)
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def load_weights(model, weights: Path):
    """Load a state-dict file (torch.save of model.state_dict()) into `model`."""
    torch = require_torch()
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as err:
        raise BadModelError(f"cannot read weights {weights}: {err}",
                            fix="pass a file written by torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise BadModelError(f"weights {weights} do not fit this model: {first}",
                            fix="export the zoo model the weights were trained for") from None
    return model


def export_model(model, out: Path, input_size: int | tuple[int, int], opset: int = OPSET, channels: int = 3) -> Path:
    """Fold BatchNorm, switch to eval mode, swap GroupNorm(1, C)/LayerNorm for their plain-op forms
    (`blocks.plain_export_ops`) and write `model` as ONNX with input [1, channels, H, W] (`input_size` S for
    S x S, or (H, W)). Changes `model` in place."""
    torch = require_torch()
    from .blocks import fold_batchnorm, plain_export_ops

    model = plain_export_ops(fold_batchnorm(model.eval()))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    dummy = torch.zeros(1, channels, height, width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(model, (dummy,), str(out), opset_version=opset, dynamo=False,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              do_constant_folding=True)
    _drop_identities(out)
    return out


def _drop_identities(path: Path) -> None:
    """Remove the Identity nodes torch's exporter adds when two initializers are equal (e.g. the
    zero biases of untrained folded convs): consumers read the source initializer directly."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    outputs = {o.name for o in graph.output}
    rename = {n.output[0]: n.input[0] for n in graph.node
              if n.op_type == "Identity" and n.output[0] not in outputs}
    if not rename:
        return
    keep = [n for n in graph.node if not (n.op_type == "Identity" and n.output[0] in rename)]
    for node in keep:
        for i, name in enumerate(node.input):
            while name in rename:
                name = rename[name]
            node.input[i] = name
    del graph.node[:]
    graph.node.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export_zoo_model(name: str, out: Path, weights: Path | None = None, input_size: int | None = None) -> Path:
    """Build zoo model `name`, load `weights` if given, export to `out` (.onnx)."""
    require_torch()
    entry = get_entry(name)
    size = input_size or entry.input_size
    model = entry.build_for(size)
    if weights is not None:
        load_weights(model, Path(weights))
    return export_model(model, Path(out), size)
