"""The op modules of a lowering package (codegen/ops, codegen/cmsis_nn, codegen/helium), by TFLite op type."""
from __future__ import annotations

import importlib
import pkgutil


def modules_by_op_type(path, package: str) -> dict:
    """{op type: module} over the package's modules (those named with a leading '_' are helpers); an op
    type claimed twice is a bug in the package."""
    table = {}
    for info in pkgutil.iter_modules(path):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for op_type in getattr(module, "OP_TYPES", ()):
            if op_type in table:
                raise RuntimeError(f"{op_type} is claimed by {table[op_type].__name__} and {module.__name__}")
            table[op_type] = module
    return table
