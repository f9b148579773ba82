"""The generated model/ folder as a library for an existing firmware (issue 15, part 3).

Two different models converted with two prefixes link into one host program that runs both and checks
both outputs against the TFLM interpreter (tflite_micro); the library builds warning-free through its
CMakeLists.txt and model.mk with gcc, clang and arm-none-eabi-gcc, as C99 and included from C++.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tinyattend
from op_harness import int8_tflite
from tinyattend.errors import OptionError, TinyattendError
from tinyattend.verify import tflm_reference

WARNINGS = ["-Wall", "-Wextra", "-Werror"]


def _conv_classifier(tf):
    return tf.keras.Sequential([tf.keras.Input((12, 12, 3), batch_size=1),
                                tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                tf.keras.layers.MaxPooling2D(2),
                                tf.keras.layers.Flatten(),
                                tf.keras.layers.Dense(10)])


def _depthwise_net(tf):
    return tf.keras.Sequential([tf.keras.Input((10, 10, 4), batch_size=1),
                                tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
                                tf.keras.layers.Conv2D(6, 1),
                                tf.keras.layers.GlobalAveragePooling2D(),
                                tf.keras.layers.Dense(5)])


@pytest.fixture(scope="module")
def two_libraries(tmp_path_factory):
    """kws/ from a conv classifier and vww/ from a depthwise net, both with the fast kernels (the
    same kernel files in both: without the prefix their symbols would clash)."""
    root = tmp_path_factory.mktemp("two")
    models = {"kws": int8_tflite(_conv_classifier, [(1, 12, 12, 3)]),
              "vww": int8_tflite(_depthwise_net, [(1, 10, 10, 4)], seed=1)}
    results = {prefix: tinyattend.convert(tflite, board="host", out=root / prefix, kernels="fast", prefix=prefix)
               for prefix, tflite in models.items()}
    return root, results


MAIN_TWO = r"""
#include <stdio.h>
#include <string.h>
#include "kws_model.h"
#include "vww_model.h"

static uint8_t kws_arena[KWS_ARENA_SIZE] __attribute__((aligned(KWS_ARENA_ALIGN)));
static uint8_t vww_arena[VWW_ARENA_SIZE] __attribute__((aligned(VWW_ARENA_ALIGN)));
void kws_profile_layer(int layer, int phase) { (void)layer; (void)phase; }
void vww_profile_layer(int layer, int phase) { (void)layer; (void)phase; }

