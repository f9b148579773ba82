"""`--kernels cmsis-nn`: generated code calling Arm CMSIS-NN v7, bit-exact with TFLM.

CMSIS-NN is not part of tinyattend. Tests that build with it need `CMSIS_NN_PATH`
(a CMSIS-NN v7.0.0 tree) and skip with that reason otherwise:

    CMSIS_NN_PATH=/path/to/CMSIS-NN .venv/bin/python -m pytest tests/test_cmsis_nn.py          # host (plain C path)
    CMSIS_NN_PATH=/path/to/CMSIS-NN .venv/bin/python -m pytest tests/test_cmsis_nn.py -m slow  # + QEMU M4/M7/M55

Per-op cases run on the host, where CMSIS-NN compiles its plain-C path, under ASan (UBSan on
our code). The MLPerf Tiny models run on emulated Cortex-M4 (DSP), M7 (DSP) and M55 (MVE)
through `bench`, which compares with TFLM.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from op_harness import assert_bit_exact, int8_tflite
from tinyattend.boards import load_board
from tinyattend.codegen.cmsis_nn import _buffer_sizes as sizes
from tinyattend.codegen.generate import generate
from tinyattend.codegen.lowering import KernelCall, Target
from tinyattend.errors import ToolchainError

CMSIS_NN_PATH = os.environ.get("CMSIS_NN_PATH", "")
needs_cmsis_nn = pytest.mark.skipif(
    not (CMSIS_NN_PATH and (Path(CMSIS_NN_PATH) / "Include" / "arm_nnfunctions.h").is_file()),
    reason="CMSIS_NN_PATH is not set to a CMSIS-NN v7.0.0 tree (git clone --branch v7.0.0 "
           "https://github.com/ARM-software/CMSIS-NN.git; export CMSIS_NN_PATH=...)")
needs_qemu = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm") and shutil.which("make")),
    reason="arm-none-eabi-gcc, make and qemu-system-arm are needed (make setup installs them)")


def cmsis(tflite: bytes, tmp_path: Path, ops: list[str], samples: int = 60) -> dict:
    """Bit-exact on the host with cmsis-nn, and every op in `ops` really lowered to CMSIS-NN."""
    report = assert_bit_exact(tflite, tmp_path, kernels="cmsis-nn", samples=samples, expect_ops=ops)
    assert report["libraries"] == ["cmsis-nn"]
    model_c = (tmp_path / "model" / "model.c").read_text()
    assert '#include "arm_nnfunctions.h"' in model_c
    return report


# --- Per-op bit-exactness on the host ---------------------------------------------------------------------

CONV_CASES = [
    # (input HWC, filters, kernel, stride, padding, dilation, bias): im2col, 1x1 fast, 1xN, strided 1x1, dilated
    ((9, 11, 3), 5, 3, 1, "same", 1, True),
    ((10, 10, 6), 7, 3, 2, "valid", 1, True),
    ((8, 7, 8), 4, 1, 1, "valid", 1, True),
    ((8, 8, 8), 6, 1, 2, "valid", 1, False),
    ((1, 16, 4), 5, (1, 3), 1, "same", 1, True),
    ((11, 9, 3), 3, 3, 1, "same", 2, True),
]


@needs_cmsis_nn
@pytest.mark.parametrize("hwc,filters,kernel,stride,padding,dilation,bias", CONV_CASES)
def test_conv2d(tmp_path, hwc, filters, kernel, stride, padding, dilation, bias):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                                           dilation_rate=dilation, use_bias=bias, activation="relu")])
    cmsis(int8_tflite(build, [(1, *hwc)]), tmp_path, ["CONV_2D"])


DW_CASES = [
    # (input HWC, multiplier, kernel, stride, padding): 3x3 path, optimised path, generic (ch_mult 2), strided
    ((9, 11, 4), 1, 3, 1, "same"),
    ((9, 11, 5), 1, 5, 1, "same"),
    ((7, 6, 3), 2, 3, 1, "same"),
    ((10, 10, 8), 1, 3, 2, "valid"),
]


@needs_cmsis_nn
@pytest.mark.parametrize("hwc,multiplier,kernel,stride,padding", DW_CASES)
def test_depthwise_conv2d(tmp_path, hwc, multiplier, kernel, stride, padding):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                                                    depth_multiplier=multiplier, activation="relu6")])
    cmsis(int8_tflite(build, [(1, *hwc)]), tmp_path, ["DEPTHWISE_CONV_2D"])


@needs_cmsis_nn
@pytest.mark.parametrize("per_channel", [True, False])
def test_fully_connected(tmp_path, per_channel):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((37,), batch_size=1), tf.keras.layers.Dense(11, activation="relu")])
    cmsis(int8_tflite(build, [(1, 37)], per_channel_dense=per_channel), tmp_path, ["FULLY_CONNECTED"])
    function = "arm_fully_connected_per_channel_s8" if per_channel else "arm_fully_connected_s8"
    assert function + "(" in (tmp_path / "model" / "model.c").read_text()


@needs_cmsis_nn
def test_add_mul_and_pools(tmp_path):
    """Residual ADD, MUL of two branches, average and max pooling, in one model."""
    def build(tf):
        x = tf.keras.Input((8, 8, 6), batch_size=1)
        a = tf.keras.layers.Conv2D(6, 3, padding="same")(x)
        s = tf.keras.layers.Add()([a, x])
        m = tf.keras.layers.Multiply()([s, a])
        p = tf.keras.layers.MaxPooling2D(2)(m)
        q = tf.keras.layers.AveragePooling2D(3, strides=1, padding="same")(p)
        return tf.keras.Model(x, q)
    tflite = int8_tflite(build, [(1, 8, 8, 6)])
    cmsis(tflite, tmp_path, ["ADD", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D"])
    model_c = (tmp_path / "model" / "model.c").read_text()
    for function in ("arm_elementwise_add_s8(", "arm_elementwise_mul_s8(", "arm_max_pool_s8(", "arm_avgpool_s8("):
        assert function in model_c


@needs_cmsis_nn
def test_softmax(tmp_path):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((3, 10), batch_size=1), tf.keras.layers.Softmax()])
    cmsis(int8_tflite(build, [(1, 3, 10)], low=-6, high=6), tmp_path, ["SOFTMAX"])
    assert "arm_softmax_s8(" in (tmp_path / "model" / "model.c").read_text()


@needs_cmsis_nn
def test_broadcast_add_falls_back_to_portable(tmp_path):
    def build(tf):
        constant = tf.constant(np.random.default_rng(1).uniform(-2, 2, (1, 1, 1, 6)).astype("float32"))

        @tf.function
        def model(x):
            return tf.add(x, constant)
        return model
    report = assert_bit_exact(int8_tflite(build, [(1, 5, 7, 6)]), tmp_path, kernels="cmsis-nn", samples=20)
    assert report["libraries"] == [] and "ta_add_s8(" in (tmp_path / "model" / "model.c").read_text()


def _function_model(fn):
    def build(tf):
        @tf.function
        def model(x):
            return fn(tf, x)
        return model
    return build


def calls(tmp_path: Path, function: str) -> None:
    """The generated model really calls `function` (a silent fallback to portable fails here)."""
    assert function + "(" in (tmp_path / "model" / "model.c").read_text()


@needs_cmsis_nn
@pytest.mark.parametrize("shape,perm", [((1, 5, 7, 3), (0, 3, 1, 2)), ((1, 6, 9), (0, 2, 1))])
def test_transpose(tmp_path, shape, perm):
    tflite = int8_tflite(_function_model(lambda tf, x: tf.transpose(x, perm)), [shape])
    cmsis(tflite, tmp_path, ["TRANSPOSE"])
    calls(tmp_path, "arm_transpose_s8")


@needs_cmsis_nn
@pytest.mark.parametrize("shape,paddings,value", [
    ((1, 5, 7, 3), [[0, 0], [1, 2], [2, 1], [1, 0]], None),
    ((1, 6, 5), [[0, 1], [2, 0], [1, 3]], 0.5),
])
def test_pad(tmp_path, shape, paddings, value):
    def fn(tf, x):
        return tf.pad(x, paddings) if value is None else tf.pad(x, paddings, constant_values=value)
    cmsis(int8_tflite(_function_model(fn), [shape]), tmp_path, ["PAD" if value is None else "PADV2"])
    calls(tmp_path, "arm_pad_s8")


def _dense(tf, rng, n_in, n_out):
    w = tf.constant(rng.uniform(-1, 1, (n_in, n_out)).astype("float32"))
    b = tf.constant(rng.uniform(-0.5, 0.5, (n_out,)).astype("float32"))
    return lambda t: tf.matmul(t, w) + b


def _attention_products(tf):
    """Q K^T (adj_y) then scores V (rhs an activation: swapped at run time), every operand an activation."""
    rng = np.random.default_rng(3)
    q_proj, k_proj, v_proj = (_dense(tf, rng, 6, 6) for _ in range(3))

    @tf.function
    def model(x):
        x = tf.reshape(x, (1, 8, 6))
        q, k, v = q_proj(x), k_proj(x), v_proj(x)
        return tf.matmul(tf.matmul(q, k, transpose_b=True), v)
    return model


def _adj_x_same_operand(tf):
    """x^T x in 4-D: one tensor is both operands, adj_x swaps the left one at run time."""
    @tf.function
    def model(x):
        a = tf.reshape(x, (1, 2, 8, 6))
        return tf.matmul(a, a, transpose_a=True)
    return model


def _constant_rhs(lhs_shape, rhs_shape):
    """A constant rhs (swapped at generation time); rhs [1, depth, cols] takes TFLM's compressed path."""
    def build(tf):
        c = tf.constant(np.random.default_rng(7).uniform(-1, 1, rhs_shape).astype("float32"))

        @tf.function
        def model(x):
            return tf.matmul(tf.reshape(x, lhs_shape), c)
        return model
    return build


