"""The measured TFLM + CMSIS-NN baseline (tinyattend/run/tflm_baseline.py) and its use in `make bench`.

The measurement needs a TFLM tree with its downloads (TFLM_PATH); without one it is skipped. Its first
run builds TFLM for the Cortex-M7 (about 10 minutes with make -j2), later ones take about 15 seconds.
"""
import os
from pathlib import Path

import pytest

from conftest import mlperf_model
from tinyattend.run import bench_all, tflm_baseline
from tinyattend.run.tflm_baseline import TflmBaselineError


def test_unset_tflm_path_says_how_to_get_tflm_and_its_downloads(monkeypatch):
    monkeypatch.delenv("TFLM_PATH", raising=False)
    with pytest.raises(TflmBaselineError) as err:
        tflm_baseline.tflm_root()
    assert "TFLM_PATH" in err.value.message
    assert "flatbuffers.patch" in err.value.fix and tflm_baseline.CMSIS_NN_COMMIT in err.value.fix


def test_cli_without_tflm_says_what_to_do(monkeypatch, capsys):
    from tinyattend.cli import main
    monkeypatch.delenv("TFLM_PATH", raising=False)
    assert main(["tflm-baseline", "missing.tflite"]) == 2
    assert "missing.tflite does not exist" in capsys.readouterr().err
    assert main(["tflm-baseline", str(mlperf_model("ad01_int8")), "--board", "cortex-m7"]) == 2
    err = capsys.readouterr().err
    assert "TFLM_PATH is not set" in err and "Traceback" not in err


def test_missing_downloads_are_named(tmp_path, monkeypatch):
    makefile = tmp_path / "tensorflow/lite/micro/tools/make/Makefile"
    makefile.parent.mkdir(parents=True)
    makefile.write_text("")
    monkeypatch.setenv("TFLM_PATH", str(tmp_path))
    with pytest.raises(TflmBaselineError) as err:
        tflm_baseline.tflm_root()
    assert "cmsis_nn/Include/arm_nnfunctions.h" in err.value.message
    assert str(tmp_path) in err.value.fix


def test_runtime_code_counts_the_library_members_only(tmp_path):
    """.text/.rodata kept from libtensorflow-microlite.a, CMSIS-NN's objects apart; not the harness or libc."""
    lib = "/b/gen/lib/libtensorflow-microlite.a"
    (tmp_path / "harness.map").write_text(
        "Discarded input sections\n .text.unused 0x0 0x500 " + lib + "(conv.o)\n"
        "Linker script and memory map\n"
        " .text          0x00000400      0x100 startup.o\n"
        " .text._ZN6tflite4EvalEv\n"
        "                0x00000500       0x40 " + lib + "(conv.o)\n"
        "                0x00000500                tflite::Eval()\n"
        " .text.arm_convolve_s8\n"
        "                0x00000540      0x200 " + lib + "(arm_convolve_s8.o)\n"
        " .rodata._ZN6tflite5tableE\n"
        "                0x00000740       0x10 " + lib + "(micro_utils.o)\n"
        " .text          0x00000750       0x80 /usr/lib/arm-none-eabi/newlib/libc_nano.a(lib_a-memcpy.o)\n"
        " .data._ZN6tflite1xE\n"
        "                0x20000000        0x4 " + lib + "(micro_utils.o)\n"
        " .rodata.ta_model_tflite\n"
        "                0x00000800     0x1000 model.o\n")
    library = tflm_baseline.TflmLibrary(Path(lib), (), "-Os", frozenset({"arm_convolve_s8.o"}))
    assert tflm_baseline.runtime_code(tmp_path / "harness.map", library) == {
        "code_tflm": 0x50, "code_cmsis_nn": 0x200, "code": 0x250}


def test_board_baseline_is_used_only_for_the_measured_file(tmp_path):
    name, board = "lowformer-micro", "cortex-m55"
    measured = bench_all.BOARD_BASELINE[board][name]
    other = tmp_path / f"{name}.tflite"
    other.write_bytes(b"TFL3 not the measured export")
    assert bench_all.board_baseline(name, board, other) is None
    assert bench_all.board_baseline(name, board, tmp_path / "missing.tflite") is None
    base = {board: measured["instructions"], "arena": measured["arena"], "code": measured["code"],
            "source": bench_all.BOARD_BASELINE_SOURCE[board]}
    result = {"board": board, "bit_exact": True, "instructions": measured["instructions"] // 2,
              "peak_ram_bytes": 1000, "runtime_code_bytes": 2000, "const_bytes": 3000, "tflite_bytes": 4000}
    ratios = bench_all.ratios(result, name, base)
    assert ratios["instructions_ratio"] == 0.5 and ratios["baseline"].startswith("TFLM + CMSIS-NN on the M55 (measured")
    assert ratios["baseline_arena"] == measured["arena"]
    row = {"model": name, "kernels": "auto", **result, "ratios": ratios}
    assert f"{measured['instructions']:,}+ |" in bench_all.markdown([row])


def test_board_baselines_name_a_measured_file_and_a_source():
    for board, models in bench_all.BOARD_BASELINE.items():
        assert board in bench_all.BOARD_BASELINE_SOURCE and board in bench_all.BOARDS
        for name, base in models.items():
            assert len(base["sha256"]) == 64 and min(base["instructions"], base["arena"], base["code"]) > 0, (board, name)


@pytest.mark.heavy
def test_ad01_on_the_m7_reproduces_issue_7():
    """ad01_int8 (fully connected only: its instruction count does not depend on the input) gives
    exactly issue 7's figures: 583,240 instructions, arena 2,580 B, runtime code 26.6 KB."""
    if not os.environ.get("TFLM_PATH"):
        pytest.skip("TFLM_PATH is not set: point it at a tensorflow/tflite-micro 90b983c2 tree with its "
                    "downloads (see tinyattend/run/tflm_baseline.py, POPULATE_DOWNLOADS)")
    result = tflm_baseline.measure(mlperf_model("ad01_int8"), "cortex-m7", quiet=True)
    assert result["output_ok"]
    assert result["instructions"] == 583_240
    assert result["arena"] == 2_580
    assert result["code"] == 26_569          # 13,121 TFLM + 13,448 CMSIS-NN with arm-none-eabi-gcc 12.2