/* argv: kws inputs, vww inputs, kws outputs, vww outputs; N samples each, run interleaved. */
int main(int argc, char **argv) {
    static int8_t kx[KWS_INPUT_SIZE], vx[VWW_INPUT_SIZE];
    if (argc != 5) return 2;
    FILE *ki = fopen(argv[1], "rb"), *vi = fopen(argv[2], "rb"), *ko = fopen(argv[3], "wb"), *vo = fopen(argv[4], "wb");
    if (!ki || !vi || !ko || !vo) return 2;
    while (fread(kx, 1, KWS_INPUT_SIZE, ki) == KWS_INPUT_SIZE && fread(vx, 1, VWW_INPUT_SIZE, vi) == VWW_INPUT_SIZE) {
        memcpy(kws_input(kws_arena), kx, KWS_INPUT_SIZE);
        memcpy(vww_input(vww_arena), vx, VWW_INPUT_SIZE);
        if (kws_invoke(kws_arena) != 0 || vww_invoke(vww_arena) != 0) return 1;
        fwrite(kws_output(kws_arena), 1, KWS_OUTPUT_SIZE, ko);
        fwrite(vww_output(vww_arena), 1, VWW_OUTPUT_SIZE, vo);
    }
    fclose(ki); fclose(vi); fclose(ko); fclose(vo);
    return 0;
}
"""


def test_two_prefixed_models_in_one_program_match_tflm(two_libraries, tmp_path):
    root, results = two_libraries
    for prefix, result in results.items():
        assert result.prefix == prefix and (result.out / "model" / f"{prefix}_model.h").is_file()
        assert not list((result.out / "model").glob("ta_*")), "a kernel file kept the ta_ name"
    kws_files = {p.name.removeprefix("kws_") for p in (root / "kws" / "model").glob("kws_*.c")}
    vww_files = {p.name.removeprefix("vww_") for p in (root / "vww" / "model").glob("vww_*.c")}
    assert kws_files & vww_files - {"model.c", "model_data.c"}, "the two models share no kernel: the test proves little"
    (tmp_path / "main.c").write_text(MAIN_TWO)
    sources = sorted(str(p) for p in (root / "kws" / "model").glob("*.c")) + \
        sorted(str(p) for p in (root / "vww" / "model").glob("*.c"))
    binary = tmp_path / "two_models"
    subprocess.run(["gcc", "-std=c99", *WARNINGS, "-O2", f"-I{root / 'kws' / 'model'}", f"-I{root / 'vww' / 'model'}",
                    str(tmp_path / "main.c"), *sources, "-o", str(binary)], check=True, capture_output=True, text=True)
    # Every symbol each library defines globally carries its prefix (no other name can clash).
    for prefix in results:
        objects = []
        for source in sorted((root / prefix / "model").glob("*.c")):
            objects.append(tmp_path / f"{source.stem}.o")
            subprocess.run(["gcc", "-std=c99", "-O2", "-c", str(source), "-o", str(objects[-1])], check=True)
        nm = subprocess.run(["nm", "--defined-only", "-g", *map(str, objects)], capture_output=True, text=True,
                            check=True)
        symbols = [line.split()[-1] for line in nm.stdout.splitlines() if len(line.split()) == 3]
        assert f"{prefix}_invoke" in symbols
        assert [s for s in symbols if not s.startswith(f"{prefix}_")] == [], f"{prefix}: unprefixed global symbols"
    rng = np.random.default_rng(7)
    inputs = {p: rng.integers(-128, 128, size=(20, *results[p].input.shape), dtype=np.int64).astype(np.int8)
              for p in results}
    for p, x in inputs.items():
        (tmp_path / f"{p}_in.bin").write_bytes(x.tobytes())
    subprocess.run([str(binary), *(str(tmp_path / f"{p}_in.bin") for p in ("kws", "vww")),
                    *(str(tmp_path / f"{p}_out.bin") for p in ("kws", "vww"))], check=True, timeout=60)
    for p, result in results.items():
        ours_out = np.frombuffer((tmp_path / f"{p}_out.bin").read_bytes(), dtype=np.int8).reshape(
            (len(inputs[p]), *result.output.shape))
        reference = tflm_reference(result.out / "model.tflite", inputs[p])
        assert np.array_equal(ours_out, reference), f"{p}: the two-model program differs from TFLM"


def test_prefixed_library_is_verified_and_benched_through_the_project(two_libraries):
    """verify (host harness rewritten for the prefix) still runs the prefixed library bit-exact."""
    _, results = two_libraries
    checked = tinyattend.verify(results["vww"].out, 20)
    assert checked.bit_exact and {b.kind for b in checked.batches} >= {"random"}


@pytest.mark.slow
def test_prefixed_library_runs_in_the_firmware_harness_on_qemu(two_libraries):
    """bench builds the firmware around the kws_ library (main.c, Makefile's -DKWS_PROFILE rewritten for
    it) and runs it on the emulated Cortex-M7: bit-exact, with every layer's count (the profile hooks)."""
    _, results = two_libraries
    bench = tinyattend.bench(results["kws"].out, "cortex-m7", kernels="fast")
    assert bench.bit_exact
    assert bench.layers and all(layer.instructions > 0 for layer in bench.layers)
    makefile = (results["kws"].out / "variants" / "cortex-m7-fast" / "firmware" / "Makefile").read_text()
    assert "-DKWS_PROFILE" in makefile and "TA_PROFILE" not in makefile.replace("TA_PROFILE's", "")


