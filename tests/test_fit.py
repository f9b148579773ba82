"""A model too big for the board is refused at convert time, with the numbers."""
import pytest

from conftest import mlperf_model
from tinyattend.boards import load_board
from tinyattend.errors import DoesNotFitError
from tinyattend.pipeline import write_project

PROFILE = """name: tiny-board
cpu: cortex-m4
isa: [dsp]
memory:
  flash: {{origin: 0x08000000, length: {flash}}}
  ram: {{origin: 0x20000000, length: {ram}}}
cflags: [-mcpu=cortex-m4, -mthumb]
run: {{kind: pyocd, target: stm32l4r5zitx}}
"""


@pytest.mark.parametrize("flash,ram,what", [("64K", "256K", "flash"), ("1M", "2K", "RAM")])
def test_model_too_big_is_refused_with_numbers(tmp_path, flash, ram, what):
    profile = tmp_path / "tiny-board.yaml"
    profile.write_text(PROFILE.format(flash=flash, ram=ram))
    stage = tmp_path / "stage"
    stage.mkdir()
    with pytest.raises(DoesNotFitError) as info:
        write_project(stage, mlperf_model("ad01_int8").read_bytes(), load_board(str(profile)), kernels="auto",
                      optimize="balanced", model_name="ad01", measure_tflm_arena=False)
    message = str(info.value)
    assert what in message and any(ch.isdigit() for ch in message), message
