"""Building blocks of the zoo: attention condensers and the LowFormer block.

Every block states which parts are paper facts and which are our choices
(see ../shared/design/models.md). Layout is NCHW float32 throughout; the
zoo only produces ONNX, the converter turns it into int8 NHWC.

Small ops that the counter must see (matrix products, the condenser's
selective-attention multiply) are modules, so forward hooks can count them.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------
# Primitive layers
# --------------------------------------------------------------------------------------------

def make_act(name: str | None) -> nn.Module:
    """'relu', 'relu6', 'hswish', 'gelu', 'sigmoid' or None (identity)."""
    if name is None:
        return nn.Identity()
    return {
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "hswish": nn.Hardswish,
        "gelu": nn.GELU,
        "sigmoid": nn.Sigmoid,
    }[name]()


class ConvNormAct(nn.Module):
    """Conv2d -> optional BatchNorm2d -> optional activation.

    The BatchNorm is folded into the convolution by `fold_batchnorm` before export.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                 bias: bool = False, norm: bool = True, act: str | None = None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class MatMul(nn.Module):
    """`a @ b` as a module, so the MAC counter sees attention's QK^T and AV."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class SelectiveAttention(nn.Module):
    """The full-size product V * A of F(V, A, S); S is applied by the condenser on the condensed map
    (per-channel scaling commutes with nearest upsampling), so only one map-sized MUL remains."""

    def forward(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return v * a


class Residual(nn.Module):
    """x + body(x)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def nearest_upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    # A constant scale factor exports as ONNX Resize(mode=nearest) -> RESIZE_NEAREST_NEIGHBOR.
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")


# --------------------------------------------------------------------------------------------
# Attention condensers
# --------------------------------------------------------------------------------------------

class AttentionCondenser(nn.Module):
    """Attention condenser (TinySpeech, arXiv 2008.04245).

    Fact: four parts, condensation C, embedding E, expansion X, selective attention
    F(V, A, S) with V the input, A the attention values from the embedding, S a learned scale.
    Choices (ours): C = 2x2 max pool stride 2; E = 1x1 conv C->C/4 (at least 8) + ReLU,
    3x3 conv + ReLU, 1x1 conv back to C; X = nearest x2; F = V * sigmoid(A) * S with S per
    channel. The sigmoid and S run before the upsample (same result for nearest, 4x fewer ops).
    No residual. Height and width must be even.
    """

    pool_factor = 2

    def __init__(self, channels: int, reduction: int = 4, min_mid: int = 8):
        super().__init__()
        mid = max(min_mid, channels // reduction)
        self.condense = nn.MaxPool2d(2, 2)
        self.embed = nn.Sequential(
            ConvNormAct(channels, mid, 1, act="relu"),
            ConvNormAct(mid, mid, 3, act="relu"),
            ConvNormAct(mid, channels, 1, bias=True, norm=False),
        )
        self.gate = nn.Sigmoid()
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))   # S, per channel
        self.attend = SelectiveAttention()

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        a = self.gate(self.embed(self.condense(v))) * self.scale
        return self.attend(v, nearest_upsample(a, self.pool_factor))


