"""Render the lowered graph and its arena plan to C through the Jinja templates.

Output is deterministic: the same model and options give the same bytes.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import jinja2
import numpy as np

from .. import __version__
from ..resources import templates_dir
from ..ir.graph import Graph
from ..plan.arena import ArenaPlan
from .cnames import c_comment_text, c_int
from .lowering import Alias, ConstRef, KernelCall, ScratchArg, TensorArg, edge_quant

CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}


@dataclass(frozen=True)
class GeneratedFile:
    name: str
    text: str


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "model")),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


_SEPARATORS = (", ", ",\n    ")      # within a line, at a line's end


@functools.lru_cache(maxsize=4)
def _literal_table(dtype_name: str, line_end: bool) -> np.ndarray:
    """Row v - min: the ASCII of value v's literal and a separator, zero-padded to one width."""
    info = np.iinfo(dtype_name)
    width = max(len(str(info.min)), len(str(info.max))) + len(_SEPARATORS[1])
    table = np.zeros((info.max - info.min + 1, width), np.uint8)
    for row, value in enumerate(range(info.min, info.max + 1)):
        text = (str(value) + _SEPARATORS[line_end]).encode("ascii")
        table[row, :len(text)] = np.frombuffer(text, np.uint8)
    return table


def format_array(values: np.ndarray, per_line: int = 16) -> str:
    """`per_line` C literals a line: "v, v, ...,\n    v, ...". Weights run to millions of values, so 8- and
    16-bit arrays are written from a table of their literals (c_int's text; such values always fit)
    with numpy, not a Python string per value."""
    array = np.asarray(values).ravel()
    if array.dtype.kind in "iu" and array.dtype.itemsize <= 2 and array.size:
        offset = np.iinfo(array.dtype).min
        index = array.astype(np.int64) - offset
        rows = _literal_table(array.dtype.name, False)[index]
        rows[per_line - 1::per_line] = _literal_table(array.dtype.name, True)[index[per_line - 1::per_line]]
        flat = rows.ravel()
        text = flat[flat != 0].tobytes().decode("ascii")
        return text[:-len(_SEPARATORS[array.size % per_line == 0])]
    if array.dtype.kind in "iu" and array.size and int(array.min()) > -(1 << 31) and int(array.max()) < (1 << 32):
        flat = list(map(str, array.tolist()))       # c_int's text for values it writes as plain literals
    else:
        flat = [c_int(v) for v in array.tolist()]
    lines = [", ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    return ",\n    ".join(lines)


def _render_value(value, symbols: dict) -> str:
    if isinstance(value, ConstRef):
        return symbols[value.name]
    if isinstance(value, dict):
        return "{" + ", ".join(f".{k} = {c_int(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "{" + ", ".join(c_int(v) for v in value) + "}"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)):
        return c_float(value)
    return c_int(value)


def c_float(value) -> str:
    """An exact C99 literal for a float32 value: hexadecimal, with an `f` suffix."""
    value = np.float32(value)
    if not np.isfinite(value):
        raise ValueError(f"{value} is not a finite float")
    return float(value).hex() + "f"


def _may_fail(call: KernelCall) -> bool:
    """Whether the call's status must be checked: a library call (CMSIS-NN validates its arguments) or one of
    our kernels whose sources can return TA_ERROR. The rest always return TA_OK; a check per call would cost
    about 10 bytes of code for nothing (1.5 KB on a 150-layer model)."""
    return call.library is not None or any("TA_ERROR" in kernel_source(source) for source in call.sources)


@functools.cache
def kernel_source(source: str) -> str:
    """A kernel file's text (templates/kernels/<source>), read once per process."""
    return (templates_dir() / "kernels" / source).read_text()


def generate_sources(graph: Graph, lowered: list, plan: ArenaPlan, buffer_of: dict, model_name: str) -> list[GeneratedFile]:
    """model.h, model.c, model_data.h, model_data.c and the kernel files the calls use."""
    env = _environment()
    arrays = []           # (symbol, ctype, count, text, comment)
    weight_symbols: dict[int, str] = {}

    def tensor_expr(arg: TensorArg) -> str:
        tensor = graph.tensor(arg.index)
        ctype = CTYPES[tensor.dtype]
        if tensor.is_constant:
            if arg.index not in weight_symbols:
                symbol = f"ta_tensor{arg.index}"
                weight_symbols[arg.index] = symbol
                arrays.append((symbol, ctype, tensor.num_elements, format_array(tensor.array()),
                               f"tensor {arg.index} '{c_comment_text(tensor.name)}' {list(tensor.shape)}"))
            return weight_symbols[arg.index]
        offset = plan.offsets[buffer_of[arg.index]]
        qualifier = "const " if arg.const else ""
        return f"({qualifier}{ctype} *)(arena + {offset})"

    calls = []
    sources: set[str] = set()
    extra_headers: set[str] = set()
    paths: set[str] = set()
    libraries: set[str] = set()
    layer_names = []
    for position, (op, low) in enumerate(zip(graph.ops, lowered)):
        out = graph.tensor(op.outputs[0])
        comment = f"op {op.index}: {op.type} -> tensor {out.index} '{c_comment_text(out.name)}' {list(out.shape)}"
        if isinstance(low, Alias):
            calls.append({"comment": comment + " (aliases its input: no code)", "alias": True})
            continue
        assert isinstance(low, KernelCall)
        sources.update(low.sources)
        paths.update(low.paths)
        symbols = {}
        for const in low.constants:
            symbol = f"ta_op{op.index}_{const.name}"
            symbols[const.name] = symbol
            arrays.append((symbol, const.ctype, int(np.asarray(const.values).size), format_array(const.values),
                           f"op {op.index} {op.type}: {const.name}"))
        args = []
        if low.params_type:
            args.append(f"&op{op.index}_params")
        for arg in low.args:
            if isinstance(arg, TensorArg):
                args.append(tensor_expr(arg))
            elif isinstance(arg, ScratchArg):
                args.append(f"(void *)(arena + {plan.offsets[f'scratch{position}']})")
            elif isinstance(arg, ConstRef):
                args.append(symbols[arg.name])
            else:
                args.append(str(arg))
        declarations = [d.replace("{arena_offset_scratch}", str(plan.offsets.get(f"scratch{position}", 0)))
                        for d in low.declarations]
        extra_headers.update(low.headers)
        libraries.update([low.library] if low.library else [])
        calls.append({
            "comment": comment, "alias": False, "declarations": declarations, "layer": len(layer_names), "function": low.function,
            "checked": _may_fail(low),
            "params_type": low.params_type, "params_name": f"op{op.index}_params",
            "params": [(name, _render_value(value, symbols)) for name, value in low.params],
            "args": args,
        })
        layer_names.append(op.type)

    # a kernel's internal/ headers are parts of its .c (static helpers), included there only
    headers = sorted({s.split("/")[-1] for s in sources if s.endswith(".h") and "/internal/" not in s}
                     | extra_headers)
    x, y = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    context = {
        "version": __version__, "model_name": c_comment_text(model_name),
        "arena_size": plan.size, "input": x, "output": y,
        "input_offset": plan.offsets[buffer_of[x.index]], "output_offset": plan.offsets[buffer_of[y.index]],
        "input_quant": edge_quant(graph, x.index), "output_quant": edge_quant(graph, y.index),
        "calls": calls, "layer_names": layer_names, "kernel_headers": headers,
        "arrays": arrays, "ctype": CTYPES, "libraries": sorted(libraries),
    }
    files = [GeneratedFile(name, env.get_template(f"{name}.j2").render(**context))
             for name in ("model.h", "model.c", "model_data.h", "model_data.c")]
    kernels = [GeneratedFile(source.split("/")[-1], kernel_source(source))
               for source in sorted({"common/ta_common.h"} | sources)]
    return files + kernels + [GeneratedFile("ta_paths.h", paths_header(kernels, paths))]


PATH_MACRO = re.compile(r"\bTA_PATH_[A-Z0-9_]+\b")


def paths_header(kernel_files: list[GeneratedFile], taken: set[str]) -> str:
    """ta_paths.h: every optional path the kernels name (TA_PATH_*), 1 where some layer takes it, else 0,
    which compiles it out (ta_common.h's TA_TAKES)."""
    named = set()
    for file in kernel_files:
        named.update(PATH_MACRO.findall(file.text))
    unknown = taken - named
    if unknown:
        raise AssertionError(f"lowering names kernel paths no kernel has: {sorted(unknown)}")
    lines = ["/* Generated by tinyattend: the optional kernel paths this model's layers take (1) or not (0). */",
             "#ifndef TA_PATHS_H", "#define TA_PATHS_H", ""]
    lines += [f"#define {name} {int(name in taken)}" for name in sorted(named)]
    return "\n".join(lines + ["", "#endif /* TA_PATHS_H */", ""])
