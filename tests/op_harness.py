"""Single-op test models and the bit-exactness check every kernel test uses.

`int8_tflite` converts a small Keras/tf.function model to full-int8 TFLite with
the real TFLite converter; `assert_bit_exact` generates C for it, builds it on
the host (optionally under AddressSanitizer + UBSan) and compares its outputs
with the TFLM interpreter's, byte for byte, on random and calibration inputs.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def int8_tflite(build_model, input_shapes, *, samples: int = 32, seed: int = 0, low: float = -1.0,
                 high: float = 1.0, per_channel_dense: bool = True, float_io: bool = False,
                 per_channel: bool = True) -> bytes:
    """Full-integer int8 TFLite from `build_model(tf) -> keras.Model or tf.function`.

    input_shapes: list of shapes, batch dimension included (1, ...).
    float_io: float32 model input and output (QUANTIZE first, DEQUANTIZE last) instead of int8.
    per_channel: False quantizes every weight tensor per tensor (convolutions too).
    """
    import tensorflow as tf
    model = build_model(tf)
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(samples):
            yield [rng.uniform(low, high, size=shape).astype(np.float32) for shape in input_shapes]

    if isinstance(model, tf.keras.Model):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    else:
        concrete = model.get_concrete_function(*[tf.TensorSpec(shape, tf.float32) for shape in input_shapes])
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.float32 if float_io else tf.int8
    converter.inference_output_type = tf.float32 if float_io else tf.int8
    if not per_channel_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    if not per_channel:
        converter._experimental_disable_per_channel = True
    return converter.convert()


def padded_conv_model(tf, conv: str, pads, stride: int, hwc=(11, 10, 8), filters: int = 16):
    """Keras: 1x1 conv -> ZeroPadding2D(pads) -> a VALID depthwise 3x3 (relu6) or conv 3x3 of `filters` at
    `stride` -> 1x1 conv. The PAD reads an intermediate tensor, as a PAD-folding rewrite meets it."""
    L = tf.keras.layers
    x = tf.keras.Input(hwc, batch_size=1)
    y = L.Conv2D(8, 1, activation="relu")(x)
    y = L.ZeroPadding2D(pads)(y)
    if conv == "depthwise":
        y = L.DepthwiseConv2D(3, strides=stride, padding="valid", activation="relu6")(y)
    else:
        y = L.Conv2D(filters, 3, strides=stride, padding="valid")(y)
    return tf.keras.Model(x, L.Conv2D(4, 1)(y))


def with_output_quantization(tflite: bytes, scale: float | None = None, zero_point: int | None = None,
                             edit_op=None) -> bytes:
    """The model with its last op's output quantization replaced (scale and/or zero point), after
    `edit_op(op, model, schema)` when given: for quantization the converter never picks (a
    narrower activation range than int8) or ops it does not emit on their own. The TFLM reference
    follows the same parameters."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    (subgraph,) = model.subgraphs
    op = subgraph.operators[-1]
    if edit_op is not None:
        edit_op(op, model, schema)
    quant = subgraph.tensors[op.outputs[0]].quantization
    if scale is not None:
        quant.scale = np.array([scale], dtype=np.float32)
    if zero_point is not None:
        quant.zeroPoint = np.array([zero_point], dtype=np.int64)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class FlatbufferModel:
    """A hand-written one-subgraph TFLite model, for exact shapes, flags and zero points the converter
    would not produce: add int8 tensors (constants when given data), then `build` with the ops."""

    def __init__(self):
        from ai_edge_litert import schema_py_generated as schema
        self.schema = schema
        self.buffers, self.tensors = [schema.BufferT()], []

    def int8_tensor(self, name: str, shape, quant, data=None) -> int:
        """A tensor with quantization quant = (scale, zero point); its index."""
        t = self.schema.TensorT()
        t.shape, t.type, t.name = np.array(shape, np.int32), self.schema.TensorType.INT8, name
        t.quantization = self.schema.QuantizationParametersT()
        t.quantization.scale = np.array([quant[0]], np.float32)
        t.quantization.zeroPoint = np.array([quant[1]], np.int64)
        buffer = self.schema.BufferT()
        if data is not None:
            buffer.data = np.ascontiguousarray(data, dtype=np.int8).view(np.uint8).ravel()
        self.buffers.append(buffer)
        t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def build(self, code, ops, inputs, outputs, description: str) -> bytes:
        import flatbuffers
        schema = self.schema
        subgraph = schema.SubGraphT()
        subgraph.tensors, subgraph.operators = self.tensors, ops
        subgraph.inputs, subgraph.outputs = np.array(inputs, np.int32), np.array(outputs, np.int32)
        model = schema.ModelT()
        model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [subgraph], self.buffers
        model.description = description
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def op_types(tflite: bytes) -> list[str]:
    from tinyattend.ir.tflite_reader import read_tflite
    return [op.type for op in read_tflite(tflite).ops]