@needs_cmsis_nn
@pytest.mark.parametrize("build,size", [
    (_attention_products, 48),
    (_adj_x_same_operand, 96),
    (_constant_rhs((3, 4, 6), (1, 6, 7)), 72),
    (_constant_rhs((1, 4, 6), (3, 6, 5)), 24),
], ids=["q_kt_then_a_v", "adj_x_4d", "const_rhs_compressed", "const_rhs_broadcast_lhs"])
def test_batch_matmul(tmp_path, build, size):
    cmsis(int8_tflite(build, [(1, size)]), tmp_path, ["BATCH_MATMUL"])
    calls(tmp_path, "arm_batch_matmul_s8")


def _tconv(hwc, filters, kernel, stride, padding, bias, activation):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.Conv2DTranspose(filters, kernel, strides=stride, padding=padding,
                                                                    use_bias=bias, bias_initializer="random_normal",
                                                                    activation=activation)])
    return int8_tflite(build, [(1, *hwc)])


@needs_cmsis_nn
@pytest.mark.parametrize("hwc,filters,kernel,stride,padding,bias,activation", [
    ((5, 6, 3), 4, 3, 2, "same", True, "relu"),       # arm_transpose_conv_s8 (rolling accumulator rows)
    ((4, 5, 20), 6, 4, 2, "same", False, None),       # > 16 input channels: reversed filter + arm_convolve_s8
])
def test_transpose_conv(tmp_path, hwc, filters, kernel, stride, padding, bias, activation):
    report = cmsis(_tconv(hwc, filters, kernel, stride, padding, bias, activation), tmp_path, ["TRANSPOSE_CONV"])
    calls(tmp_path, "arm_transpose_conv_wrapper_s8")
    assert report["scratch_bytes"] > 0


