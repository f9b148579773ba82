"""Where Arm CMSIS-NN comes from, and which of its source files a generated model needs.

CMSIS-NN is never copied into tinyattend or into generated projects. Builds take it from
`CMSIS_NN_PATH` (a checkout or release of the user's), or, in the generated CMake project,
fetch the pinned release at build time. Only the source files the model's calls reach are
compiled: the closure of `arm_*` calls over the library's Source/ tree.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from ..errors import ToolchainError

CMSIS_NN_VERSION = "v7.0.0"                       # the release generated code is written and tested against
CMSIS_NN_GIT = "https://github.com/ARM-software/CMSIS-NN.git"
ENV = "CMSIS_NN_PATH"
HEADER = "arm_nnfunctions.h"
FIX = (f"get CMSIS-NN {CMSIS_NN_VERSION} (git clone --depth 1 --branch {CMSIS_NN_VERSION} {CMSIS_NN_GIT}) "
       f"and `export {ENV}=/path/to/CMSIS-NN`; or build the generated firmware with CMake "
       "(firmware/CMakeLists.txt), which fetches that release; or use --kernels portable")

_DEFINITION = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(arm_\w+)\s*\([^;{]*\)\s*\{", re.MULTILINE)
_CALL = re.compile(r"\b(arm_\w+)\s*\(")


def uses_cmsis_nn(model_dir: Path) -> bool:
    """Whether a generated model library calls CMSIS-NN (its model.c includes the library header)."""
    from ..codegen.prefix import model_file
    model_c = model_file(model_dir, "model.c")
    return model_c.is_file() and f'#include "{HEADER}"' in model_c.read_text()


def is_cmsis_nn_tree(path: Path) -> bool:
    return (Path(path) / "Include" / HEADER).is_file() and (Path(path) / "Source").is_dir()


def cmsis_nn_root(required: bool = True) -> Path | None:
    """The CMSIS-NN tree named by CMSIS_NN_PATH; ToolchainError (with how to get one) if required and absent."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        if required:
            raise ToolchainError(f"the model calls CMSIS-NN (--kernels cmsis-nn) and {ENV} is not set", FIX)
        return None
    root = Path(value).expanduser().resolve()
    if not is_cmsis_nn_tree(root):
        if required:
            raise ToolchainError(f"{ENV}={value} is not a CMSIS-NN tree (no Include/{HEADER} and Source/)", FIX)
        return None
    return root


@lru_cache(maxsize=8)
def _index(root: Path) -> tuple[dict, dict]:
    """function -> defining file, file -> functions it calls (every #if branch: a superset is safe)."""
    defined, calls = {}, {}
    for path in sorted((root / "Source").glob("*/*.c")):
        text = re.sub(r"/\*.*?\*/|//[^\n]*", "", path.read_text(errors="replace"), flags=re.DOTALL)
        rel = path.relative_to(root).as_posix()
        for name in _DEFINITION.findall(text):
            defined.setdefault(name, rel)
        calls[rel] = set(_CALL.findall(text))
    return defined, calls


def required_sources(root: Path, c_text: str) -> list[str]:
    """CMSIS-NN source files (relative to root, sorted) that the calls in `c_text` reach."""
    defined, calls = _index(Path(root))
    files: set[str] = set()
    pending = list(set(_CALL.findall(c_text)))
    while pending:
        rel = defined.get(pending.pop())
        if rel is None or rel in files:
            continue
        files.add(rel)
        pending.extend(calls[rel])
    return sorted(files)


def model_sources(root: Path, model_dir: Path) -> list[str]:
    text = "\n".join(p.read_text() for p in sorted(Path(model_dir).glob("*.c")))
    return required_sources(root, text)
