"""The fast MUL kernel (templates/kernels/fast/ta_mul_s8_fast.c) against TFLM.

The test models are written directly as TFLite flatbuffers (one or two MULs, a
constant second operand) so that the quantization is exactly what a case needs:
the attention-condenser zoo's own scales and zero points, right shifts from 1 to 18,
fused activations. A 256x256 constant column pattern with a row-pattern input
sends all 65536 int8 pairs through the kernel in one inference.

The kernel runs eight elements a step (assembly on DSP cores) and the last
size % 8 one at a time; the sizes cover both and in-place outputs.
"""
import re
import shutil

import numpy as np
import pytest

from op_harness import FlatbufferModel, assert_bit_exact

# (input 1 scale, zero point), (input 2 ...), (output ...): from attendnext-micro's gating MULs
# (features x sigmoid map, zero point -128), and a few others.
ZOO_FIRST = ((0.013102072291076183, -128), (0.00390625, -128), (0.0071138362400233746, -128))       # shift 7
ZOO_NEG = ((0.008775810711085796, -92), (0.00390625, -128), (0.004474496003240347, -94))           # shift 7
ZOO_SMALL = ((0.00034073181450366974, 6), (0.00390625, -128), (0.00018500545411370695, 13))        # shift 7
ZOO_SHIFT6 = ((0.00018521294987294823, 12), (0.00390625, -128), (9.257875353796408e-05, 5))        # shift 6
BOTH_OFFSETS = ((0.05, 37), (0.02, -3), (0.06, 11))                                                 # shift 5
SHIFT1 = ((0.5, 0), (0.3, 5), (0.5, -1))                  # multiplier 0.3: the smallest right shift (1)
SHIFT18 = ((0.01, -128), (0.003, 127), (9.0, 3))          # 3.3e-6: shift 18, most outputs the zero point
SHIFTS = {"zoo_first": ZOO_FIRST, "zoo_neg": ZOO_NEG, "zoo_small": ZOO_SMALL, "zoo_shift6": ZOO_SHIFT6,
          "both_offsets": BOTH_OFFSETS, "shift1": SHIFT1, "shift18": SHIFT18}


def mul_tflite(shape, quant, *, activation="NONE", constant=None, constant_shape=None, constant_first=False,
               square=False, chain=False) -> bytes:
    """A one-MUL int8 model: input x (quant[0]) times a constant (quant[1]; random of `constant_shape`,
    default `shape`, unless `constant`; the first operand when `constant_first`), or x * x (`square`).
    `chain`: then that product times x again (quant[2] for both outputs), so the second MUL may
    overwrite its second input. Output quant[2], fused `activation`."""
    model = FlatbufferModel()
    schema = model.schema

    def tensor(name, q, data=None, dims=shape):
        return model.int8_tensor(name, dims, q, data)

    def mul(a, b, out):
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, np.array([a, b], np.int32), np.array([out], np.int32)
        op.builtinOptionsType = schema.BuiltinOptions.MulOptions
        op.builtinOptions = schema.MulOptionsT()
        op.builtinOptions.fusedActivationFunction = getattr(schema.ActivationFunctionType, activation)
        return op

    x = tensor("x", quant[0])
    if square:
        second = x
    else:
        if constant is None:
            constant = np.random.default_rng(1).integers(-128, 128, size=shape if constant_shape is None else constant_shape)
        second = tensor("c", quant[1], constant, np.shape(constant))
    out_shape = np.broadcast_shapes(shape, tuple(model.tensors[second].shape))
    y = tensor("y", quant[2], dims=out_shape)
    ops = [mul(second, x, y) if constant_first else mul(x, second, y)]
    if chain:
        z = tensor("z", quant[2], dims=out_shape)
        ops.append(mul(x, y, z))
        y = z
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.MUL
    code.version = 2
    return model.build(code, ops, [x], [y], "tinyattend fast MUL test")


ALL_PAIRS_SHAPE = (1, 256, 256, 1)