@needs_cmsis_nn
def test_transpose_conv_odd_top_padding_falls_back_to_portable(tmp_path):
    """arm_transpose_conv_s8 misplaces rows when the top padding is not a whole number of strides
    (here 1 with stride 2); TFLM's reference kernel is matched by the portable one."""
    report = assert_bit_exact(_tconv((4, 5, 3), 6, 4, 2, "same", False, None), tmp_path, kernels="cmsis-nn",
                              samples=20)
    assert report["libraries"] == [] and "ta_transpose_conv_s8(" in (tmp_path / "model" / "model.c").read_text()


# --- No CMSIS-NN needed: lowering, dispatch, the error without a source ----------------------------------

def _mlperf_graph(name: str):
    from conftest import mlperf_model
    from tinyattend.ir.tflite_reader import read_tflite
    return read_tflite(mlperf_model(name).read_bytes(), name)


@pytest.mark.parametrize("board,fc_sums", [("host", False), ("cortex-m7", False), ("cortex-m55", True)])
def test_lowering_per_core(board, fc_sums):
    """Every op of ResNet-8 lowers to CMSIS-NN; FC kernel sums exist exactly on MVE."""
    graph = _mlperf_graph("pretrainedResnet_quant")
    generated = generate(graph, Target(board=load_board(board), kernels="cmsis-nn"), "resnet")
    calls = [low for low in generated.lowered if isinstance(low, KernelCall)]
    assert all(low.library == "cmsis-nn" for low in calls), [low.function for low in calls]
    assert generated.report["libraries"] == ["cmsis-nn"]
    fc = next(low for op, low in zip(graph.ops, generated.lowered) if op.type == "FULLY_CONNECTED")
    assert any(c.name == "kernel_sums" for c in fc.constants) == fc_sums
    model_c = next(f.text for f in generated.files if f.name == "model.c")
    assert "static const cmsis_nn_conv_params op0_conv" in model_c and "{arena_offset" not in model_c
    assert not any(f.name.startswith("arm_") for f in generated.files)     # never copied


