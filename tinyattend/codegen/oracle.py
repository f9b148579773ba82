"""Which reference a generated model is checked against, op by op.

TFLM is the oracle for every kernel it has. A few int8 ops that the TFLite converter emits have no
kernel in the TFLM we test against (its op resolver refuses GELU and RELU_0_TO_1): their op modules
list them in `LITERT_ONLY`, and their oracle is LiteRT's reference kernel (the ai_edge_litert
interpreter with the BUILTIN_REF op resolver). A model holding one is checked against TFLM running a
copy in which each such op is LiteRT's kernel output as a lookup table (tinyattend/oracle_model.py),
so every other op keeps TFLM as its oracle.
"""
from __future__ import annotations

from functools import lru_cache

TFLM = "tflm"
LITERT_REF = "litert-builtin-ref"
TFLM_WITH_LITERT_TABLES = "tflm+litert-builtin-ref-tables"
ORACLE_NAMES = {TFLM: "TFLM interpreter", LITERT_REF: "LiteRT reference kernels (BUILTIN_REF)",
                TFLM_WITH_LITERT_TABLES: "TFLM interpreter, with the ops TFLM lacks as LiteRT BUILTIN_REF tables"}


@lru_cache(maxsize=1)
def litert_only_op_types() -> frozenset[str]:
    """TFLite op types whose kernels are checked against LiteRT's reference kernels, not TFLM."""
    from .ops import registry
    return frozenset(op for module in set(registry().values()) for op in getattr(module, "LITERT_ONLY", ()))


def model_oracle(op_types) -> str:
    """TFLM, or TFLM_WITH_LITERT_TABLES when one of `op_types` has no TFLM kernel."""
    return TFLM_WITH_LITERT_TABLES if litert_only_op_types() & set(op_types) else TFLM


def oracle_report(op_types) -> dict:
    """report.json's `oracle`: the model's reference and, per op type present, its kernel's own."""
    types = sorted(set(op_types))
    return {"model": model_oracle(types),
            "ops": {op: (LITERT_REF if op in litert_only_op_types() else TFLM) for op in types}}
