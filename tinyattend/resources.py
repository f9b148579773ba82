"""Where tinyattend's data lives: templates/, boards/ and the demo model (models/).

In the repository these are top-level folders beside the package; a wheel carries them inside the
package as `tinyattend/_data/<folder>` (setup.py's build step copies them there). One lookup serves
both: the packaged copy when there is one (an installed wheel), else the repository's folder (a source
checkout or an editable install). Read through importlib.resources; Jinja and the compilers need real
paths, which every pip-installed (unzipped) wheel gives.
"""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

DATA_FOLDERS = ("templates", "boards", "models")
PACKAGED = "_data"     # tinyattend/_data/<folder> inside a wheel


@functools.cache
def data_dir(folder: str) -> Path:
    """The directory holding one of DATA_FOLDERS (`templates`, `boards`, `models`)."""
    if folder not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {folder!r}; one of {DATA_FOLDERS}")
    packaged = resources.files("tinyattend").joinpath(PACKAGED, folder)
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(str(resources.files("tinyattend"))).resolve().parent / folder
    if source.is_dir():
        return source
    from .errors import ToolchainError
    raise ToolchainError(f"tinyattend's {folder}/ folder is missing (looked in {packaged} and {source})",
                         "reinstall tinyattend from its wheel or repository (pip install --force-reinstall tinyattend)")


def templates_dir() -> Path:
    return data_dir("templates")


def boards_dir() -> Path:
    return data_dir("boards")


def demo_model_file(name: str) -> Path:
    """A file of the bundled demo model (models/attendnext_digits*)."""
    return data_dir("models") / name


def source_checkout() -> Path | None:
    """The repository root when tinyattend runs from a source checkout (not from a wheel), else None:
    for what only makes sense there (make bench's git revision, the MLPerf models beside the repo)."""
    root = Path(str(resources.files("tinyattend"))).resolve().parent
    return root if (root / "pyproject.toml").is_file() else None
