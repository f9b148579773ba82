"""`--prefix NAME`: the generated model library's names, so that two models link into one program.

Templates and kernels are written with the project's own prefix, `ta_` for functions and data and
`TA_` for macros (a kernel added under templates/kernels/ needs nothing more). After rendering, every
identifier that starts with `ta_` becomes `NAME_...` and every one that starts with `TA_` becomes
`NAME_UPPER_...`, on C token boundaries, and the files are renamed to match: `ta_conv2d_s8.c` ->
`kws_conv2d_s8.c`, `model.h` -> `kws_model.h`. The default prefix `ta` changes nothing, so the files
keep the names every existing project and test uses (`model.h`, `ta_invoke`).

Harness files written around a library (host/main.c, the firmware's main.c and Makefile) are renamed
with `for_library`, which touches only the names the library itself defines: the harness's own
`ta_*` names (ta_board.h's macros) stay.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import OptionError

DEFAULT_PREFIX = "ta"
MODEL_FILES = ("model.h", "model.c", "model_data.h", "model_data.c")
_VALID = re.compile(r"[a-z](?:[a-z0-9]|_(?=[a-z0-9])){0,23}")
# A C token starting ta_/TA_, also right after -D (a macro defined on a compiler command line).
_TOKEN = re.compile(r"(?:(?<=-D)|\b)(ta|TA)_(\w+)")


def check_prefix(prefix: str) -> str:
    """The prefix, or OptionError when it cannot start C identifiers and file names."""
    if not isinstance(prefix, str) or not _VALID.fullmatch(prefix):
        raise OptionError(f"--prefix {prefix!r} cannot start C names",
                          "use 1 to 24 lowercase letters, digits and single underscores, starting with a letter "
                          "(e.g. kws); macros take it in upper case (KWS_ARENA_SIZE)")
    return prefix


def rename_text(text: str, prefix: str) -> str:
    """Every `ta_x` -> `prefix_x`, every `TA_X` -> `PREFIX_X` (whole C tokens only)."""
    if prefix == DEFAULT_PREFIX:
        return text
    upper = prefix.upper()
    return _TOKEN.sub(lambda m: f"{prefix if m.group(1) == 'ta' else upper}_{m.group(2)}", text)


def file_name(name: str, prefix: str) -> str:
    """A generated file's name under `prefix`: the model's files and the `ta_` kernel files."""
    if prefix == DEFAULT_PREFIX:
        return name
    if name in MODEL_FILES:
        return f"{prefix}_{name}"
    if name.startswith("ta_"):
        return f"{prefix}_{name[3:]}"
    return name


def rename_includes(text: str, prefix: str) -> str:
    """`#include "model.h"` (and model_data.h) -> the prefixed file names."""
    if prefix == DEFAULT_PREFIX:
        return text
    for name in MODEL_FILES:
        text = text.replace(f'"{name}"', f'"{file_name(name, prefix)}"')
    return text


def rename_source(text: str, prefix: str) -> str:
    """A generated file of the model library under `prefix`: its names and its includes."""
    return rename_includes(rename_text(text, prefix), prefix)


def library_prefix(model_dir: Path) -> str:
    """The prefix a generated model/ folder was written with (from its header's file name)."""
    model_dir = Path(model_dir)
    if (model_dir / "model.h").is_file():
        return DEFAULT_PREFIX
    headers = sorted(p.name[: -len("_model.h")] for p in model_dir.glob("*_model.h"))
    return headers[0] if len(headers) == 1 else DEFAULT_PREFIX


def model_file(model_dir: Path, name: str = "model.h") -> Path:
    """model_dir/<name> as the library names it (`model.h` -> `kws_model.h`)."""
    return Path(model_dir) / file_name(name, library_prefix(model_dir))


def for_library(text: str, model_dir: Path) -> str:
    """A harness file's text calling the library in model_dir: its `ta_*`/`TA_*` names that the library
    defines under another prefix, and its includes of the model's files, renamed; nothing else."""
    prefix = library_prefix(model_dir)
    if prefix == DEFAULT_PREFIX:
        return text
    upper = prefix.upper()
    defined = set()
    for path in Path(model_dir).iterdir():
        if path.suffix in (".c", ".h"):
            defined.update(re.findall(rf"\b(?:{prefix}|{upper})_\w+", path.read_text()))

    def rename(match: re.Match) -> str:
        renamed = f"{prefix if match.group(1) == 'ta' else upper}_{match.group(2)}"
        return renamed if renamed in defined else match.group(0)
    return rename_includes(_TOKEN.sub(rename, text), prefix)
