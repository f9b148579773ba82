"""Hand-made hostile cases (issue 19's list and more): each a Case run like a mutated model."""
from __future__ import annotations

import json

import numpy as np
import onnx

from .oracle import Case
from .seeds import _tests_on_path, tflite_seeds
from .tflite_mutations import serialise, unpack


def _onnx(builder_edit=None) -> bytes:
    _tests_on_path()
    import model_factory as mf
    b = mf.OnnxBuilder([1, 3, 8, 8], "hostile")
    x = b.relu(b.random_conv(b.input_name, 3, 4))
    y = b.random_gemm(b.flatten(b.global_avg_pool(x)), 4, 3)
    model = b.build(y, [1, 3])
    if builder_edit:
        builder_edit(model)
    return model.SerializeToString()


def _conv_attr(name, value):
    def edit(model):
        conv = next(n for n in model.graph.node if n.op_type == "Conv")
        for attribute in list(conv.attribute):
            if attribute.name == name:
                conv.attribute.remove(attribute)
        conv.attribute.append(onnx.helper.make_attribute(name, value))
    return edit


def _input_dim(index, value):
    def edit(model):
        model.graph.input[0].type.tensor_type.shape.dim[index].dim_value = value
    return edit


def _opset(version):
    def edit(model):
        model.opset_import[0].version = version
    return edit


def _external(location):
    def edit(model):
        init = model.graph.initializer[0]
        init.ClearField("raw_data")
        del init.float_data[:]
        init.data_location = onnx.TensorProto.EXTERNAL
        entry = init.external_data.add()
        entry.key, entry.value = "location", location
    return edit


def _tflite_option(seed: str, op_type: int, **fields) -> bytes:
    model = unpack(tflite_seeds()[seed])
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) == op_type:
            for key, value in fields.items():
                setattr(op.builtinOptions, key, value)
            break
    return serialise(model)


def _tflite_opcode(seed: str, op: int, opcode_index: int) -> bytes:
    model = unpack(tflite_seeds()[seed])
    model.subgraphs[0].operators[op].opcodeIndex = opcode_index
    return serialise(model)


def _tflite_dim(seed: str, tensor: int, dim: int, value: int) -> bytes:
    model = unpack(tflite_seeds()[seed])
    shape = [int(d) for d in model.subgraphs[0].tensors[tensor].shape]
    shape[dim] = value
    model.subgraphs[0].tensors[tensor].shape = shape
    return serialise(model)


def _tflite_scale(seed: str, tensor: int, scale: float) -> bytes:
    model = unpack(tflite_seeds()[seed])
    model.subgraphs[0].tensors[tensor].quantization.scale = [scale]
    return serialise(model)


CONVERT = ("convert", "model.onnx", "--board", "host", "-o", "OUT")
CONVERT_TFLITE = ("convert", "model.tflite", "--board", "host", "-o", "OUT")


def _report_dir(report: str) -> tuple[tuple[str, bytes], ...]:
    return (("OUT/.tinyattend-output", b"x"), ("OUT/report.json", report.encode()),
            ("OUT/model/model.h", b"#define TA_INPUT_SIZE 4\n#define TA_OUTPUT_SIZE 4\n"))