class VisualAttentionCondenser(AttentionCondenser):
    """Visual attention condenser, VAC (AttendNets, arXiv 2009.14385).

    Fact: VACs extend the attention condenser for better spatial-channel selective attention;
    the exact design was machine generated and is not public.
    Choice (ours): max pool 2 -> 1x1 conv C->max(8, C/4) + ReLU -> depthwise 3x3 + ReLU ->
    1x1 conv back to C -> sigmoid -> nearest x2 -> V * A * S (S per channel).
    BatchNorm after the two inner convs is ours too (folded at export). Height and width even.
    """

    def __init__(self, channels: int, reduction: int = 4, min_mid: int = 8):
        super().__init__(channels, reduction, min_mid)
        mid = max(min_mid, channels // reduction)
        self.embed = nn.Sequential(
            ConvNormAct(channels, mid, 1, act="relu"),
            ConvNormAct(mid, mid, 3, groups=mid, act="relu"),
            ConvNormAct(mid, channels, 1, bias=True, norm=False),
        )


class DoubleCondensingAttentionCondenser(nn.Module):
    """Double-condensing attention condenser, DC-AC (AttendNeXt, arXiv 2208.06980).

    Fact: a faster attention condenser allowing more highly condensed embeddings; the
    per-layer design and where the second condensation sits are not public.
    Choice (ours): max pool 2 -> 1x1 conv C->max(8, C/4) + ReLU -> depthwise 3x3 + ReLU ->
    max pool 2 -> depthwise 3x3 + ReLU -> 1x1 conv back to C -> sigmoid -> nearest x4 ->
    V * A * S (S per channel). The ReLUs and BatchNorms (folded at export) are ours.
    Height and width must divide by 4.
    """

    pool_factor = 4

    def __init__(self, channels: int, reduction: int = 4, min_mid: int = 8):
        super().__init__()
        mid = max(min_mid, channels // reduction)
        self.condense = nn.MaxPool2d(2, 2)
        self.embed1 = nn.Sequential(
            ConvNormAct(channels, mid, 1, act="relu"),
            ConvNormAct(mid, mid, 3, groups=mid, act="relu"),
        )
        self.condense2 = nn.MaxPool2d(2, 2)
        self.embed2 = nn.Sequential(
            ConvNormAct(mid, mid, 3, groups=mid, act="relu"),
            ConvNormAct(mid, channels, 1, bias=True, norm=False),
        )
        self.gate = nn.Sigmoid()
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))   # S, per channel
        self.attend = SelectiveAttention()

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        a = self.embed2(self.condense2(self.embed1(self.condense(v))))
        a = self.gate(a) * self.scale
        return self.attend(v, nearest_upsample(a, self.pool_factor))


def condenser_for(kind: str, channels: int, size: int) -> nn.Module | None:
    """The condenser of `kind` ('dcac', 'vac') that fits a `size` x `size` map, else a fallback.

    Choice (ours): a DC-AC needs size % 4 == 0; where it only divides by 2 we use a VAC
    (single condensation); where it is odd, no condenser at all.
    """
    if kind == "dcac" and size % 4 == 0:
        return DoubleCondensingAttentionCondenser(channels)
    if kind in ("dcac", "vac") and size % 2 == 0 and size >= 2:
        return VisualAttentionCondenser(channels)
    return None


# --------------------------------------------------------------------------------------------
# Convolutional blocks
# --------------------------------------------------------------------------------------------

class InvertedResidual(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand -> depthwise kxk (stride) -> 1x1 project.

    BatchNorm after each conv (folded at export); activation after the first two;
    identity shortcut when stride is 1 and channels match. With expand == 1 the 1x1
    expansion is omitted.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: float = 6, act: str = "relu6",
                 kernel: int = 3):
        super().__init__()
        mid = int(round(cin * expand))
        layers = []
        if mid != cin:
            layers.append(ConvNormAct(cin, mid, 1, act=act))
        layers += [ConvNormAct(mid, mid, kernel, stride, groups=mid, act=act),
                   ConvNormAct(mid, cout, 1)]
        self.body = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.use_residual else y


