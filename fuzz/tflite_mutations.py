"""Hypothesis strategies that mutate a valid .tflite: byte-level damage, and structural edits through
LiteRT's flatbuffer object API (shapes, types, quantization, op indices, op options, buffers), with
values chosen at the edges where checks are missing (0, -1, 2^16, 2^31 - 1, NaN, ...)."""
from __future__ import annotations

import struct

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from hypothesis import strategies as st

INT_EDGES = (0, 1, 2, 3, 4, 7, 8, 16, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 100000, (1 << 20),
             (1 << 31) - 1, -1, -2, -128, -(1 << 31))
DIM_EDGES = (0, 1, 2, 3, 5, 64, 1000, 65536, 1 << 20, (1 << 31) - 1, -1)
SCALE_EDGES = (0.0, -1.0, float("nan"), float("inf"), 1e-45, 1e-30, 1e-9, 1.0, 2.0, 256.0, 65536.0, 1e20)
ZERO_POINT_EDGES = (-129, -128, 0, 127, 128, 255, 1000, -(1 << 31), (1 << 31) - 1)
FLOAT_EDGES = (0.0, -1.0, 1e-30, 1e30, float("nan"), float("inf"))
HOSTILE_NAMES = (b"", b"\xff\xfe\xc3(", b"*/ int X; /*", b"a" * 3000, b"../../etc/passwd", b"\x00\x1b[2J")

ints = st.one_of(st.sampled_from(INT_EDGES), st.integers(-300, 300))


def serialise(model: schema.ModelT) -> bytes:
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def unpack(data: bytes) -> schema.ModelT:
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


@st.composite
def byte_damage(draw, data) -> tuple[bytes, str]:
    data = bytearray(data)
    kind = draw(st.sampled_from(("flip", "overwrite", "truncate", "flip-header")))
    if kind == "truncate":
        cut = draw(st.integers(0, len(data) - 1))
        return bytes(data[:cut]), f"truncate at {cut}"
    # The first ~kilobytes hold the tables and vectors the reader walks; buffers follow.
    limit = len(data) if draw(st.booleans()) else min(len(data), 4096)
    if kind == "flip-header":
        limit = min(len(data), 64)
    places = draw(st.lists(st.integers(0, limit - 1), min_size=1, max_size=8))
    if kind == "overwrite":
        value = draw(st.sampled_from((0x00, 0xFF, 0x7F, 0x80)))
        run = draw(st.integers(1, 16))
        for place in places[:2]:
            data[place:place + run] = bytes([value]) * len(data[place:place + run])
        return bytes(data), f"overwrite {run} bytes with {value:#x} at {places[:2]}"
    for place in places:
        data[place] ^= 1 << draw(st.integers(0, 7))
    return bytes(data), f"bit flips at {places}"


def _tensors(model):
    return model.subgraphs[0].tensors or []


def _ops(model):
    return model.subgraphs[0].operators or []


