"""The input sections a GNU ld map says the link kept: how make bench and the TFLM baseline size runtime code."""
from __future__ import annotations

from collections.abc import Iterator


def kept_sections(map_text: str) -> Iterator[tuple[str, int, str]] | None:
    """(section name, size in bytes, object) for every input section in the map's memory map, or None when
    the text is not a GNU ld map. A long section name stands alone on its line; its address, size and object
    follow on the next."""
    start = map_text.find("Linker script and memory map")
    if start < 0:
        return None
    return _sections(map_text[start:])


def _sections(text: str) -> Iterator[tuple[str, int, str]]:
    section = None
    for line in text.splitlines():
        parts = line.split()
        if line.startswith(" .") and len(parts) == 1:
            section = parts[0]
            continue
        if line.startswith(" .") and len(parts) >= 4 and parts[1].startswith("0x") and parts[2].startswith("0x"):
            yield parts[0], int(parts[2], 16), parts[3]
        elif section and len(parts) >= 3 and parts[0].startswith("0x") and parts[1].startswith("0x"):
            yield section, int(parts[1], 16), parts[2]
        section = None
