"""Generation-time kernel specialisation: ta_paths.h turns on the optional kernel paths the model's layers
take and compiles out the rest; a layer reaching a path turned off traps instead of computing garbage."""
import pytest

from op_harness import assert_bit_exact, int8_tflite
from tinyattend.codegen.emit import GeneratedFile, paths_header


def _depthwise_5x5(tf):
    return tf.keras.Sequential([tf.keras.Input((6, 7, 4), batch_size=1),
                                tf.keras.layers.DepthwiseConv2D(5, padding="same")])


def _paths(header: str) -> dict[str, int]:
    return {line.split()[1]: int(line.split()[2]) for line in header.splitlines() if line.startswith("#define TA_PATH_")}


def test_paths_header_marks_taken_paths_and_rejects_unknown_ones():
    kernel = GeneratedFile("k.c", "TA_TAKES(TA_PATH_A); TA_TAKES(TA_PATH_B_2);")
    assert _paths(paths_header([kernel], {"TA_PATH_B_2"})) == {"TA_PATH_A": 0, "TA_PATH_B_2": 1}
    with pytest.raises(AssertionError, match="TA_PATH_C"):
        paths_header([kernel], {"TA_PATH_C"})


def test_only_the_taken_depthwise_path_is_compiled_and_a_path_turned_off_traps(tmp_path):
    from tinyattend.build.host import build_host, run_host
    from tinyattend.errors import RunError
    from tinyattend.verify import model_inputs

    tflite = int8_tflite(_depthwise_5x5, [(1, 6, 7, 4)], low=-2.0, high=2.0)
    report = assert_bit_exact(tflite, tmp_path, kernels="fast", samples=8)
    header = tmp_path / "model" / "ta_paths.h"
    paths = _paths(header.read_text())
    assert paths["TA_PATH_DW_PAIRS"] == 1, "a 5x5 window at stride 1 takes the tap-pair path"
    assert sum(paths.values()) == 1, f"only that path should be on: {paths}"

    # The generator and the kernel disagreeing must not go unnoticed: turn the taken path off.
    header.write_text(header.read_text().replace("#define TA_PATH_DW_PAIRS 1", "#define TA_PATH_DW_PAIRS 0"))
    binary = build_host(tmp_path, sanitize=False)
    inputs = model_inputs(report["input"], 1, 0)
    with pytest.raises(RunError, match=r"exit -4\b"):     # SIGILL: __builtin_trap's ud2
        run_host(binary, inputs, inputs[0].nbytes, tuple(report["output"]["shape"]))


def test_layers_beyond_the_16_bit_parameter_fields_take_the_portable_kernels(tmp_path):
    # A 70,000-sample 1-D signal: its width does not fit the fast kernels' uint16_t fields.
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((1, 70_000, 2), batch_size=1),
                                    tf.keras.layers.Conv2D(4, (1, 3), padding="same"),
                                    tf.keras.layers.DepthwiseConv2D((1, 3), padding="same")])
    tflite = int8_tflite(build, [(1, 1, 70_000, 2)], samples=4, low=-2.0, high=2.0)
    assert_bit_exact(tflite, tmp_path, kernels="fast", samples=3)
    model_c = (tmp_path / "model" / "model.c").read_text()
    assert "ta_conv2d_s8(" in model_c and "ta_depthwise_conv2d_s8(" in model_c
    assert "_fast(" not in model_c