def hostile_cases() -> list[Case]:
    onnx_cases = {
        "onnx-conv-pads-100000": _onnx(_conv_attr("pads", [100000] * 4)),
        "onnx-conv-strides-0": _onnx(_conv_attr("strides", [0, 0])),
        "onnx-conv-dilations-2^31-1": _onnx(_conv_attr("dilations", [(1 << 31) - 1] * 2)),
        "onnx-conv-kernel-shape-wrong": _onnx(_conv_attr("kernel_shape", [5, 5])),
        "onnx-conv-group-7": _onnx(_conv_attr("group", 7)),
        "onnx-batch-100000": _onnx(_input_dim(0, 100000)),
        "onnx-batch-2": _onnx(_input_dim(0, 2)),
        "onnx-input-2^20-square": _onnx(lambda m: [_input_dim(2, 1 << 20)(m), _input_dim(3, 1 << 20)(m)]),
        "onnx-opset-99": _onnx(_opset(99)),
        "onnx-external-data-outside": _onnx(_external("../../../../etc/passwd")),
        "onnx-external-data-absolute": _onnx(_external("/etc/hostname")),
        "onnx-non-utf8-name": _onnx(lambda m: setattr(m.graph.node[0], "name", "NAME_TO_PATCH")).replace(
            b"NAME_TO_PATCH", b"\xff\xfe\xc3(NAMEPATCH"),
        "onnx-empty": b"",
        "onnx-random": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    }
    cases = [Case(name, "hostile", CONVERT, files=(("model.onnx", data),)) for name, data in onnx_cases.items()]
    cases.append(Case("onnx-input-shape-2^20", "hostile", CONVERT + ("--input-shape", "1,3,1048576,1048576"),
                      files=(("model.onnx", onnx_cases["onnx-batch-2"]),)))
    seeds = tflite_seeds()
    tflite_cases = {} if "kws_ref_model" not in seeds else {
        "tflite-conv-dilation-2^31-1": _tflite_option("kws_ref_model", 3, dilationHFactor=(1 << 31) - 1),
        "tflite-conv-dilation-65536": _tflite_option("kws_ref_model", 3, dilationWFactor=65536),
        "tflite-conv-stride-0": _tflite_option("kws_ref_model", 3, strideH=0),
        "tflite-conv-stride-65536": _tflite_option("kws_ref_model", 3, strideW=65536),
        "tflite-dw-depth-multiplier-7": _tflite_option("kws_ref_model", 4, depthMultiplier=7),
        "tflite-dw-dilation-65536": _tflite_option("kws_ref_model", 4, dilationHFactor=65536),
        "tflite-pool-filter-0": _tflite_option("kws_ref_model", 1, filterWidth=0),
        "tflite-pool-filter-huge": _tflite_option("kws_ref_model", 1, filterHeight=1 << 20),
        "tflite-input-scale-65536": _tflite_scale("kws_ref_model", 0, 65536.0),
        "tflite-input-scale-1e-30": _tflite_scale("kws_ref_model", 0, 1e-30),
    }
    if "pretrainedResnet_quant" in seeds:
        # found by the campaign: TFLM aborts (signal 6) preparing the conv that reads this activation;
        # it killed `convert` (the in-process TFLM arena measurement) and `verify`
        tflite_cases["found-tflm-aborts-scale-65536"] = _tflite_scale("pretrainedResnet_quant", 22, 65536.0)
    if "kws_ref_model" in seeds:
        # found by the campaign: a CONV_2D (weights [64, 1, 1, 64]) relabelled DEPTHWISE_CONV_2D reached the fast
        # depthwise lowering (numpy reshape ValueError)
        tflite_cases["found-conv-weights-as-depthwise"] = _tflite_opcode("kws_ref_model", 8, 1)
    if "kws_ref_model" in seeds:
        # found by the confirmation campaign: SOFTMAX beta NaN (ValueError converting NaN to an integer)
        tflite_cases["found-softmax-beta-nan"] = _tflite_option("kws_ref_model", 25, beta=float("nan"))
    if "vww_96_int8" in seeds:
        # found by the campaign: ZeroDivisionError in the CONV_2D group check for an input of 0 channels
        tflite_cases["found-conv-input-0-channels"] = _tflite_dim("vww_96_int8", 0, 3, 0)
    for name, data in tflite_cases.items():
        cases.append(Case(name, "hostile", CONVERT_TFLITE, files=(("model.tflite", data),)))
        cases.append(Case(name + "-inspect", "hostile", ("inspect", "model.tflite"), files=(("model.tflite", data),)))
    for name, data in {**found_by_fuzzing(), **valid_but_hostile()}.items():
        cases.append(Case(name, "hostile", CONVERT_TFLITE, files=(("model.tflite", data),)))
    good = tflite_seeds()["tiny_fc"]
    cases += [
        Case("out-is-cwd", "hostile", CONVERT_TFLITE[:-1] + (".",), files=(("model.tflite", good),)),
        Case("out-in-proc", "hostile", CONVERT_TFLITE[:-1] + ("/proc/1/x",), files=(("model.tflite", good),)),
        Case("out-is-a-file", "hostile", CONVERT_TFLITE, files=(("model.tflite", good), ("OUT", b"x"))),
        Case("model-is-dev-zero", "hostile", CONVERT_TFLITE, setup=(("model.tflite", "symlink:/dev/zero"),)),
        Case("model-is-a-directory", "hostile", CONVERT_TFLITE, setup=(("model.tflite", "dir"),)),
        Case("model-missing", "hostile", CONVERT_TFLITE),
        Case("calib-huge-npy-header", "hostile", CONVERT_TFLITE + ("--calib", "calib.npy"),
             files=(("model.tflite", good), ("calib.npy", _huge_npy()))),
        Case("calib-pickle-npy", "hostile", CONVERT_TFLITE + ("--calib", "calib.npy"),
             files=(("model.tflite", good), ("calib.npy", _pickle_npy()))),
        Case("calib-samples-0", "hostile", CONVERT_TFLITE + ("--calib-samples", "0"), files=(("model.tflite", good),)),
    ]
    good_report = {"input": {"shape": [1, 4], "dtype": "int8", "scale": 0.1, "zero_point": 0},
                   "output": {"shape": [1, 4], "dtype": "int8", "scale": 0.1, "zero_point": 0}}
    reports = {"report-not-json": '{"input": 3', "report-a-list": "[]", "report-bad-shape": '{"input": {"shape": "x"}}',
               "report-negative-shape": json.dumps({**good_report, "input": {"shape": [-1, 4]}}),
               "report-huge-shape": json.dumps({**good_report, "input": {"shape": [1 << 20, 1 << 20]}}),
               "report-no-model": json.dumps(good_report)}
    for name, text in reports.items():
        for verb in (("verify", "OUT", "--samples", "2"), ("report", "OUT"),
                     ("run", "OUT", "--board", "host", "--input", "x.npy", "--output", "y.npy"),
                     ("bench", "OUT", "--board", "host")):
            cases.append(Case(f"{name}-{verb[0]}", "hostile", verb,
                              files=_report_dir(text) + (("x.npy", _npy(np.zeros((1, 4), np.int8))),)))
    for samples in ("0", "-1", "x"):
        cases.append(Case(f"verify-samples-{samples}", "hostile", ("verify", "OUT", "--samples", samples),
                          files=_report_dir(json.dumps(good_report))))
    return cases