def all_pairs_model(quant, activation="NONE") -> tuple[bytes, np.ndarray]:
    """x[i, j] = i - 128 times c[i, j] = j - 128: the model and the input that covers every pair."""
    rows = np.broadcast_to(np.arange(-128, 128, dtype=np.int8)[:, None], (256, 256))
    tflite = mul_tflite(ALL_PAIRS_SHAPE, quant, activation=activation,
                        constant=np.ascontiguousarray(rows.T).reshape(ALL_PAIRS_SHAPE))
    return tflite, np.ascontiguousarray(rows).reshape(1, *ALL_PAIRS_SHAPE)


def mul_calls(out_dir) -> list[tuple[str, list[str]]]:
    """The model's MUL calls: (function, [input1, input2, output] pointer expressions)."""
    model_c = next(out_dir.rglob("model.c")).read_text()
    return [(m[1], m[2].split(", ")) for m in re.finditer(r"(ta_mul_s8\w*)\(&\w+, (.*?)\)(?: != TA_OK|;)", model_c)]


def assert_fast(out_dir, function=r"ta_mul_s8_fast_shift\d+"):
    """Every MUL call is `function` (a regular expression); returns the calls."""
    calls = mul_calls(out_dir)
    assert calls and all(re.fullmatch(function, f) for f, _ in calls), calls
    return calls


@pytest.mark.parametrize("name", ["zoo_neg", "shift1", "shift18"])
def test_mul_fast_all_pairs(tmp_path, name):
    """Every (a, b) int8 pair through the generated C (the element loop on the host): a zoo gating
    MUL and the extreme right shifts. No sanitizers: test_mul_fast_sizes runs them on the same code."""
    tflite, pairs = all_pairs_model(SHIFTS[name])
    assert_bit_exact(tflite, tmp_path, samples=2, extra_inputs=pairs, kernels="fast", sanitize=False)
    assert_fast(tmp_path)


def test_mul_fast_all_pairs_relu6(tmp_path):
    """A fused activation range narrower than int8 on both sides."""
    tflite, pairs = all_pairs_model(BOTH_OFFSETS, "RELU6")
    assert_bit_exact(tflite, tmp_path, samples=2, extra_inputs=pairs, kernels="fast", sanitize=False)
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert ".act_min = -128," not in model_c and ".act_max = 127," not in model_c
    assert_fast(tmp_path, "ta_mul_s8_fast_shift5")


@pytest.mark.parametrize("size", [1, 5, 17])
def test_mul_fast_sizes(tmp_path, size):
    """Sizes below and between whole steps of eight (the element-by-element tail), under sanitizers."""
    assert_bit_exact(mul_tflite((1, size), ZOO_NEG), tmp_path, samples=40, kernels="fast")
    assert_fast(tmp_path, "ta_mul_s8_fast_shift7")


def assert_in_place(out_dir):
    """Some MUL's output pointer is one of its inputs' (the same arena offset)."""
    calls = assert_fast(out_dir)
    offset = lambda pointer: pointer.split(")(")[-1]        # noqa: E731 ("(int8_t *)(arena + 0)" -> "arena + 0)")
    assert any(offset(out) in map(offset, ins) for _, (*ins, out) in calls), f"no call runs in place: {calls}"
    return calls


@pytest.mark.parametrize("square,activation", [(True, "NONE"), (False, "RELU6")])
def test_mul_fast_in_place(tmp_path, square, activation):
    """The output overwrites an input: x * x (both inputs and the output one buffer), or a second MUL
    writing over the first one's product. 105 elements: 13 steps and a tail of 1."""
    quant = ((0.02, 3), (0.02, 3), (0.01, -7)) if square else ZOO_SMALL
    tflite = mul_tflite((1, 5, 7, 3), quant, square=square, chain=not square, activation=activation)
    assert_bit_exact(tflite, tmp_path, samples=40, kernels="fast")
    assert_in_place(tmp_path)


def test_mul_fast_falls_back(tmp_path):
    """A multiplier >= 1 (no right shift) keeps TFLM's requantization (the portable kernel)."""
    assert_bit_exact(mul_tflite((1, 6, 6, 4), ((0.5, 1), (0.5, -2), (0.1, 0))), tmp_path, samples=20,
                     kernels="fast", sanitize=False)
    assert_fast(tmp_path, "ta_mul_s8")


