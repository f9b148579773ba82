"""Which reference a generated model is checked against, op by op.

TFLM is the oracle for every kernel it has. A few int8 ops that the TFLite converter emits have no
kernel in the TFLM we test against (its op resolver refuses GELU and RELU_0_TO_1): their op modules
list them in `LITERT_ONLY`, and a model that contains one is checked as a whole against LiteRT's
reference kernels (the ai_edge_litert interpreter with the BUILTIN_REF op resolver), whose int8
kernels TFLM's are ports of.
"""
from __future__ import annotations

from functools import lru_cache

TFLM = "tflm"
LITERT_REF = "litert-builtin-ref"
ORACLE_NAMES = {TFLM: "TFLM interpreter", LITERT_REF: "LiteRT reference kernels (BUILTIN_REF)"}


@lru_cache(maxsize=1)
def litert_only_op_types() -> frozenset[str]:
    """TFLite op types whose kernels are checked against LiteRT's reference kernels, not TFLM."""
    from .ops import registry
    return frozenset(op for module in set(registry().values()) for op in getattr(module, "LITERT_ONLY", ()))


def model_oracle(op_types) -> str:
    """TFLM, or LITERT_REF when one of `op_types` has no TFLM kernel."""
    return LITERT_REF if litert_only_op_types() & set(op_types) else TFLM


def oracle_report(op_types) -> dict:
    """report.json's `oracle`: the model's reference and, per op type present, its kernel's own."""
    types = sorted(set(op_types))
    return {"model": model_oracle(types),
            "ops": {op: (LITERT_REF if op in litert_only_op_types() else TFLM) for op in types}}