def _npy(array) -> bytes:
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _huge_npy() -> bytes:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1, 1048576, 1048576), }"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\x00" * 64


def _pickle_npy() -> bytes:
    """An .npy of Python objects: loading it needs pickle, which must stay off."""
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1, 2]], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _tiny(edit) -> bytes:
    model = unpack(tflite_seeds()["tiny_fc"])
    edit(model)
    return serialise(model)


def _as_conv(model):
    # FULLY_CONNECTED's code becomes CONV_2D: its weights are rank 2 where a conv needs 4
    model.operatorCodes[0].builtinCode = model.operatorCodes[0].deprecatedBuiltinCode = 3


def _one_input(model):
    _as_conv(model)
    model.subgraphs[0].operators[0].inputs = [0]


def _bias_2d(model):
    model.subgraphs[0].tensors[2].shape = [4, 1]


def _output_scale_1e_30(model):
    # the FULLY_CONNECTED's rescale factor becomes ~1e26 (2^88): its left shift was undefined in C
    model.subgraphs[0].tensors[3].quantization.scale = [1e-30]


def _non_utf8_input_name(model):
    model.subgraphs[0].tensors[0].name = b"\xff\xfe in\xc3(put"


def found_by_fuzzing() -> dict[str, bytes]:
    """Failures the campaign found, reduced to the tiny model (each was a traceback or a wrong result)."""
    return {
        # model_stats._macs: ValueError (unpacking a rank-2 weight shape) before the op checks ran
        "found-conv-with-rank-2-weights": _tiny(_as_conv),
        # model_stats._macs: IndexError (a conv with a single input)
        "found-conv-with-one-input": _tiny(_one_input),
        # fast FULLY_CONNECTED: numpy broadcast ValueError on a [N, 1] bias (campaign: pretrainedResnet_quant)
        "found-fc-bias-2d": _tiny(_bias_2d),
        # a rescale factor of 2^88 (campaign seed 19, kws_ref_model, tensor 24 scale 1e-30): UBSan
        # "shift exponent 88 is too large" in ta_requantize
        "found-output-scale-1e-30": _tiny(_output_scale_1e_30),
    }


def valid_but_hostile() -> dict[str, bytes]:
    """Valid models with hostile content: they must convert and compute what TFLM computes."""
    return {"tflite-non-utf8-input-name": _tiny(_non_utf8_input_name)}