# (output shape, constant shape, constant first): a scalar, per-channel vectors (C = 80 and 12: runs
# of 80 and of 96 = 8 * 12), a row of channels, and a [1, H, W, 1] map (all of it: 6 * 7 * 4 = 168).
BROADCAST_CASES = [((1, 8, 8, 80), (), False), ((1, 8, 8, 80), (80,), False), ((1, 4, 6, 12), (1, 1, 1, 12), True),
                   ((1, 3, 5, 16), (1, 1, 5, 16), False), ((1, 6, 7, 4), (1, 6, 7, 1), True)]


@pytest.mark.parametrize("shape,constant_shape,constant_first", BROADCAST_CASES)
def test_mul_fast_constant_broadcast(tmp_path, shape, constant_shape, constant_first):
    """A constant broadcast along the output: laid out as input 2 repeating every `input2_period`."""
    tflite = mul_tflite(shape, ZOO_NEG if not constant_first else ZOO_SHIFT6, constant_shape=constant_shape,
                        constant_first=constant_first)
    assert_bit_exact(tflite, tmp_path, samples=40, kernels="fast")
    ((_, (first, second, _)),) = assert_fast(tmp_path)
    assert first.startswith("(const int8_t *)(arena") and second.endswith("_input2"), (first, second)


def test_mul_fast_activation_broadcast_falls_back(tmp_path):
    """A broadcast input that is not a constant (here the model input, against a full-size constant)
    stays on the portable kernel."""
    tflite = mul_tflite((1, 1, 1, 8), ZOO_NEG, constant_shape=(1, 4, 4, 8), constant_first=True)
    assert_bit_exact(tflite, tmp_path, samples=20, kernels="fast", sanitize=False)
    assert_fast(tmp_path, "ta_mul_s8")


def needs_qemu():
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm and arm-none-eabi-gcc are needed")


# (quantization, activation, board): every pair through the assembly, with and without the clamp.
BOARD_CASES = [("zoo_neg", "NONE", "cortex-m7"), ("both_offsets", "RELU6", "cortex-m7"),
               ("zoo_small", "RELU", "cortex-m4")]


@pytest.mark.slow
@pytest.mark.parametrize("name,activation,board", BOARD_CASES)
def test_mul_fast_all_pairs_on_board(tmp_path, name, activation, board):
    """Every int8 pair through the assembly on QEMU (mps2-an500 / an386)."""
    needs_qemu()
    from op_harness import assert_bit_exact_on_board
    tflite, pairs = all_pairs_model(SHIFTS[name], activation)
    assert_bit_exact_on_board(tflite, tmp_path, board=board, kernels="fast", samples=1, extra_inputs=pairs)
    assert_fast(tmp_path)


# (output shape, quantization, activation, constant shape, chain, constant first, samples): a tail of 5
# after 3 steps; an in-place chain with the clamp (13 steps, a tail of 1); constant broadcasts in runs
# of 80 and of 96 (input 2 restarting each run), one of them the first operand and clamped.
BOARD_RUN_CASES = [((1, 29), ZOO_SHIFT6, "NONE", None, False, False, 4),
                   ((1, 5, 7, 3), ZOO_SMALL, "RELU6", None, True, False, 2),
                   ((1, 8, 8, 80), ZOO_NEG, "NONE", (80,), False, False, 2),
                   ((1, 4, 6, 12), BOTH_OFFSETS, "RELU6", (1, 1, 1, 12), False, True, 2)]


@pytest.mark.slow
def test_mul_fast_runs_on_board(tmp_path):
    """The assembly's entry and exit around the element tail, in place and in runs, on the Cortex-M7."""
    needs_qemu()
    from op_harness import assert_bit_exact_on_board
    for k, (shape, quant, activation, constant_shape, chain, first, samples) in enumerate(BOARD_RUN_CASES):
        tflite = mul_tflite(shape, quant, activation=activation, constant_shape=constant_shape, chain=chain,
                            constant_first=first)
        assert_bit_exact_on_board(tflite, tmp_path / str(k), board="cortex-m7", kernels="fast", samples=samples)
        calls = assert_in_place(tmp_path / str(k)) if chain else assert_fast(tmp_path / str(k))
        if constant_shape is not None:
            assert calls[0][1][1].endswith("_input2"), calls
