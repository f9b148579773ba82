"""Making untrusted model text safe for C source and file names."""
from __future__ import annotations

import re

_COMMENT_SAFE = re.compile(r"[^A-Za-z0-9 _.,:;/()\[\]+=#@-]")


def c_comment_text(text: str, limit: int = 80) -> str:
    """Text that can sit inside a /* */ comment: no '*', no newlines, no control characters,
    and no trigraphs (C99 reads '??/' as a backslash): runs of '?' collapse to one."""
    clean = _COMMENT_SAFE.sub("?", str(text))
    return re.sub(r"\?{2,}", "?", clean)[:limit]


class ConstantOverflow(ValueError):
    """A constant of the generated C does not fit its C type: the model's numbers are out of range.
    codegen.generate turns it into an UnsupportedOpError naming the op."""


def c_int(value: int) -> str:
    """A C literal for a 32-bit value; INT32_MIN cannot be written as a single negative literal."""
    value = int(value)
    if value == -(1 << 31):
        return "(-2147483647 - 1)"
    if not -(1 << 31) <= value < (1 << 32):
        raise ConstantOverflow(f"{value} does not fit 32 bits")
    return str(value)
