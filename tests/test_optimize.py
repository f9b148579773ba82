"""--optimize: which convolutions get int16 weights (codegen/optimize.py), and that every mix stays exact."""
import pytest

from conftest import mlperf_model
from op_harness import assert_bit_exact, int8_tflite


def _plan(tflite: bytes, optimize: str, kernels: str = "auto"):
    from tinyattend.boards import load_board
    from tinyattend.codegen.lowering import Target
    from tinyattend.codegen.optimize import plan_widening
    from tinyattend.ir.tflite_reader import read_tflite
    graph = read_tflite(tflite, "m")
    return graph, plan_widening(graph, Target(board=load_board("host"), kernels=kernels, optimize=optimize))


def test_balanced_widens_the_most_macs_per_byte_within_budget():
    from tinyattend.codegen.ops._winograd import weight_bytes
    from tinyattend.codegen.optimize import BALANCED_WIDENING_BYTES
    tflite = mlperf_model("pretrainedResnet_quant").read_bytes()
    graph, speed = _plan(tflite, "speed")
    convs = {op.index for op in graph.ops if op.type == "CONV_2D"}
    # every ResNet-8 conv runs a fast kernel: the 3x3 stride-1 ones Winograd, the rest widened
    assert speed.wide_ops | speed.winograd_ops == convs and not speed.wide_ops & speed.winograd_ops
    assert speed.winograd_ops == {op.index for op in graph.ops if op.type == "CONV_2D"
                                  and graph.tensor(op.inputs[1]).shape[1:3] == (3, 3)
                                  and op.options["stride_h"] == 1 and graph.tensor(op.inputs[0]).shape[3] % 8 == 0}
    _, balanced = _plan(tflite, "balanced")
    assert balanced.winograd_ops and balanced.winograd_ops < speed.winograd_ops     # the 64-channel one is too big
    extra = sum(weight_bytes(graph.ops[i], graph) - graph.tensor(graph.ops[i].inputs[1]).nbytes
                for i in balanced.winograd_ops)
    spent = extra + sum(graph.tensor(graph.ops[i].inputs[1]).nbytes for i in balanced.wide_ops)
    assert 0 < spent <= BALANCED_WIDENING_BYTES and not balanced.wide_ops & balanced.winograd_ops

    def macs_per_byte(i):
        w, y = graph.tensor(graph.ops[i].inputs[1]), graph.tensor(graph.ops[i].outputs[0])
        return y.num_elements * w.shape[1] * w.shape[2] * w.shape[3] / w.nbytes
    # Greedy: any layer left out that would still fit has fewer MACs per byte than every layer widened.
    for i in convs - balanced.wide_ops - balanced.winograd_ops:
        if spent + graph.tensor(graph.ops[i].inputs[1]).nbytes <= BALANCED_WIDENING_BYTES:
            assert macs_per_byte(i) <= min(macs_per_byte(j) for j in balanced.wide_ops)
    size = _plan(tflite, "size")[1]
    assert size.wide_ops == size.winograd_ops == frozenset()
    portable = _plan(tflite, "speed", kernels="portable")[1]
    assert portable.wide_ops == portable.winograd_ops == frozenset()


def test_mixed_widths_are_bit_exact(tmp_path):
    """Under balanced a small model widens some convolutions and not others: both forms in one model."""
    def build(tf):
        L = tf.keras.layers
        return tf.keras.Sequential([tf.keras.Input((12, 12, 4), batch_size=1),
                                    L.Conv2D(16, 3, padding="same", activation="relu"),
                                    L.Conv2D(200, 1, activation="relu"),           # 3.2 KB: many MACs per byte
                                    L.Conv2D(256, 3, strides=4, padding="same"),   # 460 KB: too big for the budget
                                    L.GlobalAveragePooling2D(), L.Dense(4)])
    tflite = int8_tflite(build, [(1, 12, 12, 4)])
    report = assert_bit_exact(tflite, tmp_path, kernels="auto", optimize="balanced", samples=20)
    convs = [i for i, op in enumerate(report["ops"]) if op == "CONV_2D"]
    wide = set(report["wide_weight_ops"])
    assert wide and wide != set(convs), (wide, convs)
    model_c = (tmp_path / "model" / "model.c").read_text()
    # the unwidened 256-channel conv takes the split int8 form
    assert ".weight_form = 1," in model_c and ".weight_form = 2," in model_c


@pytest.fixture
def cmsis_nn_tree(tmp_path, monkeypatch):
    """CMSIS_NN_PATH naming a tree with the library's layout (generation only reads that it is one)."""
    root = tmp_path / "CMSIS-NN"
    (root / "Include").mkdir(parents=True)
    (root / "Include" / "arm_nnfunctions.h").write_text("/* stand-in: generation checks the layout only */\n")
    (root / "Source").mkdir()
    monkeypatch.setenv("CMSIS_NN_PATH", str(root))
    return root


def test_auto_takes_helium_on_mve_cores(cmsis_nn_tree):
    """On a core with MVE auto takes our Helium kernels, CMSIS-NN at hand or not; elsewhere, for
    --optimize size and for an explicit kernel set it changes nothing."""
    from tinyattend.boards import load_board
    from tinyattend.pipeline import resolve_kernels
    m55, m7 = load_board("cortex-m55"), load_board("cortex-m7")
    assert resolve_kernels("auto", m55, "balanced") == ("helium", None)
    assert resolve_kernels("auto", m55, "speed") == ("helium", None)
    assert resolve_kernels("auto", m55, "size") == ("auto", None)
    assert resolve_kernels("fast", m55, "balanced") == ("fast", None)
    assert resolve_kernels("cmsis-nn", m55, "balanced") == ("cmsis-nn", None)
    assert resolve_kernels("auto", m7, "balanced") == ("auto", None)


def test_auto_on_helium_needs_no_cmsis_nn(monkeypatch, tmp_path):
    from tinyattend.boards import load_board
    from tinyattend.pipeline import resolve_kernels, write_project
    monkeypatch.delenv("CMSIS_NN_PATH", raising=False)
    assert resolve_kernels("auto", load_board("cortex-m55"), "balanced") == ("helium", None)

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((6, 6, 4), batch_size=1), tf.keras.layers.Conv2D(8, 3)])
    report = write_project(tmp_path / "out", int8_tflite(build, [(1, 6, 6, 4)]), load_board("cortex-m55"),
                           kernels="auto", optimize="balanced", model_name="m", measure_tflm_arena=False)
    assert report["kernels_requested"] == "auto" and report["kernels"] == "helium"
    assert not any("CMSIS_NN_PATH" in w for w in report.get("warnings", []))
    assert "ta_conv2d_s8_mve(" in (tmp_path / "out" / "model" / "model.c").read_text()


def test_cmsis_nn_stays_selectable_on_helium(cmsis_nn_tree, tmp_path):
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((6, 6, 4), batch_size=1), tf.keras.layers.Conv2D(8, 3)])
    report = write_project(tmp_path / "out", int8_tflite(build, [(1, 6, 6, 4)]), load_board("cortex-m55"),
                           kernels="cmsis-nn", optimize="balanced", model_name="m", measure_tflm_arena=False)
    assert report["kernels"] == "cmsis-nn"
    assert "arm_convolve" in (tmp_path / "out" / "model" / "model.c").read_text()
