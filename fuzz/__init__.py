"""tinyattend's fuzz harness (issue 19): mutated .tflite and ONNX models and hand-made hostile cases,
each run through the real CLI in a child process and classified (see `oracle.OUTCOMES`).

`python -m fuzz.campaign` is `make fuzz`; tests/test_fuzz.py runs a bounded, seeded slice.
"""