def test_bad_prefix_is_a_project_error(tmp_path):
    for bad in ("Kws", "9lives", "a-b", "kws_", ""):
        with pytest.raises(OptionError, match="prefix"):
            tinyattend.convert(tmp_path / "missing.tflite", board="host", out=tmp_path / "o", prefix=bad)


APP_C = r"""
#include <string.h>
#include "kws_model.h"
static uint8_t arena[KWS_ARENA_SIZE] __attribute__((aligned(KWS_ARENA_ALIGN)));
void kws_profile_layer(int layer, int phase) { (void)layer; (void)phase; }
int main(void) {
    memset(kws_input(arena), 0, KWS_INPUT_SIZE);
    return kws_invoke(arena);
}
"""
APP_CPP = APP_C.replace('#include <string.h>', '#include <cstring>\n#include <cstdint>').replace(
    "void kws_profile_layer", 'extern "C" void kws_profile_layer')

CMAKE_APP = """cmake_minimum_required(VERSION 3.13)
project(app C CXX)
add_subdirectory({model} kws_model)
add_executable(app_c main.c)
target_link_libraries(app_c PRIVATE kws_model)
add_executable(app_cpp main.cpp)
target_link_libraries(app_cpp PRIVATE kws_model)
"""

MAKE_APP = """CFLAGS := {cflags}
CXXFLAGS := {cxxflags}
include {model}/model.mk
all: $(KWS_MODEL_LIB) main.o main_cpp.o
main.o: main.c
\t$(CC) $(CFLAGS) -std=c99 $(KWS_MODEL_INCLUDES) -c $< -o $@
main_cpp.o: main.cpp
\t$(CXX) $(CXXFLAGS) $(KWS_MODEL_INCLUDES) -c $< -o $@
"""


def _app(tmp_path: Path, name: str) -> Path:
    app = tmp_path / name
    app.mkdir()
    (app / "main.c").write_text(APP_C)
    (app / "main.cpp").write_text(APP_CPP)
    return app