def test_default_stays_portable():
    graph = _mlperf_graph("ad01_int8")
    generated = generate(graph, Target(board=load_board("cortex-m7")), "ad01")
    assert generated.report["libraries"] == [] and generated.report["kernels"] == "portable"


def test_fc_kernel_sums_match_arm_vector_sum():
    from tinyattend.codegen.cmsis_nn.fully_connected import kernel_sums
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(5, 19)).astype(np.int8)
    bias = rng.integers(-1000, 1000, size=5).astype(np.int32)
    expected = bias.astype(np.int64) + 37 * (w.astype(np.int64).sum(axis=1) + 19 * 3)
    assert np.array_equal(kernel_sums(w, bias, 37, 3), expected.astype(np.int32))
    assert np.array_equal(kernel_sums(w, None, 0, 0), np.zeros(5, np.int32))


def test_build_without_cmsis_nn_says_how_to_get_it(tmp_path, monkeypatch):
    from conftest import mlperf_model
    from tinyattend.build.host import build_host
    from tinyattend.pipeline import write_project
    monkeypatch.delenv("CMSIS_NN_PATH", raising=False)
    write_project(tmp_path, mlperf_model("ad01_int8").read_bytes(), load_board("host"), kernels="cmsis-nn",
                  optimize="balanced", model_name="ad01", measure_tflm_arena=False)
    with pytest.raises(ToolchainError) as err:
        build_host(tmp_path)
    assert "CMSIS_NN_PATH" in str(err.value) and "export CMSIS_NN_PATH" in err.value.fix
    assert "CMake" in err.value.fix


def test_firmware_project_without_cmsis_nn(tmp_path, monkeypatch):
    """Without CMSIS_NN_PATH the project is still written: CMake fetches v7.0.0, make says what to set,
    and build_firmware raises ToolchainError before running make."""
    from conftest import mlperf_model
    from tinyattend.build.firmware import build_firmware
    from tinyattend.pipeline import write_project
    monkeypatch.delenv("CMSIS_NN_PATH", raising=False)
    board = load_board("cortex-m4")
    write_project(tmp_path, mlperf_model("ad01_int8").read_bytes(), board, kernels="cmsis-nn",
                  optimize="balanced", model_name="ad01", measure_tflm_arena=False)
    cmake = (tmp_path / "firmware" / "CMakeLists.txt").read_text()
    assert "FetchContent_Declare(cmsis_nn GIT_REPOSITORY https://github.com/ARM-software/CMSIS-NN.git GIT_TAG v7.0.0" in cmake
    assert "target_link_libraries(firmware.elf PRIVATE cmsis_nn)" in cmake
    makefile = (tmp_path / "firmware" / "Makefile").read_text()
    assert "CMSIS_NN_PATH ?= \n" in makefile and "$(error CMSIS-NN not found" in makefile
    if shutil.which("make") and shutil.which("arm-none-eabi-gcc") and shutil.which("arm-none-eabi-size"):
        with pytest.raises(ToolchainError, match="CMSIS_NN_PATH"):
            build_firmware(tmp_path / "firmware", board)


