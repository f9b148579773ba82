"""`make demo` end to end: the bundled AttendNeXt digits model, converted, run bit-exact on the
emulated Cortex-M7, and accurate as int8 C on the held-out digits."""
import re

from tinyattend.cli import main


def test_demo_runs_bit_exact_and_accurate(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "demo-out")]) == 0
    text = capsys.readouterr().out
    assert re.search(r"output = TFLM, bit for bit\s+yes", text), text[-2000:]
    assert "instructions (QEMU icount)" in text
    accuracy = float(re.search(r"top-1 of the int8 C model: ([\d.]+)%", text).group(1))
    assert accuracy >= 95.0, text[-1000:]
    agreement = re.search(r"top-1 agreement ([\d.]+)%", text)
    assert agreement and float(agreement.group(1)) >= 99.0, text[:3000]
