"""IR dataclasses. Layout is NHWC as in TFLite; shapes are tuples of ints.

Tensors are referred to by index into `Graph.tensors`; an absent optional
input (TFLite's -1) is `None` in `Op.inputs`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4, "float16": 2, "bool": 1}
NUMPY_DTYPES = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32,
                "int64": np.int64, "float32": np.float32, "float16": np.float16, "bool": np.bool_}


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per `axis` channel."""
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str                       # as in the model: untrusted text, sanitise before use in C or paths
    shape: tuple[int, ...]
    dtype: str                      # a key of DTYPE_BYTES
    quant: QuantParams | None = None
    data: bytes | None = field(default=None, repr=False)   # constant buffer, little-endian

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.num_elements * DTYPE_BYTES[self.dtype]

    def array(self) -> np.ndarray:
        """The constant data as a numpy array of this tensor's shape."""
        if self.data is None:
            raise ValueError(f"tensor {self.index} has no constant data")
        return np.frombuffer(self.data, dtype=NUMPY_DTYPES[self.dtype]).reshape(self.shape)

    @property
    def scale(self) -> float:
        return self.quant.scale[0]

    @property
    def zero_point(self) -> int:
        return self.quant.zero_point[0]


@dataclass(frozen=True)
class Op:
    index: int
    type: str                         # TFLite builtin name, e.g. "CONV_2D"
    inputs: tuple[int | None, ...]
    outputs: tuple[int, ...]
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))   # snake_case keys
    version: int = 1


@dataclass(frozen=True)
class Graph:
    name: str
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]               # in execution order
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def producer(self, tensor_index: int) -> Op | None:
        for op in self.ops:
            if tensor_index in op.outputs:
                return op
        return None

    def consumers(self, tensor_index: int) -> list[Op]:
        return [op for op in self.ops if tensor_index in op.inputs]

    def is_float_edge(self, index: int) -> bool:
        """A float32 model input that only QUANTIZE ops read (and that is not also an output),
        or a float32 model output that one DEQUANTIZE writes: a float interface around an int8 model."""
        if self.tensors[index].dtype != "float32":
            return False
        if index in self.inputs:
            readers = self.consumers(index)
            return (index not in self.outputs and bool(readers)
                    and all(op.type == "QUANTIZE" and op.inputs[0] == index for op in readers))
        writers = [op for op in self.ops if index in op.outputs]
        return index in self.outputs and len(writers) == 1 and writers[0].type == "DEQUANTIZE"
