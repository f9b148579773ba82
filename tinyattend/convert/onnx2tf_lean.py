"""onnx2tf's direct writer without two costs whose results tinyattend throws away (onnx2tf 2.6.x).

Pass snapshots
--------------
Before each transactional graph pass, onnx2tf deep-copies the whole model IR, so that a pass whose result
breaks an invariant can be rolled back before PassInvariantError is raised: 12 copies of about 300k
Python objects on attendnext-micro, about 0.5 s of CPU. Nothing in onnx2tf catches that error to go on
with the rolled-back graph: the export ends (onnx2tf's own retry starts again from the ONNX graph, and
tinyattend then takes the TensorFlow path). So the copy is never read in our use; without it the same
error is raised and the same model is written (the test compares the bytes).

Progress bars
-------------
Each stage of the direct writer draws a tqdm bar whose spinner thread redraws it ten times a second;
tinyattend silences that output anyway, and the thread takes the GIL from the writer.

Applied only while our converter runs onnx2tf. Each patch is made only where the installed onnx2tf has the
attribute it replaces: another onnx2tf runs unpatched, slower, with the same result.
"""
from __future__ import annotations

import contextlib
import functools


def _no_snapshot(state):
    return None         # the pass manager then skips the rollback and still raises PassInvariantError


def _without_progress(export):
    @functools.wraps(export)
    def quiet_export(**kwargs):
        kwargs["flatbuffer_direct_show_progress"] = False
        return export(**kwargs)
    return quiet_export


def _patches() -> list[tuple[object, str, object]]:
    patches = []
    with contextlib.suppress(ImportError):
        from onnx2tf.tflite_builder.core.model_ir_pass_state import ModelIRPassState
        if callable(getattr(ModelIRPassState, "snapshot", None)):
            patches.append((ModelIRPassState, "snapshot", _no_snapshot))
    with contextlib.suppress(ImportError):
        import onnx2tf.tflite_builder as builder
        export = getattr(builder, "export_tflite_model_flatbuffer_direct", None)
        if callable(export):
            patches.append((builder, "export_tflite_model_flatbuffer_direct", _without_progress(export)))
    return patches


@contextlib.contextmanager
def lean_direct_writer():
    """Within the block, onnx2tf's direct writer keeps no pass snapshots and draws no progress bars."""
    patches = _patches()
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield len(patches)
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
