"""`tinyattend zoo list` and `tinyattend zoo export NAME -o model.onnx [--weights FILE]`."""
from __future__ import annotations

from dataclasses import dataclass

from .registry import ENTRIES, ZooEntry, get_entry, require_torch


@dataclass(frozen=True)
class ZooRow:
    name: str
    input_size: int
    params: int
    macs: int
    int8_weight_bytes: int
    peak_activation_bytes: int
    reconstruction: str
    published: tuple[float, float] | None


def int8_weight_bytes(model) -> int:
    """Bytes of weights after BatchNorm folding at int8: 1 byte per weight, 4 per bias (int32)."""
    from .blocks import fold_batchnorm

    fold_batchnorm(model.eval())
    return sum(p.numel() * (4 if name.endswith("bias") else 1) for name, p in model.named_parameters())


def describe(entry: ZooEntry) -> ZooRow:
    """Count one zoo model at its native input size (on the meta device: no compute)."""
    torch = require_torch()
    from .counter import count_model

    with torch.device("meta"):
        model = entry.build_for(entry.input_size)
    count = count_model(model, (entry.input_size, entry.input_size))
    return ZooRow(entry.name, entry.input_size, count.params, count.macs, int8_weight_bytes(model),
                  count.peak_activation_elems, entry.reconstruction, entry.published)


def _si(value: float) -> str:
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}K"


def format_table(rows: list[ZooRow]) -> str:
    header = ("name", "input", "params", "MACs", "int8 weights", "peak act. (int8)", "published", "reconstruction")
    lines = [header]
    for r in rows:
        pub = f"{_si(r.published[0])} / {_si(r.published[1])}" if r.published else "-"
        lines.append((r.name, f"{r.input_size}x{r.input_size}x3", _si(r.params), _si(r.macs),
                      f"{r.int8_weight_bytes / 1024:.0f} KB", f"{r.peak_activation_bytes / 1024:.0f} KB",
                      pub, r.reconstruction))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for line in lines:
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1])
    return "\n".join(out)


def zoo_command(args) -> int:
    if args.zoo_verb == "list":
        require_torch()
        print(format_table([describe(e) for e in ENTRIES]))
        print("\npeak act. = largest (inputs + output) of one op at int8; MACs count conv, linear and "
              "attention matmuls (QK^T, AV).")
        return 0
    if args.zoo_verb == "export":
        from .export import export_zoo_model

        entry = get_entry(args.name)
        size = getattr(args, "input_size", None) or entry.input_size
        out = export_zoo_model(entry.name, args.out, getattr(args, "weights", None), input_size=size)
        print(f"wrote {out} ({entry.name}, input [1,3,{size},{size}], opset 14, BN folded)")
        return 0
    raise AssertionError(args.zoo_verb)
