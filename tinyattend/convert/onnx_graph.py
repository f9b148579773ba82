"""An ONNX graph as the pre-check and the ONNX rewrites read it: who produces and reads each tensor, and
its constant value where it has one."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OnnxInput:
    name: str
    shape: tuple[int, ...]      # static, after --input-shape
    elem_type: int


def _attr(node, name, default=None):
    import onnx.helper
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


class GraphIndex:
    """Who produces and who reads each tensor of an ONNX graph, and its constant value if it has one
    (an initializer or a Constant node's output): what constraints that look past one node need."""

    def __init__(self, graph, shapes: dict | None = None):
        from onnx import numpy_helper

        self.shapes = shapes or {}       # tensor name -> shape (None for unknown dimensions), where inferred
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self._constants = {init.name: init for init in graph.initializer}
        self._to_array = numpy_helper.to_array

    def constant(self, name: str):
        """The value of tensor `name` as a numpy array, or None when it is computed at run time."""
        if name in self._constants:
            return self._to_array(self._constants[name])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant":
            value = _attr(node, "value")
            return self._to_array(value) if value is not None else None
        return None

    def scalar_operand(self, node, value: float, rel: float = 1e-6):
        """For a binary node with one constant operand equal to `value` (a single element): the other
        input's name, else None."""
        for const_index in (1, 0):
            array = self.constant(node.input[const_index])
            if array is not None and array.size == 1 and abs(float(array.reshape(-1)[0]) - value) <= rel * abs(value):
                return node.input[1 - const_index]
        return None

    def only_consumer(self, name: str):
        readers = self.consumers.get(name, [])
        return readers[0] if len(readers) == 1 else None


def _text_attr(node, name, default: str) -> str:
    value = _attr(node, name, default)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