# --- Scratch sizes against the library's own *_get_buffer_size functions -------------------------------

@pytest.fixture(scope="module")
def buffer_size_library(tmp_path_factory):
    """CMSIS-NN's get_buffer_size sources built as a host shared library. Their _dsp and _mve variants
    are plain C, so the host can answer for all three cores (the plain-C answer is the generic one)."""
    if not (CMSIS_NN_PATH and (Path(CMSIS_NN_PATH) / "Include" / "arm_nnfunctions.h").is_file()):
        pytest.skip("CMSIS_NN_PATH is not set to a CMSIS-NN v7.0.0 tree")
    root = Path(CMSIS_NN_PATH)
    files = [root / "Source" / "ConvolutionFunctions" / f for f in
             ("arm_convolve_get_buffer_sizes_s8.c", "arm_depthwise_conv_get_buffer_sizes_s8.c")]
    files.append(root / "Source" / "PoolingFunctions" / "arm_avgpool_get_buffer_sizes_s8.c")
    files.append(root / "Source" / "ConvolutionFunctions" / "arm_transpose_conv_get_buffer_sizes_s8.c")
    lib = tmp_path_factory.mktemp("cmsis_sizes") / "libsizes.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", f"-I{root / 'Include'}", *map(str, files), "-o", str(lib)],
                   check=True)
    return ctypes.CDLL(str(lib))


class _Dims(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int32), ("h", ctypes.c_int32), ("w", ctypes.c_int32), ("c", ctypes.c_int32)]


class _Tile(ctypes.Structure):
    _fields_ = [("w", ctypes.c_int32), ("h", ctypes.c_int32)]


class _Conv(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32), ("stride", _Tile),
                ("padding", _Tile), ("dilation", _Tile), ("act_min", ctypes.c_int32), ("act_max", ctypes.c_int32)]


class _DwConv(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32), ("ch_mult", ctypes.c_int32),
                ("stride", _Tile), ("padding", _Tile), ("dilation", _Tile),
                ("act_min", ctypes.c_int32), ("act_max", ctypes.c_int32)]


SIZE_CASES = [
    # in (h, w, c), filter (h, w), pad (h, w), stride, dilation, out_w, out_c (depthwise)
    ((32, 32, 3), (3, 3), (1, 1), 1, 1, 32, 3),
    ((16, 16, 16), (1, 1), (0, 0), 1, 1, 16, 16),
    ((16, 16, 16), (1, 1), (0, 0), 2, 1, 8, 16),
    ((1, 49, 8), (1, 5), (0, 2), 1, 1, 49, 8),
    ((1, 49, 8), (1, 4), (0, 1), 2, 1, 24, 8),
    ((25, 5, 64), (3, 3), (1, 1), 1, 1, 5, 64),
    ((48, 48, 1), (3, 3), (1, 1), 2, 1, 24, 8),
    ((12, 12, 10), (5, 5), (2, 2), 1, 2, 12, 20),
    ((12, 12, 10), (5, 5), (2, 2), 1, 1, 12, 10),
]


