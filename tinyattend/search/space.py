"""The search space: what one trial may choose, and the architecture it chose.

A candidate network (the zoo's macro architecture, `zoo/attendnets.CondenserNet`, opened up per stage):

    [average pool by `downsample`]      the input resolution: 1 keeps it, 2 halves it (inside the model, so
                                        the deployed model takes the data's own size and the pool is counted)
    stem: 3x3 conv, `stem` channels, stride `stem_stride`
    `stages` stages, stage i:           `depth` inverted-residual blocks (MobileNetV2) of `width` channels,
                                        `expand` ratio, `kernel` x `kernel` depthwise; the first block has
                                        stride `strides[i]`; an attention condenser of kind `condenser`
                                        (none, ac, vac, dcac) in front of the stage's first block, or of
                                        every block with `condense_all`, whose embedding condenses the
                                        channels by `reduction` (C -> max(8, C / reduction))
    head: 1x1 conv to `head` channels, global average pool, fully connected to the classes

A condenser needs its map to divide by its spatial condensation (ac and vac: 2, dcac: 4); where it does
not, a dcac falls back to a vac, and a map that does not divide by 2 gets none. `Architecture.describe`
says what was built, not what was asked.

A user's own space is a YAML file with any of DEFAULT_SPACE's keys (the rest keep their defaults):

    downsample: [1, 2]
    stem: [8, 16]
    stages: [2, 3]
    widths: [[8, 16], [16, 24], [24, 32]]     # choices per stage (as many lists as the most stages)
    depth: [1, 2]
    condenser: [none, dcac]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..errors import OptionError

CONDENSERS = ("none", "ac", "vac", "dcac")
ACTIVATIONS = ("relu", "relu6", "hswish")


@dataclass(frozen=True)
class StageChoice:
    width: int
    depth: int
    expand: float
    kernel: int
    stride: int
    condenser: str          # none, ac, vac, dcac
    reduction: int          # the condenser's embedding: C -> max(8, C / reduction)
    condense_all: bool      # a condenser in front of every block of the stage, else the first only


@dataclass(frozen=True)
class Architecture:
    downsample: int
    stem: int
    stem_stride: int
    stages: tuple[StageChoice, ...]
    head: int
    act: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Architecture":
        stages = tuple(StageChoice(**s) for s in data["stages"])
        return cls(**{**data, "stages": stages})

    def describe(self, condensers: tuple[str, ...] | None = None) -> str:
        """One line: `in/2 stem8/2 | 16x2 e3 k5 /2 dcac/4 | ... | head64`. `condensers`: the kinds that were
        built, per stage (`zoo.searchnet.built_condensers`), when they differ from the ones asked for."""
        parts = ([f"in/{self.downsample}"] if self.downsample > 1 else []) + [f"stem{self.stem}/{self.stem_stride}"]
        for i, s in enumerate(self.stages):
            kind = condensers[i] if condensers else s.condenser
            text = f"{s.width}x{s.depth} e{s.expand:g} k{s.kernel}" + (f" /{s.stride}" if s.stride > 1 else "")
            if kind != "none":
                text += f" {kind}/{s.reduction}" + ("*" if s.condense_all and s.depth > 1 else "")
            parts.append(text)
        parts.append(f"head{self.head}" + (f" {self.act}" if self.act != "relu6" else ""))
        return " | ".join(parts)


@dataclass(frozen=True)
class SearchSpace:
    """The choices of each knob (see the module docstring). Stage i takes its width from `widths[i]` and
    its first stride from `strides[i]`; every other per-stage knob has one list for all stages."""
    downsample: tuple[int, ...] = (1, 2)
    stem: tuple[int, ...] = (8, 12, 16, 24)
    stem_stride: tuple[int, ...] = (1, 2)
    stages: tuple[int, ...] = (2, 3, 4)
    widths: tuple[tuple[int, ...], ...] = ((8, 12, 16), (12, 16, 24, 32), (16, 24, 32, 48), (24, 32, 48, 64))
    strides: tuple[int, ...] = (1, 2, 2, 2)
    depth: tuple[int, ...] = (1, 2, 3)
    expand: tuple[float, ...] = (1, 2, 3, 4, 6)
    kernel: tuple[int, ...] = (3, 5)
    condenser: tuple[str, ...] = CONDENSERS
    reduction: tuple[int, ...] = (2, 4, 8)
    condense_all: tuple[bool, ...] = (False, True)
    head: tuple[int, ...] = (32, 64, 128)
    act: tuple[str, ...] = ("relu6",)

    @property
    def max_stages(self) -> int:
        return max(self.stages)

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def sample(self, trial) -> Architecture:
        """The architecture an Optuna trial picks. Every stage's knobs are sampled whether or not the trial
        uses that many stages: a fixed set of parameters lets multivariate TPE model them jointly."""
        pick = trial.suggest_categorical
        n_stages = pick("stages", list(self.stages))
        stages = []
        for i in range(self.max_stages):
            stage = StageChoice(
                width=pick(f"s{i}_width", list(self.widths[i])), depth=pick(f"s{i}_depth", list(self.depth)),
                expand=pick(f"s{i}_expand", list(self.expand)), kernel=pick(f"s{i}_kernel", list(self.kernel)),
                stride=self.strides[i], condenser=pick(f"s{i}_condenser", list(self.condenser)),
                reduction=pick(f"s{i}_reduction", list(self.reduction)),
                condense_all=pick(f"s{i}_condense_all", list(self.condense_all)))
            stages.append(stage)
        return Architecture(downsample=pick("downsample", list(self.downsample)), stem=pick("stem", list(self.stem)),
                            stem_stride=pick("stem_stride", list(self.stem_stride)),
                            stages=tuple(stages[:n_stages]), head=pick("head", list(self.head)),
                            act=pick("act", list(self.act)))

    def smallest(self) -> Architecture:
        """The cheapest candidate of the space (fewest stages, narrowest, shallowest, no condenser, most
        downsampling): if it cannot meet the limits, no candidate can."""
        stages = tuple(StageChoice(width=min(self.widths[i]), depth=min(self.depth), expand=min(self.expand),
                                   kernel=min(self.kernel), stride=self.strides[i],
                                   condenser="none" if "none" in self.condenser else self.condenser[0],
                                   reduction=max(self.reduction), condense_all=False)
                       for i in range(min(self.stages)))
        return Architecture(downsample=max(self.downsample), stem=min(self.stem), stem_stride=max(self.stem_stride),
                            stages=stages, head=min(self.head), act=self.act[0])


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def load_space(path: str | Path | None) -> SearchSpace:
    """DEFAULT_SPACE, or it with the keys of a YAML file replaced (checked: an OptionError names the key)."""
    if path is None:
        return DEFAULT_SPACE
    import yaml
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise OptionError(f"cannot read the search space {path}: {err.strerror or err}",
                          "pass --space a readable YAML file") from None
    except yaml.YAMLError as err:
        raise OptionError(f"{path} is not valid YAML: {err}", "fix the YAML syntax at the line named") from None
    if data is None:
        return DEFAULT_SPACE
    if not isinstance(data, dict):
        raise OptionError(f"{path}: a search space is a mapping of knob: [choices], not a {type(data).__name__}",
                          _space_fix())
    return space_from_dict(data, str(path))


def space_from_dict(data: dict[str, Any], where: str = "search space") -> SearchSpace:
    known = {f.name for f in fields(SearchSpace)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise OptionError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}", _space_fix())
    values = {}
    for key, raw in data.items():
        values[key] = _check_knob(key, raw, where)
    space = replace(DEFAULT_SPACE, **values)
    if len(space.widths) < space.max_stages or len(space.strides) < space.max_stages:
        raise OptionError(f"{where}: up to {space.max_stages} stages, but widths has {len(space.widths)} lists and "
                          f"strides {len(space.strides)} values", "give widths and strides one entry per stage")
    return space


def _check_knob(key: str, raw, where: str):
    if key == "widths":
        if not isinstance(raw, list) or not raw:
            raise OptionError(f"{where}: widths must be a list of lists (choices per stage)",
                              "e.g. widths: [[8, 16], [16, 32]]")
        return tuple(_choices(f"widths[{i}]", row, where, int) for i, row in enumerate(raw))
    if key == "strides":
        values = _choices(key, raw, where, int, unique=False)
        if any(v not in (1, 2) for v in values):
            raise OptionError(f"{where}: strides must be 1 or 2, got {list(values)}", "e.g. strides: [1, 2, 2, 2]")
        return values
    kind = {"condenser": str, "act": str, "condense_all": bool, "expand": float}.get(key, int)
    values = _choices(key, raw, where, kind)
    allowed = {"condenser": CONDENSERS, "act": ACTIVATIONS, "kernel": (1, 3, 5, 7), "downsample": (1, 2, 4),
               "stem_stride": (1, 2)}.get(key)
    if allowed and any(v not in allowed for v in values):
        raise OptionError(f"{where}: {key} choices must be among {list(allowed)}, got {list(values)}",
                          f"use {key}: a list drawn from {list(allowed)}")
    return values


def _choices(key: str, raw, where: str, kind, unique: bool = True) -> tuple:
    if not isinstance(raw, list) or not raw:
        raise OptionError(f"{where}: {key} must be a non-empty list of choices, got {raw!r}", f"e.g. {key}: [ ... ]")
    out = []
    for value in raw:
        ok = isinstance(value, bool) if kind is bool else (
            isinstance(value, kind) or (kind is float and isinstance(value, int))) and not isinstance(value, bool)
        if not ok or (kind in (int, float) and value <= 0):
            raise OptionError(f"{where}: {key} has {value!r}; its choices are positive {kind.__name__}s"
                              if kind is not bool else f"{where}: {key} has {value!r}; its choices are true/false",
                              f"fix {key} in the search space")
        out.append(kind(value))
    if unique and len(set(out)) != len(out):
        raise OptionError(f"{where}: {key} repeats a choice: {raw}", f"list each choice of {key} once")
    return tuple(out)


def _space_fix() -> str:
    return "keys: " + ", ".join(f.name for f in fields(SearchSpace)) + " (see `tinyattend search --help`)"


DEFAULT_SPACE = SearchSpace()
