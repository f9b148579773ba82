"""Hypothesis strategies that mutate a valid ONNX model: node attributes (pads, strides, dilations,
kernel shapes, group, axis, modes) at their edges, the input's dimensions (batch, huge sizes), the
opset, initializers (dims, truncated data, external data outside the model folder), op types, names
that are not UTF-8, and byte damage of the serialised protobuf."""
from __future__ import annotations

import onnx
from hypothesis import strategies as st

from .tflite_mutations import Blob, Seeds

INT_EDGES = (0, 1, 2, 3, 7, 64, 65536, 100000, (1 << 31) - 1, -1, -(1 << 31))
STRING_EDGES = (b"linear", b"cubic", b"nearest", b"bogus", b"\xff\xfe")
OP_TYPES = ("Conv", "Relu", "MaxPool", "Gemm", "Add", "Mul", "Reshape", "Transpose", "Softmax", "Resize",
            "Concat", "Det", "LSTM", "Loop")
OPSETS = (1, 7, 11, 13, 17, 21, 99)


def _set_attribute(node, name, value) -> None:
    for attribute in list(node.attribute):
        if attribute.name == name:
            node.attribute.remove(attribute)
    node.attribute.append(onnx.helper.make_attribute(name, value))


@st.composite
def _edit(draw, model: onnx.ModelProto) -> str:
    graph = model.graph
    kind = draw(st.sampled_from(("attribute", "attribute", "attribute", "input-dim", "opset", "initializer",
                                 "external-data", "op-type", "name", "new-attribute")))
    nodes = list(graph.node)
    node = nodes[draw(st.integers(0, len(nodes) - 1))]
    if kind == "attribute" and node.attribute:
        attribute = node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
        if attribute.type == onnx.AttributeProto.INTS:
            values = list(attribute.ints) or [1]
            i = draw(st.integers(0, len(values) - 1))
            values[i] = draw(st.sampled_from(INT_EDGES))
            _set_attribute(node, attribute.name, values)
            return f"{node.op_type} {attribute.name}[{i}] = {values[i]}"
        if attribute.type == onnx.AttributeProto.INT:
            value = draw(st.sampled_from(INT_EDGES))
            _set_attribute(node, attribute.name, value)
            return f"{node.op_type} {attribute.name} = {value}"
        if attribute.type == onnx.AttributeProto.STRING:
            value = draw(st.sampled_from(STRING_EDGES))
            _set_attribute(node, attribute.name, value)
            return f"{node.op_type} {attribute.name} = {value!r}"
        if attribute.type == onnx.AttributeProto.FLOAT:
            value = draw(st.sampled_from((0.0, -1.0, 1e30, float("nan"))))
            _set_attribute(node, attribute.name, value)
            return f"{node.op_type} {attribute.name} = {value}"
        return f"{node.op_type} {attribute.name}: type {attribute.type} left"
    if kind == "new-attribute":
        name = draw(st.sampled_from(("pads", "strides", "dilations", "kernel_shape", "group", "axis", "perm")))
        value = draw(st.sampled_from(INT_EDGES))
        value = value if name in ("group", "axis") else [value] * draw(st.sampled_from((1, 2, 4)))
        _set_attribute(node, name, value)
        return f"{node.op_type} +{name} = {value}"
    if kind == "input-dim":
        dims = graph.input[0].type.tensor_type.shape.dim
        i = draw(st.integers(0, len(dims) - 1))
        value = draw(st.sampled_from((0, 2, 100000, 1 << 20, "N")))
        if isinstance(value, str):
            dims[i].dim_param = value
        else:
            dims[i].dim_value = value
        return f"input dim {i} = {value}"
    if kind == "opset":
        model.opset_import[0].version = draw(st.sampled_from(OPSETS))
        return f"opset {model.opset_import[0].version}"
    if kind in ("initializer", "external-data") and graph.initializer:
        init = graph.initializer[draw(st.integers(0, len(graph.initializer) - 1))]
        if kind == "external-data":
            location = draw(st.sampled_from(("../../../../etc/passwd", "/etc/hostname", "missing.bin",
                                             "a/../../x.bin")))
            init.ClearField("raw_data")
            del init.float_data[:]
            init.data_location = onnx.TensorProto.EXTERNAL
            del init.external_data[:]
            entry = init.external_data.add()
            entry.key, entry.value = "location", location
            return f"initializer {init.name} external data at {location}"
        if init.dims and draw(st.booleans()):
            i = draw(st.integers(0, len(init.dims) - 1))
            init.dims[i] = draw(st.sampled_from((0, 1, 3, 1 << 20, -1)))
            return f"initializer {init.name} dim {i} = {init.dims[i]}"
        if init.raw_data:
            init.raw_data = init.raw_data[:draw(st.integers(0, max(0, len(init.raw_data) - 1)))]
            return f"initializer {init.name} data truncated"
        return "initializer left"
    if kind == "op-type":
        node.op_type = draw(st.sampled_from(OP_TYPES))
        return f"node {node.name} -> {node.op_type}"
    if kind == "name":
        # Not UTF-8: protobuf's Python API refuses such str, so the bytes are patched in after serialising.
        node.name = "NAME_TO_PATCH"
        return f"node name -> non-UTF-8 bytes"
    return f"{kind} not applicable"


@st.composite
def mutated_onnx(draw, seeds: Seeds) -> tuple[str, bytes, str]:
    name = draw(st.sampled_from(sorted(seeds.models)))
    data = Blob(seeds.models[name])
    if not draw(st.integers(0, 4)):
        damaged = bytearray(data)
        places = draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=6))
        for place in places:
            damaged[place] ^= 1 << draw(st.integers(0, 7))
        return name, Blob(damaged), f"bit flips at {places}"
    model = onnx.load_from_string(bytes(data))
    done = [draw(_edit(model)) for _ in range(draw(st.integers(1, 2)))]
    out = model.SerializeToString()
    # Same length, so the protobuf's length prefixes stay right.
    out = out.replace(b"NAME_TO_PATCH", b"\xff\xfe\xc3(NAMEPATCH")
    return name, Blob(out), "; ".join(done)
