"""float32 model input and output: QUANTIZE float32 -> int8 first, DEQUANTIZE int8 -> float32 last.

The model is what the TFLite converter makes with inference_input_type/inference_output_type
float32: float in -> QUANTIZE -> int8 body (conv + relu) -> DEQUANTIZE -> float out. Outputs
must equal TFLM's bit for bit (float32 compared as raw bytes), with portable and auto kernels,
under AddressSanitizer + UBSan on the host and on the emulated Cortex-M7.
"""
import shutil

import numpy as np
import pytest

from op_harness import assert_bit_exact, int8_tflite

HWC = (9, 7, 3)


def conv_relu(tf):
    return tf.keras.Sequential([tf.keras.Input(HWC, batch_size=1),
                                tf.keras.layers.Conv2D(5, 3, padding="same"),
                                tf.keras.layers.ReLU()])


@pytest.fixture(scope="module")
def float_io_tflite():
    # An input range that is not symmetric, so the input zero point is not 0.
    return int8_tflite(conv_relu, [(1, *HWC)], float_io=True, low=-0.5, high=2.0)


@pytest.mark.parametrize("kernels", ["portable", "auto"])
def test_float_io_conv_relu_bit_exact(tmp_path, float_io_tflite, kernels):
    report = assert_bit_exact(float_io_tflite, tmp_path, kernels=kernels,
                              expect_ops=["QUANTIZE", "CONV_2D", "DEQUANTIZE"])
    assert report["ops"][0] == "QUANTIZE" and report["ops"][-1] == "DEQUANTIZE"
    assert report["input"]["dtype"] == "float32" and report["output"]["dtype"] == "float32"
    assert report["input"]["zero_point"] != 0 and report["input"]["scale"] > 0
    header = (tmp_path / "model" / "model.h").read_text()
    assert "#define TA_INPUT_TYPE float" in header and "#define TA_OUTPUT_TYPE float" in header
    assert f"#define TA_INPUT_SIZE {4 * int(np.prod(HWC))}" in header
    assert "float *ta_input(uint8_t *arena);" in header and "float *ta_output(uint8_t *arena);" in header


def test_int8_model_keeps_int8_api(tmp_path):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((6,), batch_size=1), tf.keras.layers.Dense(4)])
    assert_bit_exact(int8_tflite(build, [(1, 6)]), tmp_path, samples=10)
    header = (tmp_path / "model" / "model.h").read_text()
    assert "#define TA_INPUT_TYPE int8_t" in header and "int8_t *ta_input(uint8_t *arena);" in header


def test_float_model_is_refused_with_reason(tmp_path):
    import tensorflow as tf
    from tinyattend.boards import load_board
    from tinyattend.errors import UnsupportedOpError
    from tinyattend.pipeline import write_project
    converter = tf.lite.TFLiteConverter.from_keras_model(conv_relu(tf))   # float everywhere
    with pytest.raises(UnsupportedOpError) as info:
        write_project(tmp_path, converter.convert(), load_board("host"), kernels="portable",
                      optimize="balanced", model_name="float", measure_tflm_arena=False)
    assert "is float32; int8 in and out are required, or float32 read only by QUANTIZE" in str(info.value)


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
                         and shutil.which("make")),
                    reason="arm-none-eabi-gcc, make and qemu-system-arm are needed (make setup installs them)")
def test_float_io_bit_exact_on_cortex_m7(tmp_path, float_io_tflite):
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project
    from tinyattend.run.bench import bench
    board = load_board("cortex-m7")
    write_project(tmp_path, float_io_tflite, board, kernels="auto", optimize="balanced",
                  model_name="float_io", measure_tflm_arena=False)
    result = bench(tmp_path, board)
    assert result["bit_exact"] is True, result.get("bit_exact_error")
    assert [layer["op"] for layer in result["layers"]][::len(result["layers"]) - 1] == ["QUANTIZE", "DEQUANTIZE"]


def test_convert_cli_takes_a_float_interface_tflite_and_verifies(tmp_path, capsys):
    """`tinyattend convert` accepts an int8 model with a float32 interface (QUANTIZE in,
    DEQUANTIZE out) as is, and `tinyattend verify` finds it bit-exact with TFLM."""
    from tinyattend.cli import main

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((6, 5, 3), batch_size=1),
                                    tf.keras.layers.Conv2D(4, 3, padding="same", activation="relu")])
    model = tmp_path / "float_io.tflite"
    model.write_bytes(int8_tflite(build, [(1, 6, 5, 3)], float_io=True))
    out = tmp_path / "out"
    assert main(["convert", str(model), "--board", "host", "-o", str(out)]) == 0
    assert main(["verify", str(out), "--samples", "20"]) == 0
    assert "verify: PASS" in capsys.readouterr().out
