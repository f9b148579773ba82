"""The generated model/ folder as a library for any firmware: the prefix applied to every file
(codegen.prefix), plus a CMakeLists.txt (static library target NAME_model) and a model.mk for Make.
"""
from __future__ import annotations

import jinja2

from .. import __version__
from ..resources import templates_dir
from .cnames import c_comment_text
from .emit import GeneratedFile
from .prefix import check_prefix, file_name, rename_source

# Flags the kernels are written for (the firmware's own build uses the same); no CPU flags: those are
# the application's. -fno-strict-aliasing is not needed: the kernels access memory through its own types.
KERNEL_FLAGS = ("-O2", "-ffunction-sections", "-fdata-sections")


def library_files(files: list[GeneratedFile], *, prefix: str, model_name: str,
                  libraries: list[str]) -> list[GeneratedFile]:
    """`files` (model.h, model.c, kernels, ...) renamed under `prefix`, with the build files added."""
    prefix = check_prefix(prefix)
    renamed = [GeneratedFile(file_name(f.name, prefix), rename_source(f.text, prefix)) for f in files]
    sources = sorted(f.name for f in renamed if f.name.endswith(".c"))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "library")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    cmsis_nn = None
    if "cmsis-nn" in libraries:
        from ..build.cmsis_nn import CMSIS_NN_GIT, CMSIS_NN_VERSION
        cmsis_nn = {"version": CMSIS_NN_VERSION, "git": CMSIS_NN_GIT}
    context = {"version": __version__, "model_name": c_comment_text(model_name), "sources": sources,
               "kernel_flags": KERNEL_FLAGS, "header": file_name("model.h", prefix),
               "library": f"{prefix}_model", "cmsis_nn": cmsis_nn}
    build = [GeneratedFile(name, rename_source(env.get_template(f"{name}.j2").render(**context), prefix))
             for name in ("CMakeLists.txt", "model.mk")]
    return renamed + build
