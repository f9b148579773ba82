"""What an op lowers to: one kernel call, its constants and its scratch memory.

Op modules in `codegen/ops/` turn an IR op into a `KernelCall`. The memory
planner then places tensors and scratch buffers, and `emit` renders the calls.
Lowering is pure: it reads the graph and returns data.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..boards import Board
from ..ir.graph import Graph


@dataclass(frozen=True)
class Target:
    """What the generated code is for: the board and the chosen kernel set."""
    board: Board
    kernels: str = "portable"        # portable | cmsis-nn
    optimize: str = "balanced"       # speed | size | balanced
    wide_ops: frozenset = frozenset()  # CONV_2D op indices with int16 weights (codegen/optimize.py)
    winograd_ops: frozenset = frozenset()  # CONV_2D op indices run by Winograd F(2x2, 3x3) (codegen/optimize.py)
    uncopied_ops: frozenset = frozenset()  # fast CONV_2D op indices without their padded input copy (lean.py)
    lean_ops: frozenset = frozenset()  # op indices lowered with the portable kernels: no scratch (codegen/lean.py)
    arena_limit: int | None = None     # the most bytes the arena may take (--ram less the stack), None: no limit
    auto_kernels: bool = False         # --kernels auto: the generator may take other kernels per layer (lean.py)


def renumbered(target: Target, kept) -> Target:
    """The target for a graph whose ops `kept` (in order) are renumbered by position, as the fusion
    passes do: wide_ops and winograd_ops follow their ops to the new indices."""
    def follow(chosen: frozenset) -> frozenset:
        return frozenset(p for p, op in enumerate(kept) if op.type == "CONV_2D" and op.index in chosen)
    return replace(target, wide_ops=follow(target.wide_ops), winograd_ops=follow(target.winograd_ops))


@dataclass(frozen=True)
class TensorArg:
    """A pointer to a tensor's data: in the arena, or its constant array."""
    index: int
    const: bool = False              # render as `const int8_t *`


@dataclass(frozen=True)
class ScratchArg:
    """A pointer to this op's scratch buffer in the arena."""


@dataclass(frozen=True)
class ConstRef:
    """A reference to one of this call's ConstArrays, by its short name."""
    name: str


@dataclass(frozen=True)
class ConstArray:
    """Constant data the call needs (multipliers, tables, re-laid-out weights)."""
    name: str                        # short name, unique within the call: "mult", "lut"
    ctype: str                       # "int8_t", "int16_t", "int32_t", "uint8_t"
    values: np.ndarray = field(compare=False)


@dataclass(frozen=True)
class KernelCall:
    """One C call: `function(&params, *args)` with `params` a static const struct."""
    function: str                          # e.g. "ta_conv2d_s8"
    sources: tuple[str, ...]               # kernel files under templates/kernels/, .c and .h
    params_type: str | None                # C struct type name, or None for no params struct
    params: tuple[tuple[str, object], ...] # (field, value): int, tuple of ints, or ConstRef
    args: tuple[object, ...]               # TensorArg | ScratchArg | ConstRef | int | str (C expression)
    constants: tuple[ConstArray, ...] = ()
    scratch_bytes: int = 0
    in_place: bool = False                 # output may overwrite an input that dies here, from its first
                                           # byte (same size or smaller; the planner frees the rest)
    # (input tensor index, lead in bytes): the kernel runs in raster order, so when that input
    # dies here its output may overlap it, starting at least `lead` bytes below it (ops/_overlap.py)
    overlap: tuple[int, int] | None = None
    macs: int = 0
    declarations: tuple[str, ...] = ()     # extra file-scope C (static const structs), for library calls
    headers: tuple[str, ...] = ()          # extra headers to include, e.g. "arm_nnfunctions.h"
    library: str | None = None             # external library the call needs ("cmsis-nn"), else our kernels
    paths: tuple[str, ...] = ()            # optional kernel paths the call takes (TA_PATH_* in its sources);
                                           # the generator compiles out those no call takes (ta_paths.h)


@dataclass(frozen=True)
class Alias:
    """The op is a no-op on memory: its output is its input's bytes (RESHAPE)."""
    source: int
    macs: int = 0


Lowered = KernelCall | Alias


def unsupported(reasons: list[str]) -> list[str]:
    return [r for r in reasons if r]


def same_quant(graph: Graph, a: int, b: int) -> bool:
    ta, tb = graph.tensor(a), graph.tensor(b)
    if ta.quant is None or tb.quant is None:
        return ta.quant is tb.quant
    return ta.quant.scale == tb.quant.scale and ta.quant.zero_point == tb.quant.zero_point


def shape4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Pad a shape on the left with 1s to NHWC rank 4."""
    if len(shape) > 4:
        raise ValueError(f"shape {shape} has more than 4 dimensions")
    return (1,) * (4 - len(shape)) + tuple(shape)


def dims(shape: tuple[int, ...]) -> dict:
    n, h, w, c = shape4(shape)
    return {"n": n, "h": h, "w": w, "c": c}


def edge_quant(graph: Graph, index: int) -> tuple[float, int] | None:
    """(scale, zero point) of the int8 values at a model input or output: its own for an int8
    tensor; for a float32 input, the output's of the QUANTIZE that reads it; for a float32
    output, the input's of the DEQUANTIZE that writes it. None when there is no such op."""
    tensor = graph.tensor(index)
    if tensor.dtype != "float32":
        if tensor.quant is None or not tensor.quant.scale:
            return None
        return tensor.scale, tensor.zero_point
    for op in graph.ops:
        if op.type == "QUANTIZE" and index in op.inputs:
            other = graph.tensor(op.outputs[0])
        elif op.type == "DEQUANTIZE" and index in op.outputs:
            other = graph.tensor(op.inputs[0])
        else:
            continue
        if other.dtype == "int8" and other.quant is not None and other.quant.scale:
            return other.scale, other.zero_point
    return None