@st.composite
def _edit(draw, model: schema.ModelT) -> str:
    """One structural edit, in place; returns what it did."""
    tensors, ops = _tensors(model), _ops(model)
    kind = draw(st.sampled_from(("shape", "shape", "type", "buffer", "scale", "zero-point", "axis", "op-index",
                                 "op-option", "op-option", "op-option", "opcode", "buffer-data", "graph-io",
                                 "name", "rank")))
    t = draw(st.integers(0, len(tensors) - 1))
    tensor = tensors[t]
    if kind == "shape" and tensor.shape is not None and len(tensor.shape):
        d = draw(st.integers(0, len(tensor.shape) - 1))
        value = draw(st.sampled_from(DIM_EDGES))
        tensor.shape = np.array(tensor.shape, dtype=np.int64)
        tensor.shape[d] = value
        tensor.shape = [int(v) for v in tensor.shape]
        return f"tensor {t} dim {d} = {value}"
    if kind == "rank":
        shape = list(tensor.shape if tensor.shape is not None else [])
        shape = shape[:-1] if shape and draw(st.booleans()) else shape + [draw(st.sampled_from((1, 2, 3)))]
        tensor.shape = shape
        return f"tensor {t} shape {shape}"
    if kind == "type":
        tensor.type = draw(st.one_of(st.integers(0, 17), st.just(99)))
        return f"tensor {t} type {tensor.type}"
    if kind == "buffer":
        tensor.buffer = draw(st.one_of(st.integers(0, len(model.buffers or []) + 2), st.just((1 << 31) - 1)))
        return f"tensor {t} buffer {tensor.buffer}"
    q = tensor.quantization
    if kind in ("scale", "zero-point", "axis") and q is not None and q.scale is not None and len(q.scale):
        if kind == "scale":
            i, value = draw(st.integers(0, len(q.scale) - 1)), draw(st.sampled_from(SCALE_EDGES))
            q.scale = [float(s) for s in q.scale]
            q.scale[i] = value
            return f"tensor {t} scale[{i}] = {value}"
        if kind == "zero-point" and q.zeroPoint is not None and len(q.zeroPoint):
            i, value = draw(st.integers(0, len(q.zeroPoint) - 1)), draw(st.sampled_from(ZERO_POINT_EDGES))
            q.zeroPoint = [int(z) for z in q.zeroPoint]
            q.zeroPoint[i] = value
            return f"tensor {t} zero_point[{i}] = {value}"
        q.quantizedDimension = draw(st.sampled_from((0, 1, 2, 3, 4, 7, -1)))
        return f"tensor {t} quantized axis {q.quantizedDimension}"
    if not ops:
        return "no ops"
    o = draw(st.integers(0, len(ops) - 1))
    op = ops[o]
    if kind == "op-index":
        which = draw(st.sampled_from(("inputs", "outputs")))
        vector = [int(i) for i in (getattr(op, which) if getattr(op, which) is not None else [])]
        if not vector:
            return "no op tensors"
        i = draw(st.integers(0, len(vector) - 1))
        vector[i] = draw(st.one_of(st.integers(-1, len(tensors) - 1), st.sampled_from((len(tensors), 1 << 30))))
        setattr(op, which, vector)
        return f"op {o} {which}[{i}] = {vector[i]}"
    if kind == "op-option" and op.builtinOptions is not None and vars(op.builtinOptions):
        field = draw(st.sampled_from(sorted(vars(op.builtinOptions))))
        old = getattr(op.builtinOptions, field)
        if isinstance(old, bool):
            value = not old
        elif isinstance(old, float):
            value = draw(st.sampled_from(FLOAT_EDGES))
        elif isinstance(old, (list, np.ndarray)):
            value = draw(st.lists(ints, max_size=6))
        else:
            value = draw(ints)
        setattr(op.builtinOptions, field, value)
        return f"op {o} option {field} = {value}"
    if kind == "opcode":
        codes = model.operatorCodes or []
        if draw(st.booleans()) or not codes:
            op.opcodeIndex = draw(st.integers(0, len(codes)))
            return f"op {o} opcode index {op.opcodeIndex}"
        code = codes[draw(st.integers(0, len(codes) - 1))]
        code.builtinCode = draw(st.sampled_from(sorted({c.builtinCode for c in codes} | {3, 4, 9, 17, 22, 25})))
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        return f"opcode -> builtin {code.builtinCode}"
    if kind == "buffer-data" and model.buffers:
        b = draw(st.integers(0, len(model.buffers) - 1))
        data = model.buffers[b].data
        size = 0 if data is None else len(data)
        new_size = draw(st.sampled_from((0, 1, max(size - 1, 0), size + 1, size * 2)))
        model.buffers[b].data = np.resize(np.asarray(data if data is not None else [7], np.uint8), new_size)
        return f"buffer {b} size {size} -> {new_size}"
    if kind == "graph-io":
        sub = model.subgraphs[0]
        which = draw(st.sampled_from(("inputs", "outputs")))
        setattr(sub, which, draw(st.lists(st.integers(-1, len(tensors)), min_size=0, max_size=3)))
        return f"graph {which} = {getattr(sub, which)}"
    if kind == "name":
        tensor.name = draw(st.sampled_from(HOSTILE_NAMES))
        return f"tensor {t} name {tensor.name[:12]!r}"
    return f"{kind} not applicable"


@st.composite
def structural(draw, data: bytes) -> tuple[bytes, str]:
    model = unpack(data)
    done = [draw(_edit(model)) for _ in range(draw(st.integers(1, 3)))]
    try:
        return serialise(model), "; ".join(done)
    except (struct.error, OverflowError, TypeError, ValueError) as err:
        # A value the field's type cannot hold (e.g. 65536 in an int8 enum): damage the bytes instead.
        damaged, how = draw(byte_damage(data))
        return damaged, f"{'; '.join(done)} (unpackable: {type(err).__name__}); {how}"


class Blob(bytes):
    """Model bytes that print short (Hypothesis shows strategy arguments in its reports)."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes>"


class Seeds:
    """Seed models by name; a plain object, so that Hypothesis does not print their bytes."""

    def __init__(self, models: dict[str, bytes]):
        self.models = models

    def __repr__(self) -> str:
        return f"Seeds({sorted(self.models)})"


@st.composite
def mutated_tflite(draw, seeds: Seeds) -> tuple[str, bytes, str]:
    """(seed name, mutated bytes, what was done): three in four structural, the rest byte damage."""
    name = draw(st.sampled_from(sorted(seeds.models)))
    data = Blob(seeds.models[name])
    if draw(st.integers(0, 3)):
        mutated, how = draw(structural(data))
    else:
        mutated, how = draw(byte_damage(data))
    return name, Blob(mutated), how