def assert_bit_exact(tflite: bytes, out_dir: Path, *, samples: int = 100, sanitize: bool = True,
                     seed: int = 0, expect_ops=None, kernels: str = "portable", optimize: str = "balanced",
                     extra_inputs=None) -> dict:
    """Generate, build and run on the host; assert every output equals TFLM's. Returns the report.
    extra_inputs: samples (first axis) run after the generated ones, e.g. every input pair of an op."""
    from tinyattend.boards import load_board
    from tinyattend.build.host import build_host, run_host
    from tinyattend.pipeline import write_project
    from tinyattend.verify import compare, float_input_range, model_inputs, reference_outputs

    if expect_ops is not None:
        ops = op_types(tflite)
        for op in expect_ops:
            assert op in ops, f"the test model should contain {op}, it has {ops}"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = write_project(out_dir, tflite, load_board("host"), kernels=kernels, optimize=optimize,
                           model_name="test_op", measure_tflm_arena=False)
    shape_out = tuple(report["output"]["shape"])
    inputs = model_inputs(report["input"], samples, seed)
    if report["input"]["dtype"] == "float32":
        # Beyond the range the input quantization covers (saturation), and values whose
        # quotient by the scale lands on or next to a rounding tie.
        scale, zero_point = report["input"]["scale"], report["input"]["zero_point"]
        low, high = float_input_range(scale, zero_point)
        inputs[0].fill(np.float32(low - 10 * scale))
        if samples > 1:
            inputs[1].fill(np.float32(high + 10 * scale))
        rng = np.random.default_rng(seed + 1)
        for k in range(2, min(samples, 6)):
            steps = rng.integers(-130, 130, size=inputs[k].shape) + 0.5
            ties = np.float32(steps * np.float32(scale))
            inputs[k] = np.nextafter(ties, np.float32(np.inf) if k % 2 else np.float32(-np.inf)) if k > 3 else ties
    else:
        # Also the extremes, where saturation and rounding corners live.
        inputs[0].fill(-128)
        if samples > 1:
            inputs[1].fill(127)
    if extra_inputs is not None:
        inputs = np.concatenate([inputs, np.asarray(extra_inputs, dtype=inputs.dtype)])
    binary = build_host(out_dir, sanitize=sanitize)
    ours = run_host(binary, inputs, inputs[0].nbytes, shape_out, output_dtype=report["output"]["dtype"])
    reference, oracle = reference_outputs(out_dir / "model.tflite", inputs)   # TFLM, or LiteRT where TFLM lacks an op
    result = compare(ours, reference)
    assert result["identical"] == result["samples"], (
        f"{result['samples'] - result['identical']} of {result['samples']} outputs differ from {oracle} "
        f"(max {result['max_abs_diff_lsb']} LSB, first at sample {result['first_mismatch']})")
    return report


def assert_bit_exact_on_board(tflite: bytes, out_dir: Path, *, board: str = "cortex-m7", kernels: str = "fast",
                              samples: int = 4, seed: int = 0, optimize: str = "balanced", extra_inputs=None) -> dict:
    """Generate for an emulated board, build with arm-none-eabi-gcc, run each input on QEMU and assert every
    output equals TFLM's. The host build runs the DSP operations as plain C; this runs the real instructions
    (ACLE intrinsics and inline assembly). Inputs: all -128, all 127, then random, then extra_inputs."""
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project
    from tinyattend.run.runner import model_info, run_on_board
    from tinyattend.verify import compare, model_inputs, reference_outputs

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = load_board(board)
    report = write_project(out_dir, tflite, target, kernels=kernels, optimize=optimize, model_name="test_op",
                           measure_tflm_arena=False)
    inputs = model_inputs(report["input"], samples, seed)
    inputs[0].fill(-128)
    if samples > 1:
        inputs[1].fill(127)
    if extra_inputs is not None:
        inputs = np.concatenate([inputs, np.asarray(extra_inputs, dtype=inputs.dtype)])
    info = model_info(out_dir)
    outputs = []
    for x in inputs:
        result, _ = run_on_board(info, target, np.ascontiguousarray(x).tobytes())
        assert result.status == 0, f"ta_invoke returned {result.status} on {board}"
        outputs.append(np.frombuffer(result.output, dtype=np.int8).reshape(report["output"]["shape"]))
    reference, oracle = reference_outputs(out_dir / "model.tflite", inputs)
    result = compare(np.stack(outputs), reference)
    assert result["identical"] == result["samples"], (
        f"{board}: {result['samples'] - result['identical']} of {result['samples']} outputs differ from {oracle} "
        f"(max {result['max_abs_diff_lsb']} LSB, first at sample {result['first_mismatch']})")
    return report