@pytest.mark.parametrize("core", ["c", "dsp", "mve"])
@pytest.mark.parametrize("hwc,fhw,pad,stride,dilation,out_w,out_c", SIZE_CASES)
def test_scratch_sizes_follow_the_library(buffer_size_library, core, hwc, fhw, pad, stride, dilation, out_w, out_c):
    lib = buffer_size_library
    h, w, c = hwc
    out_h = max(1, h // stride)
    inp, out = _Dims(1, h, w, c), _Dims(1, out_h, out_w, out_c)
    suffix = {"c": "", "dsp": "_dsp", "mve": "_mve"}[core]
    conv = _Conv(0, 0, _Tile(stride, stride), _Tile(pad[1], pad[0]), _Tile(dilation, dilation), -128, 127)
    filt = _Dims(out_c, fhw[0], fhw[1], c)
    library = getattr(lib, f"arm_convolve_wrapper_s8_get_buffer_size{suffix}")(
        ctypes.byref(conv), ctypes.byref(inp), ctypes.byref(filt), ctypes.byref(out))
    ours = sizes.conv_wrapper_s8(core, in_h=h, in_w=w, in_c=c, fh=fhw[0], fw=fhw[1], pad_h=pad[0], pad_w=pad[1],
                                 stride_h=stride, stride_w=stride, dil_h=dilation, dil_w=dilation, out_w=out_w)
    # The DSP 1x1 fast path needs a buffer only with armclang; gcc's answer (this library) is 0.
    assert ours == library or (core == "dsp" and ours == 4 * c and library == 0)

    dw = _DwConv(0, 0, out_c // c, _Tile(stride, stride), _Tile(pad[1], pad[0]), _Tile(dilation, dilation), -128, 127)
    dw_filter = _Dims(1, fhw[0], fhw[1], out_c)
    library = getattr(lib, f"arm_depthwise_conv_wrapper_s8_get_buffer_size{suffix}")(
        ctypes.byref(dw), ctypes.byref(inp), ctypes.byref(dw_filter), ctypes.byref(out))
    ours = sizes.depthwise_wrapper_s8(core, batches=1, in_h=h, in_w=w, in_c=c, out_c=out_c, fh=fhw[0], fw=fhw[1],
                                      pad_h=pad[0], pad_w=pad[1], stride_h=stride, stride_w=stride,
                                      dil_h=dilation, dil_w=dilation, out_w=out_w)
    assert ours >= library and (ours == library or core == "mve")

    library = getattr(lib, f"arm_avgpool_s8_get_buffer_size{suffix}")(out_w, c)
    assert sizes.avgpool_s8(core, c) == library


class _TConv(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32), ("stride", _Tile),
                ("padding", _Tile), ("padding_offsets", _Tile), ("dilation", _Tile),
                ("act_min", ctypes.c_int32), ("act_max", ctypes.c_int32)]


@pytest.mark.parametrize("in_hwc,fhw,stride,out_c", [
    ((5, 6, 3), (3, 3), (2, 2), 4), ((4, 5, 20), (4, 4), (2, 2), 6), ((4, 5, 17), (3, 2), (1, 1), 5),
    ((3, 3, 20), (2, 2), (3, 3), 4), ((3, 4, 5), (1, 1), (1, 3), 4), ((3, 4, 5), (1, 2), (3, 1), 4),
])
def test_transpose_conv_scratch_follows_the_library(buffer_size_library, in_hwc, fhw, stride, out_c):
    """The plain-C answers (the host build); ours is larger only where the library's row width uses
    stride_h for stride_w (arm_transpose_conv_s8 itself uses stride_w)."""
    lib = buffer_size_library
    h, w, c = in_hwc
    params = _TConv(0, 0, _Tile(stride[1], stride[0]), _Tile(0, 0), _Tile(0, 0), _Tile(1, 1), -128, 127)
    inp, filt = _Dims(1, h, w, c), _Dims(out_c, fhw[0], fhw[1], c)
    out = _Dims(1, h * stride[0], w * stride[1], out_c)
    library = lib.arm_transpose_conv_s8_get_buffer_size(ctypes.byref(params), ctypes.byref(inp), ctypes.byref(filt),
                                                        ctypes.byref(out))
    ours = sizes.transpose_conv_s8("c", in_w=w, in_c=c, fh=fhw[0], fw=fhw[1], stride_h=stride[0],
                                   stride_w=stride[1], out_c=out_c)
    assert ours == library or (stride[1] > max(stride[0], fhw[1]) and ours > library)
    library = lib.arm_transpose_conv_s8_get_reverse_conv_buffer_size(ctypes.byref(params), ctypes.byref(inp),
                                                                     ctypes.byref(filt))
    assert sizes.transpose_conv_reverse_s8(in_c=c, fh=fhw[0], fw=fhw[1], out_c=out_c, stride_h=stride[0],
                                           stride_w=stride[1]) == library


# --- MLPerf Tiny on emulated Cortex-M4, M7, M55 -----------------------------------------------------------

@pytest.fixture(scope="module")
def mlperf_out(tmp_path_factory):
    """Each MLPerf Tiny model converted once (for cortex-m7, portable); bench regenerates variants."""
    from conftest import mlperf_model
    from tinyattend.cli import main
    outs = {}

    def convert(name: str) -> Path:
        if name not in outs:
            out = tmp_path_factory.mktemp("mlperf") / name
            assert main(["convert", str(mlperf_model(name)), "--board", "cortex-m7", "-o", str(out)]) == 0
            outs[name] = out
        return outs[name]
    return convert


@needs_cmsis_nn
@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("board", ["cortex-m4", "cortex-m7", "cortex-m55"])
@pytest.mark.parametrize("model", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "vww_96_int8"])
def test_mlperf_tiny_bit_exact_on_emulated_cores(mlperf_out, model, board):
    from tinyattend.run.bench import bench
    out = mlperf_out(model)
    result = bench(out, load_board(board), kernels="cmsis-nn", timeout=300)
    assert result["kernels"] == "cmsis-nn" and result["board"] == board
    assert result["bit_exact"] is True, result.get("bit_exact_error")
    variant = out / "variants" / f"{board}-cmsis-nn"
    assert '#include "arm_nnfunctions.h"' in (variant / "model" / "model.c").read_text()