class FusedMBConv(nn.Module):
    """Fused MBConv (LowFormer, from the official code): 3x3 conv C->tC (+BN, act) -> 1x1 conv (+BN)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: float = 4, act: str = "hswish",
                 spatial_bias: bool = False):
        super().__init__()
        mid = int(round(cin * expand))
        self.spatial = ConvNormAct(cin, mid, 3, stride, bias=spatial_bias, act=act)
        self.point = ConvNormAct(mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point(self.spatial(x))


class MBConv(nn.Module):
    """MBConv as in LowFormer's official code: 1x1 (bias, act, no norm) -> depthwise 3x3 (bias, act,
    no norm) -> 1x1 (no bias, BN)."""

    def __init__(self, cin: int, cout: int, expand: float = 4, act: str = "hswish"):
        super().__init__()
        mid = int(round(cin * expand))
        self.inverted = ConvNormAct(cin, mid, 1, bias=True, norm=False, act=act)
        self.depth = ConvNormAct(mid, mid, 3, groups=mid, bias=True, norm=False, act=act)
        self.point = ConvNormAct(mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point(self.depth(self.inverted(x)))


# --------------------------------------------------------------------------------------------
# LowFormer
# --------------------------------------------------------------------------------------------

def lowformer_heads(channels: int) -> tuple[int, int]:
    """(heads, head_dim) of LowFormer attention (fact, official code): h = max(1, floor(0.5*C/30)),
    d = floor(C/h)/2, so attention runs at half the channels."""
    heads = max(1, int((channels * 0.5) // 30))
    return heads, int((channels // heads) * 0.5)


class LowFormerAttention(nn.Module):
    """LowFormer convolutional attention (fact, from the official code).

    depthwise kxk conv, stride s (k5 s2 in stage 3, k3 s1 in stage 4) + BN -> 1x1 conv C->3*h*d
    (no bias) -> per head softmax(Q K^T / sqrt(d)) V over the reduced tokens -> transposed
    conv h*d -> C (kernel 2s stride s padding s/2; 3x3 padding 1 when s = 1) with bias.
    The map must divide by s.
    """

    def __init__(self, channels: int, stride: int):
        super().__init__()
        kernel = 5 if stride == 2 else 3
        self.heads, self.head_dim = lowformer_heads(channels)
        inner = self.heads * self.head_dim
        self.reduce = ConvNormAct(channels, channels, kernel, stride, groups=channels)
        self.qkv = nn.Conv2d(channels, 3 * inner, 1, bias=False)
        self.qk = MatMul()
        self.av = MatMul()
        if stride == 1:
            self.up = nn.ConvTranspose2d(inner, channels, 3, 1, 1)
        else:
            self.up = nn.ConvTranspose2d(inner, channels, 2 * stride, stride, stride // 2)
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        qkv = self.qkv(self.reduce(x))
        h, w = qkv.shape[-2:]
        # [N, heads, 3d, T] -> [N, heads, T, 3d]; q, k, v split along the last axis (as upstream).
        qkv = qkv.reshape(n, self.heads, 3 * self.head_dim, h * w).transpose(2, 3)
        d = self.head_dim   # slices, not split: ONNX Split becomes tf.SplitV, which int8 TFLite lacks
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        attn = torch.softmax(self.qk(q * self.scale, k.transpose(2, 3)), dim=-1)
        out = self.av(attn, v)                                  # [N, heads, T, d]
        out = out.transpose(2, 3).reshape(n, self.heads * self.head_dim, h, w)
        # onnx2tf leaves this rebuilt map NCHW in front of the ConvTranspose; the converter's
        # onnx2tf_fixes moves it to NHWC (issue 6: stage 3's 4x4 kernel on a 4x4 map broke it).
        return self.up(out)


class LowFormerBlock(nn.Module):
    """LowFormer block (fact, official code): x += Att(Norm(x)); x += MLP(Norm(x)); x += Local(x).

    MLP: 1x1 C->4C, activation, 1x1 back (both with bias). Local: fused MBConv (3x3 C->4C with bias
    + BN + hardswish, 1x1 + BN) if C < 256, else MBConv.
    Published models: Norm = GroupNorm(1, C), MLP activation GELU, fused_below = 256.
    Choice for MCU variants (ours): Norm = BatchNorm (foldable), MLP activation hardswish, and
    `fused_below` = 0 (always MBConv: a 3x3 C->4C fused conv is most of a small model's weights).
    """

    def __init__(self, channels: int, att_stride: int, mcu: bool = False, fused_below: int = 256):
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if mcu else (lambda c: nn.GroupNorm(1, c))
        self.attention = Residual(nn.Sequential(norm(channels), LowFormerAttention(channels, att_stride)))
        self.mlp = Residual(nn.Sequential(
            norm(channels),
            nn.Conv2d(channels, 4 * channels, 1),
            make_act("hswish" if mcu else "gelu"),
            nn.Conv2d(4 * channels, channels, 1),
        ))
        local = FusedMBConv(channels, channels, 1, 4, spatial_bias=True) if channels < fused_below \
            else MBConv(channels, channels, 4)
        self.local = Residual(local)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local(self.mlp(self.attention(x)))


# --------------------------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------------------------

# The published LowFormers normalise with GroupNorm(1, C) and LayerNorm. torch exports GroupNorm(1, C) as
# Reshape -> InstanceNormalization -> Reshape -> Mul -> Add, which onnx2tf lowers wrongly (it multiplies
# the NHWC map by the [C, 1, 1] weight untransposed), and LayerNorm (opset 14) with Pow and a Div by a
# tensor, which have no int8 TFLite kernels. At export, `plain_export_ops` swaps both for the subclasses
# below: same parameters (state_dict keys and shapes), same function, written in ops that the converter
# maps to int8 MEAN, SUB, MUL, ADD and RSQRT. (The exact GELU needs nothing here: the converter rewrites
# torch's export of it into the form that becomes the TFLite GELU builtin, see convert/onnx_rewrites.)

def _normalize(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over `dims`, var biased (as torch's norms), in plain ONNX ops:
    ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Div(1, .) (-> TFLite RSQRT), Mul."""
    mean = x.mean(dim=dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dim=dims, keepdim=True)
    return centred * torch.rsqrt(var + eps)


class PlainGroupNorm(nn.GroupNorm):
    """nn.GroupNorm with one group (LayerNorm over C, H, W of each sample, per-channel affine), in plain
    ops for export: no InstanceNormalization, the affine terms as [1, C, 1, 1] constants."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_groups != 1:
            raise ValueError(f"PlainGroupNorm supports num_groups=1, not {self.num_groups}")
        y = _normalize(x, tuple(range(1, x.dim())), self.eps)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


class PlainLayerNorm(nn.LayerNorm):
    """nn.LayerNorm in plain ops for export (no Pow, no Div by a tensor: RSQRT then MUL)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(x.dim() - len(self.normalized_shape), x.dim()))
        y = _normalize(x, dims, self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


def plain_export_ops(model: nn.Module) -> nn.Module:
    """Swap (in place) every GroupNorm(1, C) and LayerNorm for its Plain* form, sharing the parameters, so
    that the ONNX export converts to full int8 (see above). Returns `model`."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            plain = _plain_form(child)
            if plain is not None:
                setattr(parent, name, plain)
    return model


def _plain_form(module: nn.Module) -> nn.Module | None:
    if type(module) is nn.GroupNorm and module.num_groups == 1:
        plain = PlainGroupNorm(1, module.num_channels, module.eps, module.affine)
    elif type(module) is nn.LayerNorm:
        plain = PlainLayerNorm(module.normalized_shape, module.eps, module.elementwise_affine,
                               bias=module.bias is not None)
    else:
        return None
    for pname, param in module.named_parameters(recurse=False):
        setattr(plain, pname, param)       # shared, as in the source module
    return plain.train(module.training)


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that follows a conv inside a ConvNormAct into that conv (in place).

    A BatchNorm directly before an unpadded conv in a Sequential (LowFormer-micro's MLP pre-norm)
    is folded into that conv; any other (the attention pre-norm, before a padded depthwise conv)
    stays and the converter lowers it to MUL + ADD. The model must be in eval mode.
    """
    for module in model.modules():
        if isinstance(module, ConvNormAct) and isinstance(module.norm, nn.BatchNorm2d):
            conv, bn = module.conv, module.norm
            std = torch.sqrt(bn.running_var + bn.eps)
            gamma = bn.weight / std
            conv.weight.mul_(gamma.reshape(-1, 1, 1, 1))
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            new_bias = (bias - bn.running_mean) * gamma + bn.bias
            conv.bias = nn.Parameter(new_bias)
            module.norm = nn.Identity()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            bn, conv = seq[i], seq[i + 1]
            if isinstance(bn, nn.BatchNorm2d) and isinstance(conv, nn.Conv2d) \
                    and conv.padding == (0, 0) and conv.groups == 1:
                # BN before an unpadded conv: conv(a*x + b) = (W*a) x + (W b + bias).
                a = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                b = bn.bias - bn.running_mean * a
                bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
                conv.bias = nn.Parameter(bias + conv.weight.sum(dim=(2, 3)) @ b)
                conv.weight.mul_(a.reshape(1, -1, 1, 1))
                seq[i] = nn.Identity()
    return model
