"""The intermediate representation: a TFLite graph as plain frozen dataclasses."""
from .graph import Graph, Op, QuantParams, Tensor  # noqa: F401
