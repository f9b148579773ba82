"""tinyattend as an installed package (issue 15, part 1): the wheel carries templates/, boards/ and the demo
model, and works with no repository around; `python -m tinyattend` and `--version`; the import graph.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import tinyattend
from tinyattend import resources

REPO = Path(__file__).resolve().parent.parent
# What a wheel is built from (a git checkout or an sdist has these; tests/ and build outputs are left out).
SOURCE_ITEMS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "tinyattend", "templates", "boards", "models")


def _clean_env() -> dict:
    """The environment without anything that points Python at this repository."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _build_wheel(tmp: Path) -> Path:
    """`pip wheel --no-deps` from a copy of the sources (so no build/ folder lands in the repository and a
    stale one cannot leak in); --no-build-isolation builds with this venv's setuptools, offline."""
    src = tmp / "src"
    for item in SOURCE_ITEMS:
        path = REPO / item
        if path.is_dir():
            shutil.copytree(path, src / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / item)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp / "dist"), str(src)], check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("tinyattend-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_runs_the_demo_from_an_unrelated_folder(wheel, tmp_path):
    """Builds the wheel, installs it with --no-deps into a fresh venv made from the base interpreter, and runs
    `tinyattend --version`, `python -m tinyattend --version` and `tinyattend demo` from a folder outside the
    repository, with no PYTHONPATH.

    Proves: the wheel holds the package, its templates, board profiles and demo model, and finds them
    through tinyattend.resources (tinyattend is imported from the fresh venv, its data from _data/ in it);
    the console script and `python -m` work; the demo converts, runs bit-exact on QEMU and is accurate.
    Does not prove: that pip installs the declared dependencies. To stay fast (TensorFlow & co. are GBs and
    minutes), the fresh venv sees this venv's locked packages through a .pth file (which adds the folder
    only: the editable install's finder there is not run). test_declared_dependencies_resolve checks that
    pip can resolve the wheel's declared dependencies; installing them for real is `make setup`'s job."""
    venv = tmp_path / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "_tinyattend_locked_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the locked site-packages holds the editable tinyattend of the same version, which
    # pip would otherwise take as already installed; pip never removes it (it is outside the fresh venv).
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--ignore-installed", str(wheel)], check=True, capture_output=True, text=True, timeout=300, env=env,
                   cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import json, tinyattend, tinyattend.resources as r; "
                            "print(json.dumps([tinyattend.__file__, str(r.templates_dir()), str(r.boards_dir()), "
                            "str(r.demo_model_file('attendnext_digits.onnx'))]))"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    package, templates, boards, model = json.loads(where.stdout)
    installed = Path(purelib) / "tinyattend"
    assert Path(package).parent == installed
    assert Path(templates) == installed / "_data" / "templates" and Path(boards) == installed / "_data" / "boards"
    assert Path(model).is_file() and Path(model).parent == installed / "_data" / "models"
    for command in ([str(venv / "bin" / "tinyattend"), "--version"], [str(python), "-m", "tinyattend", "--version"]):
        result = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.strip() == f"tinyattend {tinyattend.__version__}", result
    demo = subprocess.run([str(venv / "bin" / "tinyattend"), "demo", "-o", "demo-out"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "output = TFLM, bit for bit   yes" in demo.stdout
    assert "top-1 of the int8 C model" in demo.stdout
    assert (elsewhere / "demo-out" / "model" / "CMakeLists.txt").is_file()
    assert (elsewhere / "demo-out" / "README.md").is_file()


def _index_reachable() -> bool:
    probe = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "jinja2"], capture_output=True,
                           text=True, timeout=120)
    return probe.returncode == 0


@pytest.mark.slow
def test_declared_dependencies_resolve(wheel, tmp_path):
    """pip resolves the wheel's declared dependencies (and the `onnx` extra) against the package index, for
    this Python: a dry run that downloads metadata only. Proves the declarations are satisfiable together
    and keep torch out of the base install; not which versions a user gets (requirements.lock pins those)."""
    if not _index_reachable():
        pytest.skip("no package index reachable: pip cannot resolve dependencies here")
    report = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
                             "--report", str(report), f"{wheel}[onnx]"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    names = {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads(report.read_text())["install"]}
    assert {"tinyattend", "tensorflow", "tflite-micro", "ai-edge-litert", "onnx", "onnxruntime", "jinja2",
            "sng4onnx"} <= names
    assert not names & {"torch", "torchvision", "timm", "onnx2tf"}


def test_source_checkout_reads_the_repository_folders():
    """Editable / source checkout: no _data/ in the package, so the repository's own folders are used."""
    assert resources.templates_dir() == REPO / "templates"
    assert resources.boards_dir() == REPO / "boards"
    assert resources.demo_model_file("attendnext_digits.onnx") == REPO / "models" / "attendnext_digits.onnx"


def test_python_m_tinyattend_and_version():
    env = {**_clean_env(), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "tinyattend", "--version"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"tinyattend {tinyattend.__version__}"
    result = subprocess.run([sys.executable, "-m", "tinyattend", "inspect", str(REPO / "missing.tflite")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2 and "error:" in result.stderr and "Traceback" not in result.stderr


def test_api_names_survive_the_stage_modules_being_imported():
    """tinyattend.convert/verify/inspect stay the API functions after the stage modules of the same names
    are imported (the import system binds a submodule to its package's attribute on first import only)."""
    code = ("import tinyattend, tinyattend.convert.calibration, tinyattend.verify, tinyattend.inspect\n"
            "from tinyattend.convert import convert_model\n"
            "from tinyattend.verify import tflm_reference\n"
            "import inspect as std\n"
            "assert all(std.isfunction(f) for f in (tinyattend.convert, tinyattend.verify, tinyattend.inspect, "
            "tinyattend.bench)), (tinyattend.convert, tinyattend.verify, tinyattend.inspect)\n"
            "import sys; assert 'tensorflow' not in sys.modules, 'import tinyattend must not load TensorFlow'\n")
    subprocess.run([sys.executable, "-c", code], check=True, env={**_clean_env(), "PYTHONPATH": str(REPO)}, timeout=120)


def _imports(module_file: Path) -> set[str]:
    """The tinyattend modules one file imports (absolute names), at any depth of the file."""
    import ast
    package = ".".join(module_file.relative_to(REPO).with_suffix("").parts)
    if module_file.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    found = set()
    for node in ast.walk(ast.parse(module_file.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {n for n in found if n.startswith("tinyattend")}


def test_nothing_imports_the_cli_and_convert_does_not_import_run():
    """The cycles issue 15 names are gone: only __main__ imports cli; convert/ imports nothing of run/,
    build/ or the CLI-level modules."""
    for path in (REPO / "tinyattend").rglob("*.py"):
        imports = _imports(path)
        if path.name != "__main__.py" and path != REPO / "tinyattend" / "cli.py":
            assert "tinyattend.cli" not in imports, f"{path} imports tinyattend.cli"
        if "convert" in path.relative_to(REPO / "tinyattend").parts[:1]:
            bad = {n for n in imports if n.split(".")[1:2] in (["run"], ["build"], ["cli"], ["demo"], ["pipeline"])}
            assert not bad, f"{path} imports {bad}"


def test_onnx_without_onnx2tf_says_how_to_install_it(tmp_path):
    """The wheel cannot declare onnx2tf (its exact pins conflict with the base install): an ONNX convert
    without it stops before any work with the install command, exit 2, no traceback, no OUT. The module
    is made absent the way Python itself marks one (sys.modules[name] = None)."""
    code = ("import sys; sys.modules['onnx2tf'] = None\n"
            "from tinyattend.cli import main\n"
            f"sys.exit(main(['convert', {str(REPO / 'models' / 'attendnext_digits.onnx')!r}, '--board', 'host', "
            f"'-o', {str(tmp_path / 'out')!r}]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**_clean_env(), "PYTHONPATH": str(REPO)})
    assert result.returncode == 2, result.stderr
    assert "needs onnx2tf" in result.stderr and "pip install --no-deps onnx2tf==2.6.9" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
