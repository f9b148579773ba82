"""`tinyattend verify --sanitize`: the generated C runs under AddressSanitizer and UBSan, and a sanitizer
report is a clear error naming it (issue 19: the fuzzer builds every accepted model this way)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tinyattend import api
from tinyattend.cli import main
from tinyattend.errors import OptionError
from test_hostile import serialise, tiny_model

OVERFLOW = """
#include <stdlib.h>
/* Appended by the test: a heap overflow before main(), which only a sanitizer notices. */
__attribute__((constructor)) static void test_heap_overflow(void)
{
    volatile size_t past_the_end = 4;    /* volatile: the compiler cannot see the overflow */
    volatile char *p = malloc(4);
    p[past_the_end] = 1;
    free((void *)p);
}
"""


@pytest.fixture
def converted(tmp_path) -> Path:
    model = tmp_path / "tiny.tflite"
    model.write_bytes(serialise(tiny_model()))
    assert main(["convert", str(model), "--board", "host", "-o", str(tmp_path / "out")]) == 0
    return tmp_path / "out"


def test_sanitized_verify_passes_and_says_so(converted, capsys):
    assert main(["verify", str(converted), "--samples", "3", "--sanitize"]) == 0
    text = capsys.readouterr().out
    assert "AddressSanitizer + UBSan" in text and "verify: PASS" in text
    assert (converted / "host" / "model_host_san").is_file()


def test_a_sanitizer_report_is_a_clear_error(converted, capsys):
    with open(converted / "model" / "model.c", "a") as source:
        source.write(OVERFLOW)
    assert main(["verify", str(converted), "--samples", "3"]) == 0          # unnoticed without the sanitizers
    capsys.readouterr()
    assert main(["verify", str(converted), "--samples", "3", "--sanitize"]) != 0
    err = capsys.readouterr().err
    assert "the generated C failed a sanitizer check" in err
    assert "model.c:" in err and ("runtime error" in err or "heap-buffer-overflow" in err)   # UBSan or ASan
    assert "Traceback" not in err


def test_sanitize_is_for_the_host_build(converted):
    with pytest.raises(OptionError, match="sanitizers run on the host build only"):
        api.verify(converted, 3, board="cortex-m7", sanitize=True)
