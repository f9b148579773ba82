"""Run stage: run a built model on a board (host, QEMU, or a real board over serial) and
collect its output, timings and memory through one line protocol (protocol.py)."""
