"""C text for the CMSIS-NN argument structs, and which core's code paths apply.

A call's structs are file-scope `static const` objects named `op<index>_<what>`,
so the call in `ta_invoke` reads like TFLM's: `&op3_conv, &op3_quant, ...`.
"""
from __future__ import annotations

from ...ir.graph import Op
from ..cnames import c_int
from ..lowering import KernelCall, Target

LIBRARY = "cmsis-nn"
HEADERS = ("arm_nnfunctions.h",)


def core(target: Target) -> str:
    """The CMSIS-NN code path the board compiles: "mve" (Helium), "dsp" or "c" (plain C, also the host)."""
    board = target.board
    if board.is_host:
        return "c"
    if board.has_mve:
        return "mve"
    return "dsp" if board.has_dsp else "c"


def _value(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f".{k} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return c_int(value)


def struct(ctype: str, name: str, fields: dict) -> str:
    """`static const ctype name = {.field = value, ...};` with nested dicts for nested structs."""
    body = ", ".join(f".{k} = {_value(v)}" for k, v in fields.items())
    return f"static const {ctype} {name} = {{{body}}};"


def dims(name: str, n: int, h: int, w: int, c: int) -> str:
    return struct("cmsis_nn_dims", name, {"n": n, "h": h, "w": w, "c": c})


def tile(h: int, w: int) -> dict:
    return {"w": w, "h": h}


def activation(act_min: int, act_max: int) -> dict:
    return {"min": act_min, "max": act_max}


def name(op: Op, what: str) -> str:
    return f"op{op.index}_{what}"


def context(op: Op, scratch_bytes: int) -> tuple[tuple[str, ...], str]:
    """(declarations, argument) for the op's cmsis_nn_context: its scratch buffer in the arena, or none.

    The arena is `ta_invoke`'s argument, so the context is a compound literal at the call;
    the buffer's offset (placed by the arena planner) is a file-scope constant."""
    if scratch_bytes <= 0:
        return (), "&(cmsis_nn_context){.buf = NULL, .size = 0}"
    offset = name(op, "scratch_offset")
    declaration = f"enum {{ {offset} = {{arena_offset_scratch}} }};   /* arena offset of the scratch buffer */"
    return (declaration,), f"&(cmsis_nn_context){{.buf = arena + {offset}, .size = {scratch_bytes}}}"


def const_pointer(symbol: str, ctype: str = "int32_t") -> str:
    """CMSIS-NN's quant structs hold non-const pointers it only reads; our constants are const."""
    return f"({ctype} *){symbol}"


def call(function: str, **fields) -> KernelCall:
    """A KernelCall to a CMSIS-NN function returning arm_cmsis_nn_status, compared as int with TA_OK."""
    return KernelCall(function=f"(int){function}", sources=(), params_type=None, params=(),
                      library=LIBRARY, headers=HEADERS, **fields)