@pytest.mark.slow
@pytest.mark.parametrize("cc,cxx", [("gcc", "g++"), ("clang", "clang++")])
def test_cmake_target_builds_and_runs_c_and_cpp(two_libraries, tmp_path, cc, cxx):
    root, _ = two_libraries
    if shutil.which("cmake") is None or shutil.which(cc) is None or shutil.which(cxx) is None:
        pytest.skip(f"cmake, {cc} or {cxx} is not installed")
    app = _app(tmp_path, "cmake-app")
    (app / "CMakeLists.txt").write_text(CMAKE_APP.format(model=root / "kws" / "model"))
    flags = " ".join(WARNINGS)
    subprocess.run(["cmake", "-S", str(app), "-B", str(app / "build"), f"-DCMAKE_C_COMPILER={cc}",
                    f"-DCMAKE_CXX_COMPILER={cxx}", f"-DCMAKE_C_FLAGS={flags}", f"-DCMAKE_CXX_FLAGS={flags}"],
                   check=True, capture_output=True, text=True)
    built = subprocess.run(["cmake", "--build", str(app / "build"), "-j2"], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "warning:" not in built.stdout + built.stderr
    for exe in ("app_c", "app_cpp"):
        assert subprocess.run([str(app / "build" / exe)], timeout=30).returncode == 0


ARM_FLAGS = "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16"


@pytest.mark.slow
@pytest.mark.parametrize("cc,cxx,cpu", [("gcc", "g++", ""), ("clang", "clang++", ""),
                                        ("arm-none-eabi-gcc", "arm-none-eabi-g++", ARM_FLAGS)])
def test_model_mk_builds_warning_free(two_libraries, tmp_path, cc, cxx, cpu):
    root, _ = two_libraries
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed")
    if shutil.which(cxx) is None:
        pytest.skip(f"{cxx} is not installed: the C++ include check needs it")
    app = _app(tmp_path, "make-app")
    cflags = f"{cpu} {' '.join(WARNINGS)}".strip()
    (app / "Makefile").write_text(MAKE_APP.format(model=root / "kws" / "model", cflags=cflags, cxxflags=cflags))
    built = subprocess.run(["make", "-C", str(app), f"CC={cc}", f"CXX={cxx}", "AR=" + ("arm-none-eabi-ar" if cpu else "ar")],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "warning:" not in built.stdout + built.stderr
    library = app / "build" / "kws_model" / "libkws_model.a"
    assert library.is_file()
    members = subprocess.run(["ar", "t", str(library)], capture_output=True, text=True, check=True).stdout.split()
    assert "kws_model.o" in members and len(members) == len(list((root / "kws" / "model").glob("*.c")))


def test_readme_says_how_to_call_the_prefixed_model(two_libraries):
    root, results = two_libraries
    text = (root / "kws" / "README.md").read_text()
    r = results["kws"]
    for needle in ('#include "kws_model.h"', "kws_invoke(arena)", "KWS_ARENA_SIZE", f"{r.arena_bytes:,} bytes",
                   "aligned to 16 bytes", "target_link_libraries(app PRIVATE kws_model)", "include model/model.mk",
                   f"`{list(r.input.shape)}`", "1 + the index of the failing layer", "templates/kernels/"):
        assert needle in text, needle


def test_api_errors_are_project_errors_never_system_exit(tmp_path):
    cases = [dict(model=tmp_path / "nope.onnx", board="host"), dict(model=b"not a tflite", board="host"),
             dict(model=tmp_path / "nope.onnx", board="no-such-board"), dict(model=object(), board="host"),
             dict(model=tmp_path / "nope.onnx", board="host", kernels="turbo")]
    for case in cases:
        try:
            tinyattend.convert(case.pop("model"), out=tmp_path / "o", **case)
        except TinyattendError:
            continue
        except SystemExit as err:      # pragma: no cover - the failure this test exists for
            pytest.fail(f"{case}: SystemExit {err}")
        pytest.fail(f"{case}: no error")
    assert not (tmp_path / "o").exists()


def test_every_kernel_exports_only_prefixed_names(tmp_path):
    """All of templates/kernels/ (a kernel added later included), renamed under a prefix as the generator
    does, compiles warning-free, and every global symbol it defines carries the prefix: the mechanism
    needs no per-kernel work, and a kernel that exports a name outside `ta_` fails here."""
    from tinyattend.codegen.emit import GeneratedFile, paths_header
    from tinyattend.codegen.prefix import file_name, rename_source
    from tinyattend.resources import templates_dir
    kernels = sorted(p for p in (templates_dir() / "kernels").rglob("*") if p.suffix in (".c", ".h"))
    assert all(p.name.startswith("ta_") for p in kernels), [p.name for p in kernels if not p.name.startswith("ta_")]
    files = [GeneratedFile(p.name, p.read_text()) for p in kernels]
    files.append(GeneratedFile("ta_paths.h", paths_header(files, set())))
    for f in files:
        (tmp_path / file_name(f.name, "zz")).write_text(rename_source(f.text, "zz"))
    sources = sorted(tmp_path.glob("*.c"))
    obj_dir = tmp_path / "obj"
    obj_dir.mkdir()
    built = subprocess.run(["gcc", "-std=c99", *WARNINGS, "-O2", f"-I{tmp_path}", "-c", *map(str, sources)],
                           cwd=obj_dir, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    objects = sorted(obj_dir.glob("*.o"))
    assert len(objects) == len(sources)
    nm = subprocess.run(["nm", "--defined-only", "-g", *map(str, objects)], capture_output=True, text=True, check=True)
    symbols = [line.split()[-1] for line in nm.stdout.splitlines() if len(line.split()) == 3]
    assert len(symbols) >= len(objects)
    assert [s for s in symbols if not s.startswith("zz_")] == []
    leftovers = [f.name for f in tmp_path.iterdir() if f.suffix in (".c", ".h")
                 and re.search(r"\b(ta|TA)_", f.read_text(errors="replace"))]
    assert leftovers == [], f"ta_/TA_ names left after renaming: {leftovers}"