def _tconv_attention(tf):
    """TRANSPOSE_CONV (> 16 input channels: the reverse-convolution path), then attention-like
    BATCH_MATMULs: r^T r (lhs swapped at run time) and r @ scores (rhs swapped at run time); a
    constant projection (the converter makes it FULLY_CONNECTED); then a second, narrow
    TRANSPOSE_CONV (arm_transpose_conv_s8's own path)."""
    rng = np.random.default_rng(11)
    f1 = tf.constant(rng.uniform(-0.3, 0.3, (3, 3, 6, 20)).astype("float32"))   # [h, w, out, in]
    f2 = tf.constant(rng.uniform(-0.5, 0.5, (3, 3, 4, 6)).astype("float32"))
    c = tf.constant(rng.uniform(-1, 1, (6, 6)).astype("float32"))

    @tf.function
    def model(x):
        t = tf.nn.relu(tf.nn.conv2d_transpose(x, f1, (1, 8, 8, 6), 2, padding="SAME"))
        r = tf.reshape(t, (1, 64, 6))
        scores = tf.matmul(r, r, transpose_a=True) * 0.05
        mixed = tf.matmul(tf.matmul(r, scores), c)
        return tf.nn.conv2d_transpose(tf.reshape(mixed, (1, 8, 8, 6)), f2, (1, 16, 16, 4), 2, padding="SAME")
    return model


@needs_cmsis_nn
@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("board", ["cortex-m7"])
def test_batch_matmul_and_transpose_conv_on_emulated_core(tmp_path, board):
    from tinyattend.pipeline import write_project
    from tinyattend.run.bench import bench
    tflite = int8_tflite(_tconv_attention, [(1, 4, 4, 20)])
    report = write_project(tmp_path, tflite, load_board(board), kernels="cmsis-nn", optimize="balanced",
                           model_name="tconv_attention", measure_tflm_arena=False)
    assert report["ops"].count("BATCH_MATMUL") == 2 and report["ops"].count("TRANSPOSE_CONV") == 2
    model_c = (tmp_path / "model" / "model.c").read_text()
    assert model_c.count("arm_batch_matmul_s8(") == 2 and model_c.count("arm_transpose_conv_wrapper_s8(") == 2
    assert model_c.count("arm_transpose_s8(") == 3                   # both operands of r^T r, rhs of r @ scores
    result = bench(tmp_path, load_board(board), kernels="cmsis-nn", timeout=300)
    assert result["kernels"] == "cmsis-nn" and result["board"] == board
    assert result["bit_exact"] is True, result.get("bit_exact_error")
