"""Issue 14's model list in `make test`: a representative slice of real torchvision and timm architectures
(random initialisation, nothing downloaded), exported by torch at a small input, converted to full-integer
int8 and verified bit for bit on the host; one of them also on the emulated Cortex-M7. Each model here stands
for a mechanism: HardSigmoid as RELU_0_TO_1 (MobileNetV3), the channel shuffle (ShuffleNetV2), LayerNorm and
exact GELU (ConvNeXt); ceil-mode pooling and the padded MaxPool's sentinel have one-op tests
(test_convert_activations.py, test_calibration_ranges.py). The whole list, at 96x96 with M7 figures, is `make coverage` (tools/model_coverage.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import tinyattend

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import model_coverage  # noqa: E402

pytest.importorskip("torch", reason="torch is not installed (make setup installs requirements-zoo.lock)")
pytest.importorskip("timm", reason="timm is not installed (make setup installs requirements-zoo.lock)")
pytest.importorskip("onnx2tf", reason="onnx2tf is not installed (make setup installs it)")

SLICE = {                       # model -> input side: small, and not equal to a channel count (onnx2tf's layout guess)
    "mobilenet_v3_small": 64,
    "shufflenet_v2_x0_5": 64,
    "convnext_atto": 64,
}
FLOAT_OPS = {"DEQUANTIZE", "QUANTIZE", "CAST"}


def _export(name: str, size: int, folder: Path) -> Path:
    spec = {s.name: s for s in model_coverage.MODELS}[name]
    spec = model_coverage.Spec(spec.name, spec.source, spec.builder, size,
                               tuple((k, size if k == "img_size" else v) for k, v in spec.kwargs))
    path = folder / f"{name}.onnx"
    model_coverage.export(spec, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLICE))
def test_architecture_converts_and_is_bit_exact_on_host(name, tmp_path):
    result = tinyattend.convert(_export(name, SLICE[name], tmp_path), board="host", out=tmp_path / "out",
                                calib_samples=24, progress=False)
    ops = result.report["op_histogram"]
    assert not FLOAT_OPS & set(ops), f"float island left in {name}: {ops}"
    verified = tinyattend.verify(result.out, samples=4)
    assert verified.bit_exact, verified.batches


@pytest.mark.slow
def test_mobilenet_v3_small_is_bit_exact_on_the_emulated_m7(tmp_path):
    """HardSigmoid (RELU_0_TO_1, an op TFLM lacks: LiteRT's reference tables are the oracle) and HardSwish
    on the fast kernels under QEMU."""
    result = tinyattend.convert(_export("mobilenet_v3_small", 64, tmp_path), board="cortex-m7",
                                out=tmp_path / "out", calib_samples=16, progress=False)
    assert result.report["op_histogram"].get("RELU_0_TO_1")
    assert result.report["oracle"]["ops"]["RELU_0_TO_1"] == "litert-builtin-ref"
    bench = tinyattend.bench(result.out)
    assert bench.bit_exact and bench.instructions > 0
