# Part of the bbcu_export package (tools/bbcu_export); tools/bbcu_torch.py is this module under its
# old name.  Needs PyTorch >= 1.13 and numpy.
"""PyTorch reference modules for BBCU networks, plus the architecture registry.

The modules reproduce the inference forward pass and the ``state_dict`` keys of
the authors' public training code (github.com/Zj-BinXia/BBCU,
``quant_convs_bbcu.py`` and ``BBCU-denoiseAndblocking/models/network_dncnn_bin.py``):

* ``BinaryActivation``  Sign with the straight-through form
  ``sign(x).detach() - s(x).detach() + s(x)``; the forward value is
  ``torch.sign(x)`` (up to one float rounding step), so ``sign(0) = 0``.
* ``HardBinaryConv``    ``alpha[o] = mean|W[o]|`` over Cin*kh*kw,
  ``Wb = alpha * sign(W)``, zero-padded conv2d, optional bias.
* ``LearnableBias``     ``x + b`` with ``b`` of shape [1, C, 1, 1].
* ``RPReLU``            ``pr_bias1(pr_prelu(pr_bias0(x)))``.
* ``BinaryConv2d``      BBCU-B unit (paper variant V4): ``RPReLU(binconv(sign(x + move0))) + x``.
* ``BinaryUpConv2d``    BBCU-U unit: ``PixelShuffle_r(RPReLU(binconv_{C->C*r*r}(sign(x + move0))))
                        + UpsampleNearest_r(x)``.
* ``BinaryConv2dV2``    BBCU-H unit (the authors' name): ``RPReLU(binconv_{Cin->Cout}(...)) +
                        concat(repeat_interleave(x, s, dim=1), x[:, 0:1])``, s = Cout div Cin,
                        which requires Cout = s*Cin + 1.
* ``BinaryTailConv2d``  BBCU-T unit (not in the released code): ``RPReLU(binconv_{C->Cout}(...)) + I``
                        where I is the (amplified) network input, a second argument.
* ``BinaryUnitV1/V2/V3`` the ablation variants of the paper (Fig. 2, Table 4), not in the released
                        code: V1 ``RPReLU(BN(binconv(sign(x + move0))) + x)``, V2 = V1 without BN,
                        V3 = the V2 unit inside a network whose input is multiplied by k.
* ``BinaryBlock``       the authors' SR body block: two ``BinaryConv2d`` in ``body`` (no extra skip).
* ``DnCNN_BBCU``        DnCNN-BBCU (``bias=False``) / DnCNN3-BBCU (``bias=True``).
* ``BBCUL``, ``BBCUM``  the authors' super-resolution networks (``bbcul_arch.py``, ``bbcum_arch.py``).
* ``UnitNet``           a testing wrapper (``--arch unit``): one unit of any variant in a tiny network.

``ARCHS`` maps an architecture name to an :class:`ArchSpec` that knows its
constructor arguments and defaults, builds the module, lists the required
``state_dict`` keys and shapes, and writes the model graph (format
``bbcu-model`` version 1, see docs/model-format.md).  A new architecture is
added by writing its module and graph function and registering one more
``ArchSpec``.
"""

import collections
import math
import re

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------
# Building blocks (as in the authors' quant_convs_bbcu.py)
# --------------------------------------------------------------------------

class LearnableBias(nn.Module):
    def __init__(self, out_chn):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, out_chn, 1, 1), requires_grad=True)

    def forward(self, x):
        return x + self.bias.expand_as(x)


class RPReLU(nn.Module):
    def __init__(self, inplanes):
        super().__init__()
        self.pr_bias0 = LearnableBias(inplanes)
        self.pr_prelu = nn.PReLU(inplanes)
        self.pr_bias1 = LearnableBias(inplanes)

    def forward(self, x):
        return self.pr_bias1(self.pr_prelu(self.pr_bias0(x)))


class BinaryActivation(nn.Module):
    """Sign in the forward pass; piecewise-quadratic surrogate gradient."""

    def forward(self, x):
        out_forward = torch.sign(x)
        mask1 = x < -1
        mask2 = x < 0
        mask3 = x < 1
        out1 = (-1) * mask1.type(torch.float32) + (x * x + 2 * x) * (1 - mask1.type(torch.float32))
        out2 = out1 * mask2.type(torch.float32) + (-x * x + 2 * x) * (1 - mask2.type(torch.float32))
        out3 = out2 * mask3.type(torch.float32) + 1 * (1 - mask3.type(torch.float32))
        return out_forward.detach() - out3.detach() + out3


class HardBinaryConv(nn.Conv2d):
    def __init__(self, in_chn, out_chn, kernel_size=3, stride=1, padding=1, bias=True):
        super().__init__(in_chn, out_chn, kernel_size, stride=stride, padding=padding, bias=bias)

    def forward(self, x):
        real_weights = self.weight
        scaling_factor = torch.mean(
            torch.mean(torch.mean(abs(real_weights), dim=3, keepdim=True), dim=2, keepdim=True),
            dim=1, keepdim=True)
        scaling_factor = scaling_factor.detach()
        binary_weights_no_grad = scaling_factor * torch.sign(real_weights)
        cliped_weights = torch.clamp(real_weights, -1.0, 1.0)
        binary_weights = binary_weights_no_grad.detach() - cliped_weights.detach() + cliped_weights
        return F.conv2d(x, binary_weights, self.bias, stride=self.stride, padding=self.padding)


class BinaryConv2d(nn.Module):
    """BBCU-B body unit: out = RPReLU(HardBinaryConv(Sign(x + move0))) + x."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=False):
        super().__init__()
        self.move0 = LearnableBias(in_channels)
        self.binary_activation = BinaryActivation()
        self.binary_conv = HardBinaryConv(in_channels, out_channels, kernel_size,
                                          padding=(kernel_size // 2), bias=bias)
        self.relu = RPReLU(out_channels)

    def forward(self, x):
        out = self.move0(x)
        out = self.binary_activation(out)
        out = self.binary_conv(out)
        out = self.relu(out)
        return out + x


class BinaryUpConv2d(nn.Module):
    """BBCU-U upsampling unit (authors' ``BinaryUpConv2d``):
    out = PixelShuffle_r(RPReLU(HardBinaryConv(Sign(x + move0)))) + UpsampleNearest_r(x).

    ``out_channels`` must be ``in_channels * r * r``.  As in the authors' code,
    ``upscale=4`` means one x2 stage (their x4 network stacks two units built
    with ``upscale=2``); ``factor`` is the stage's actual factor.
    """

    def __init__(self, in_channels, out_channels, kernel_size, bias=False, upscale=2):
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError("BinaryUpConv2d: upscale must be 2, 3 or 4, got %r" % (upscale,))
        self.upscale = upscale
        self.factor = 2 if upscale == 4 else upscale
        if out_channels != in_channels * self.factor * self.factor:
            raise ValueError("BinaryUpConv2d: out_channels %d != in_channels %d * %d^2"
                             % (out_channels, in_channels, self.factor))
        self.move0 = LearnableBias(in_channels)
        self.binary_activation = BinaryActivation()
        self.binary_conv = HardBinaryConv(in_channels, out_channels, kernel_size,
                                          padding=(kernel_size // 2), bias=bias)
        self.relu = RPReLU(out_channels)
        self.pixel_shuffle = nn.PixelShuffle(self.factor)

    def forward(self, x):
        out = self.move0(x)
        out = self.binary_activation(out)
        out = self.binary_conv(out)
        out = self.relu(out)
        out = self.pixel_shuffle(out)
        x = F.interpolate(x, scale_factor=self.factor, mode='nearest')
        return out + x


class BinaryConv2dV2(nn.Module):
    """BBCU-H head unit (authors' ``BinaryConv2dV2``), channel-expanding:
    out = RPReLU(HardBinaryConv(Sign(x + move0))) + concat(repeat_interleave(x, s, 1), x[:, :1])
    with s = out_channels // in_channels; requires out_channels = s * in_channels + 1.
    """

    def __init__(self, in_channels, out_channels, kernel_size, bias=False):
        super().__init__()
        self.scale = out_channels // in_channels
        if self.scale < 1 or out_channels != self.scale * in_channels + 1:
            raise ValueError("BinaryConv2dV2 (BBCU-H): out_channels must be s*in_channels + 1 with "
                             "s = out_channels // in_channels >= 1; got %d -> %d"
                             % (in_channels, out_channels))
        self.move0 = LearnableBias(in_channels)
        self.binary_activation = BinaryActivation()
        self.binary_conv = HardBinaryConv(in_channels, out_channels, kernel_size,
                                          padding=(kernel_size // 2), bias=bias)
        self.relu = RPReLU(out_channels)

    def forward(self, x):
        out = self.move0(x)
        out = self.binary_activation(out)
        out = self.binary_conv(out)
        out = self.relu(out)
        x1 = torch.repeat_interleave(x, self.scale, 1)
        x1 = torch.cat([x1, x[:, :1, :, :]], dim=1)
        return x1 + out


class BinaryTailConv2d(nn.Module):
    """BBCU-T tail unit (paper Fig. 3b; not in the released code):
    out = RPReLU(HardBinaryConv(Sign(x + move0))) + identity, where ``identity``
    is the network input I_LQ after residual alignment (k * x, upsampled to the
    output size in a super-resolution network) with out_channels channels.
    """

    def __init__(self, in_channels, out_channels, kernel_size, bias=False):
        super().__init__()
        self.move0 = LearnableBias(in_channels)
        self.binary_activation = BinaryActivation()
        self.binary_conv = HardBinaryConv(in_channels, out_channels, kernel_size,
                                          padding=(kernel_size // 2), bias=bias)
        self.relu = RPReLU(out_channels)

    def forward(self, x, identity):
        out = self.move0(x)
        out = self.binary_activation(out)
        out = self.binary_conv(out)
        out = self.relu(out)
        return out + identity


class BinaryUnitV2(nn.Module):
    """Ablation variant V2 (paper Fig. 2b): out = RPReLU(HardBinaryConv(Sign(x + move0)) + x)."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=False):
        super().__init__()
        self.move0 = LearnableBias(in_channels)
        self.binary_activation = BinaryActivation()
        self.binary_conv = HardBinaryConv(in_channels, out_channels, kernel_size,
                                          padding=(kernel_size // 2), bias=bias)
        self.relu = RPReLU(out_channels)

    def forward(self, x):
        out = self.move0(x)
        out = self.binary_activation(out)
        out = self.binary_conv(out)
        return self.relu(out + x)


class BinaryUnitV3(BinaryUnitV2):
    """Ablation variant V3 (paper Fig. 2c, Eq. 8): the V2 unit unchanged; residual
    alignment multiplies the *network* input by k (and divides the output by k),
    so the unit itself computes RPReLU(HardBinaryConv(Sign(x + move0)) + x)."""


class BinaryUnitV1(nn.Module):
    """Ablation variant V1 (paper Fig. 2a, Eq. 5):
    out = RPReLU(BatchNorm(HardBinaryConv(Sign(x + move0))) + x); BN in eval mode."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=False):
        super().__init__()
        self.move0 = LearnableBias(in_channels)
        self.binary_activation = BinaryActivation()
        self.binary_conv = HardBinaryConv(in_channels, out_channels, kernel_size,
                                          padding=(kernel_size // 2), bias=bias)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = RPReLU(out_channels)

    def forward(self, x):
        out = self.move0(x)
        out = self.binary_activation(out)
        out = self.binary_conv(out)
        out = self.bn(out)
        return self.relu(out + x)


BinaryUnitV4 = BinaryConv2d  # the final design = BBCU-B


class BinaryBlock(nn.Module):
    """The authors' SR body block: ``body`` = two ``conv(n_feats, n_feats)`` units, no extra skip
    (their ``res += x`` is commented out).  Only ``bn=False`` (what BBCU-L/M use) is supported."""

    def __init__(self, conv, n_feats, kernel_size, bias=True, bn=False, res_scale=1):
        super().__init__()
        if bn:
            raise ValueError("BinaryBlock(bn=True) is not supported (BBCU-L/M use bn=False)")
        self.body = nn.Sequential(*[conv(n_feats, n_feats, kernel_size, bias=bias) for _ in range(2)])
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x)


# --------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------

class DnCNN_BBCU(nn.Module):
    """DnCNN with BBCU-B body units (authors' ``DnCNN`` in network_dncnn_bin.py).

    ``model`` is a flat ``nn.Sequential`` exactly as KAIR's ``B.sequential``
    builds it: model.0 Conv2d(in_nc, nc, 3), model.1 ReLU, model.2 ..
    model.<nb-1> BinaryConv2d(nc, nc, 3), model.<nb> Conv2d(nc, out_nc, 3).
    ``bias=False`` is DnCNN-BBCU (denoising), ``bias=True`` DnCNN3-BBCU
    (deblocking): the flag goes to every conv, binary convs included.
    """

    def __init__(self, in_nc=1, out_nc=1, nc=64, nb=17, act_mode='BR', k=1., bias=False):
        super().__init__()
        assert 'R' in act_mode or 'L' in act_mode, 'Examples of activation function: R, L, BR, BL, IR, IL'
        if nb < 2:
            raise ValueError("nb (total number of conv layers) must be >= 2, got %d" % nb)
        layers = [nn.Conv2d(in_nc, nc, 3, 1, 1, bias=bias), nn.ReLU(inplace=True)]
        layers += [BinaryConv2d(nc, nc, kernel_size=3, bias=bias) for _ in range(nb - 2)]
        layers.append(nn.Conv2d(nc, out_nc, 3, 1, 1, bias=bias))
        self.k = k
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        x = x * self.k
        n = self.model(x)
        x = x - n
        x = x / self.k
        return x


class BBCUL(nn.Module):
    """BBCU-L (authors' ``bbcul_arch.py``): SRResNet with a binarized body.

    x' = k*x; f = lrelu(conv_first(x')); body = num_block BinaryBlocks;
    x2/x3: lrelu(pixel_shuffle(upconv1(.))); x4: that twice with upconv1, upconv2 (x2 each);
    y = conv_last(lrelu(conv_hr(.))); out = (y + bilinear_r(x')) / k.
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4, k=1.):
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError("BBCUL: upscale must be 2, 3 or 4, got %r" % (upscale,))
        self.upscale = upscale
        self.k = k
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[BinaryBlock(BinaryConv2d, num_feat, 3, bias=False, bn=False)
                                    for _ in range(num_block)])
        if upscale in (2, 3):
            self.upconv1 = nn.Conv2d(num_feat, num_feat * upscale * upscale, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(upscale)
        else:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(2)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1)

    def forward(self, x):
        x = x * self.k
        feat = self.lrelu(self.conv_first(x))
        out = self.body(feat)
        if self.upscale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        else:
            out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        base = F.interpolate(x, scale_factor=self.upscale, mode='bilinear', align_corners=False)
        out = out + base
        return out / self.k


class BBCUM(nn.Module):
    """BBCU-M (authors' ``bbcum_arch.py``): body and upsampling binarized.

    As BBCU-L, but upconv1 (and upconv2 for x4) are BBCU-U units (``BinaryUpConv2d``,
    no LeakyReLU after them) and conv_hr is a BBCU-B unit.
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16, upscale=4, k=1.):
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError("BBCUM: upscale must be 2, 3 or 4, got %r" % (upscale,))
        self.upscale = upscale
        self.k = k
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[BinaryBlock(BinaryConv2d, num_feat, 3, bias=False, bn=False)
                                    for _ in range(num_block)])
        if upscale in (2, 3):
            self.upconv1 = BinaryUpConv2d(num_feat, num_feat * upscale * upscale, 3, False, upscale=upscale)
        else:
            self.upconv1 = BinaryUpConv2d(num_feat, num_feat * 4, 3, False, upscale=2)
            self.upconv2 = BinaryUpConv2d(num_feat, num_feat * 4, 3, False, upscale=2)
        self.conv_hr = BinaryConv2d(num_feat, num_feat, 3)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1)

    def forward(self, x):
        x = x * self.k
        feat = self.lrelu(self.conv_first(x))
        out = self.body(feat)
        out = self.upconv1(out)
        if self.upscale == 4:
            out = self.upconv2(out)
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        base = F.interpolate(x, scale_factor=self.upscale, mode='bilinear', align_corners=False)
        out = out + base
        return out / self.k


UNIT_VARIANTS = ("v1", "v2", "v3", "v4", "h", "u", "t")
UNIT_KERNELS = (1, 3, 5, 7, 9, 11)  # conv_first / conv_last of UnitNet: the odd sizes the format accepts
UNIT_HEAD_ACTS = ("lrelu", "prelu", "prelu1")


class UnitNet(nn.Module):
    """Testing wrapper (``--arch unit``): one binary unit in a tiny network.

    x' = k*x, then
      v1, v2, v3, v4: y = conv_last(unit(lrelu(conv_first(x'))))   unit: num_feat -> num_feat
      u:              y = conv_last(unit(lrelu(conv_first(x'))))   unit: BBCU-U x upscale
      h:              y = conv_last(unit(x'))                      unit: BBCU-H num_in_ch -> num_feat
      t:              y = unit(lrelu(conv_first(x')), x')          unit: BBCU-T num_feat -> num_out_ch
    out = y / k.  v1 and v2 are the ablation variants without residual alignment
    (k = 1); v3 is the v2 unit with k > 1.

    Optional (the defaults give the network above, with the same state_dict):
    ``head_kernel`` / ``tail_kernel`` the odd kernel size (1..11, padding k//2) of
    ``conv_first`` / ``conv_last`` (default 3); ``head_act`` the activation after
    ``conv_first``: "lrelu" (LeakyReLU 0.1, default), "prelu" (``nn.PReLU(num_feat)``,
    one slope per channel) or "prelu1" (``nn.PReLU(1)``, one shared slope), as the
    module ``head_act`` (key ``head_act.weight``).  ``h`` has no ``conv_first`` and
    ``t`` no ``conv_last``: the corresponding options must keep their defaults.
    """

    def __init__(self, variant="v4", num_in_ch=3, num_out_ch=3, num_feat=16, upscale=2, k=130.,
                 head_kernel=3, tail_kernel=3, head_act="lrelu"):
        super().__init__()
        if variant not in UNIT_VARIANTS:
            raise ValueError("UnitNet: unknown variant %r" % (variant,))
        for name, ks in (("head_kernel", head_kernel), ("tail_kernel", tail_kernel)):
            if ks not in UNIT_KERNELS:
                raise ValueError("UnitNet: %s must be an odd integer from 1 to 11, got %r" % (name, ks))
        if head_act not in UNIT_HEAD_ACTS:
            raise ValueError("UnitNet: head_act must be one of %s, got %r" % ("|".join(UNIT_HEAD_ACTS), head_act))
        if variant == "h" and (head_kernel != 3 or head_act != "lrelu"):
            raise ValueError("UnitNet(h): no conv_first, so head_kernel and head_act must keep their defaults")
        if variant == "t" and tail_kernel != 3:
            raise ValueError("UnitNet(t): no conv_last, so tail_kernel must keep its default")
        self.variant = variant
        self.k = k
        if variant != "h":
            self.conv_first = nn.Conv2d(num_in_ch, num_feat, head_kernel, 1, head_kernel // 2)
            if head_act == "prelu":
                self.head_act = nn.PReLU(num_feat)
            elif head_act == "prelu1":
                self.head_act = nn.PReLU(1)
        if variant == "v1":
            self.unit = BinaryUnitV1(num_feat, num_feat, 3)
        elif variant == "v2":
            self.unit = BinaryUnitV2(num_feat, num_feat, 3)
        elif variant == "v3":
            self.unit = BinaryUnitV3(num_feat, num_feat, 3)
        elif variant == "v4":
            self.unit = BinaryConv2d(num_feat, num_feat, 3)
        elif variant == "u":
            self.unit = BinaryUpConv2d(num_feat, num_feat * upscale * upscale, 3, False, upscale=upscale)
        elif variant == "h":
            self.unit = BinaryConv2dV2(num_in_ch, num_feat, 3)
        else:
            if num_out_ch != num_in_ch:
                raise ValueError("UnitNet(t): BBCU-T adds the input image, so num_out_ch must equal num_in_ch")
            self.unit = BinaryTailConv2d(num_feat, num_out_ch, 3)
        if variant != "t":
            self.conv_last = nn.Conv2d(num_feat, num_out_ch, tail_kernel, 1, tail_kernel // 2)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1)

    def _head(self, x):
        f = self.conv_first(x)
        return self.head_act(f) if hasattr(self, "head_act") else self.lrelu(f)

    def forward(self, x):
        x = x * self.k
        if self.variant == "h":
            y = self.conv_last(self.unit(x))
        elif self.variant == "t":
            y = self.unit(self._head(x), x)
        else:
            y = self.conv_last(self.unit(self._head(x)))
        return y / self.k


# --------------------------------------------------------------------------
# Model graph (format "bbcu-model", version 1)
# --------------------------------------------------------------------------

FORMAT_NAME = "bbcu-model"
FORMAT_VERSION = 1
WEIGHTS_FORMAT_NAME = "bbcu-weights"


def json_number(v):
    """An exact JSON number for v: an int when v is integral, else the float."""
    v = float(v)
    if not math.isfinite(v):
        raise ValueError("not a finite number: %r" % v)
    return int(v) if v.is_integer() and abs(v) < 2 ** 53 else v


def _binary_unit_nodes(prefix, x, out, bias):
    """Nodes of one BBCU-B unit ``prefix`` (BinaryConv2d) from value x to value out."""
    bconv = collections.OrderedDict([
        ("op", "binary_conv2d"), ("name", prefix), ("inputs", [x]), ("output", prefix + ".conv"),
        ("input_bias", prefix + ".move0.bias"), ("weight", prefix + ".binary_conv.weight")])
    if bias:
        bconv["bias"] = prefix + ".binary_conv.bias"
    rprelu = collections.OrderedDict([
        ("op", "rprelu"), ("name", prefix + ".relu"), ("inputs", [prefix + ".conv"]),
        ("output", prefix + ".act"),
        ("bias0", prefix + ".relu.pr_bias0.bias"), ("slope", prefix + ".relu.pr_prelu.weight"),
        ("bias1", prefix + ".relu.pr_bias1.bias")])
    add = collections.OrderedDict([("op", "add"), ("inputs", [prefix + ".act", x]), ("output", out)])
    return [bconv, rprelu, add]


def _conv_node(prefix, x, out, bias):
    node = collections.OrderedDict([
        ("op", "conv2d"), ("name", prefix), ("inputs", [x]), ("output", out),
        ("weight", prefix + ".weight")])
    if bias:
        node["bias"] = prefix + ".bias"
    return node


def dncnn_graph(args, bias):
    """Graph nodes of DnCNN-BBCU/DnCNN3-BBCU, in forward order."""
    nb, k = args["nb"], json_number(args["k"])
    nodes = [collections.OrderedDict([("op", "mul"), ("inputs", ["x"]), ("output", "x_amp"), ("scalar", k)]),
             _conv_node("model.0", "x_amp", "head", bias),
             collections.OrderedDict([("op", "relu"), ("name", "model.1"), ("inputs", ["head"]), ("output", "h0")])]
    h = "h0"
    for j, i in enumerate(range(2, nb)):
        nxt = "h%d" % (j + 1)
        nodes += _binary_unit_nodes("model.%d" % i, h, nxt, bias)
        h = nxt
    nodes += [_conv_node("model.%d" % nb, h, "noise", bias),
              collections.OrderedDict([("op", "sub"), ("inputs", ["x_amp", "noise"]), ("output", "diff")]),
              collections.OrderedDict([("op", "div"), ("inputs", ["diff"]), ("output", "out"), ("scalar", k)])]
    return {"inputs": [collections.OrderedDict([("name", "x"), ("channels", args["in_nc"])])],
            "outputs": ["out"], "nodes": nodes}


def _node(op, inputs, output, name=None, props=()):
    """One node: op, [name], inputs, output, then props (a sequence of (key, value)) in order."""
    n = collections.OrderedDict([("op", op)])
    if name is not None:
        n["name"] = name
    n["inputs"] = list(inputs)
    n["output"] = output
    for k, v in props:
        n[k] = v
    return n


def _bconv_node(prefix, x, bias):
    """binary_conv2d of a unit ``prefix``: value ``prefix.conv``."""
    props = [("input_bias", prefix + ".move0.bias"), ("weight", prefix + ".binary_conv.weight")]
    if bias:
        props.append(("bias", prefix + ".binary_conv.bias"))
    return _node("binary_conv2d", [x], prefix + ".conv", prefix, props)


def _rprelu_node(prefix, x, out):
    return _node("rprelu", [x], out, prefix + ".relu",
                 [("bias0", prefix + ".relu.pr_bias0.bias"), ("slope", prefix + ".relu.pr_prelu.weight"),
                  ("bias1", prefix + ".relu.pr_bias1.bias")])


def _unit_v1_nodes(prefix, x, out, bias=False, eps=1e-5):
    """V1: binary_conv2d -> batch_norm -> add(., x) -> rprelu."""
    return [_bconv_node(prefix, x, bias),
            _node("batch_norm", [prefix + ".conv"], prefix + ".bn", prefix + ".bn",
                  [("weight", prefix + ".bn.weight"), ("bias", prefix + ".bn.bias"),
                   ("running_mean", prefix + ".bn.running_mean"), ("running_var", prefix + ".bn.running_var"),
                   ("eps", json_number(eps))]),
            _node("add", [prefix + ".bn", x], prefix + ".sum"),
            _rprelu_node(prefix, prefix + ".sum", out)]


def _unit_v2_nodes(prefix, x, out, bias=False):
    """V2 / V3: binary_conv2d -> add(., x) -> rprelu."""
    return [_bconv_node(prefix, x, bias),
            _node("add", [prefix + ".conv", x], prefix + ".sum"),
            _rprelu_node(prefix, prefix + ".sum", out)]


def _unit_h_nodes(prefix, x, out, repeats, bias=False):
    """BBCU-H: binary_conv2d -> rprelu; channel_expand(x); add."""
    return [_bconv_node(prefix, x, bias),
            _rprelu_node(prefix, prefix + ".conv", prefix + ".act"),
            _node("channel_expand", [x], prefix + ".expand", prefix, [("repeats", repeats)]),
            _node("add", [prefix + ".act", prefix + ".expand"], out)]


def _unit_u_nodes(prefix, x, out, factor, bias=False):
    """BBCU-U: binary_conv2d (C -> C*r*r) -> rprelu -> pixel_shuffle r; upsample nearest r (x); add."""
    return [_bconv_node(prefix, x, bias),
            _rprelu_node(prefix, prefix + ".conv", prefix + ".act"),
            _node("pixel_shuffle", [prefix + ".act"], prefix + ".shuffle", prefix + ".pixel_shuffle",
                  [("factor", factor)]),
            _node("upsample", [x], prefix + ".up", prefix, [("mode", "nearest"), ("factor", factor)]),
            _node("add", [prefix + ".shuffle", prefix + ".up"], out)]


def _unit_t_nodes(prefix, x, identity, out, bias=False):
    """BBCU-T: binary_conv2d (C -> Cout) -> rprelu -> add(., identity)."""
    return [_bconv_node(prefix, x, bias),
            _rprelu_node(prefix, prefix + ".conv", prefix + ".act"),
            _node("add", [prefix + ".act", identity], out)]


def _lrelu_node(x, out, name="lrelu"):
    return _node("leaky_relu", [x], out, name, [("negative_slope", 0.1)])


def sr_graph(args, binary_up):
    """Graph nodes of BBCU-L (binary_up=False) / BBCU-M (binary_up=True), in forward order."""
    r, k = args["upscale"], json_number(args["k"])
    nodes = [_node("mul", ["x"], "x_amp", props=[("scalar", k)]),
             _conv_node("conv_first", "x_amp", "first", True),
             _lrelu_node("first", "h0")]
    h, n = "h0", 0
    for i in range(args["num_block"]):
        for j in range(2):
            n += 1
            nodes += _binary_unit_nodes("body.%d.body.%d" % (i, j), h, "h%d" % n, False)
            h = "h%d" % n
    stages = [("upconv1", r)] if r in (2, 3) else [("upconv1", 2), ("upconv2", 2)]
    for si, (name, f) in enumerate(stages):
        out = "up%d" % (si + 1)
        if binary_up:
            nodes += _unit_u_nodes(name, h, out, f)
        else:
            nodes += [_conv_node(name, h, name, True),
                      _node("pixel_shuffle", [name], name + ".shuffle", "pixel_shuffle", [("factor", f)]),
                      _lrelu_node(name + ".shuffle", out)]
        h = out
    if binary_up:
        nodes += _binary_unit_nodes("conv_hr", h, "hr", False)
    else:
        nodes.append(_conv_node("conv_hr", h, "hr", True))
    nodes += [_lrelu_node("hr", "hr_act"),
              _conv_node("conv_last", "hr_act", "y", True),
              _node("upsample", ["x_amp"], "base", props=[("mode", "bilinear"), ("factor", r),
                                                          ("align_corners", False)]),
              _node("add", ["y", "base"], "sum"),
              _node("div", ["sum"], "out", props=[("scalar", k)])]
    return {"inputs": [collections.OrderedDict([("name", "x"), ("channels", args["num_in_ch"])])],
            "outputs": ["out"], "nodes": nodes}


def unit_graph(args):
    """Graph nodes of the testing network UnitNet (--arch unit)."""
    v, k, nf = args["variant"], json_number(args["k"]), args["num_feat"]
    nodes = [_node("mul", ["x"], "x_amp", props=[("scalar", k)])]
    if v != "h":
        nodes.append(_conv_node("conv_first", "x_amp", "first", True))
        if args.get("head_act", "lrelu") == "lrelu":
            nodes.append(_lrelu_node("first", "feat"))
        else:  # prelu (slope [num_feat]) or prelu1 (one shared slope [1])
            nodes.append(_node("prelu", ["first"], "feat", "head_act", [("slope", "head_act.weight")]))
    if v == "v1":
        nodes += _unit_v1_nodes("unit", "feat", "u")
    elif v in ("v2", "v3"):
        nodes += _unit_v2_nodes("unit", "feat", "u")
    elif v == "v4":
        nodes += _binary_unit_nodes("unit", "feat", "u", False)
    elif v == "u":
        nodes += _unit_u_nodes("unit", "feat", "u", args["upscale"])
    elif v == "h":
        nodes += _unit_h_nodes("unit", "x_amp", "u", nf // args["num_in_ch"])
    else:
        nodes += _unit_t_nodes("unit", "feat", "x_amp", "y")
    if v != "t":
        nodes.append(_conv_node("conv_last", "u", "y", True))
    nodes.append(_node("div", ["y"], "out", props=[("scalar", k)]))
    return {"inputs": [collections.OrderedDict([("name", "x"), ("channels", args["num_in_ch"])])],
            "outputs": ["out"], "nodes": nodes}


# --------------------------------------------------------------------------
# Architecture registry
# --------------------------------------------------------------------------

# Attributes of a node that name state_dict tensors (all ops).
TENSOR_ATTRS = ("input_bias", "weight", "bias", "bias0", "slope", "bias1",
                "running_mean", "running_var")


def _positive_int(name, text):
    try:
        v = int(text, 10)
    except (TypeError, ValueError):
        raise ValueError("--arg %s=%s: expected an integer" % (name, text))
    if v < 1:
        raise ValueError("--arg %s=%s: must be >= 1" % (name, text))
    return v


def _positive_float(name, text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise ValueError("--arg %s=%s: expected a number" % (name, text))
    if not math.isfinite(v) or v <= 0:
        raise ValueError("--arg %s=%s: must be a finite number > 0" % (name, text))
    return v


def _string(name, text):
    return str(text)


def _upscale(name, text):
    v = _positive_int(name, text)
    if v not in (2, 3, 4):
        raise ValueError("--arg %s=%s: must be 2, 3 or 4" % (name, text))
    return v


def _variant(name, text):
    if text not in UNIT_VARIANTS:
        raise ValueError("--arg %s=%s: must be one of %s" % (name, text, "|".join(UNIT_VARIANTS)))
    return text


def _kernel(name, text):
    try:
        v = int(text, 10)
    except (TypeError, ValueError):
        raise ValueError("--arg %s=%s: expected an integer" % (name, text))
    if v not in UNIT_KERNELS:
        raise ValueError("--arg %s=%s: must be an odd kernel size from 1 to 11" % (name, text))
    return v


def _head_act(name, text):
    if text not in UNIT_HEAD_ACTS:
        raise ValueError("--arg %s=%s: must be one of %s" % (name, text, "|".join(UNIT_HEAD_ACTS)))
    return text


class ArchSpec:
    """One exportable architecture.

    name         registry key (the exporter's --arch)
    model_name   the graph's "name"
    description  one line for the graph's "description"
    defaults     OrderedDict constructor-arg -> default (paper settings)
    parsers      constructor-arg -> function(name, text) -> value
    ignored      args accepted on the command line and dropped (e.g. act_mode)
    build        function(**args) -> nn.Module (float32, eval mode)
    graph        function(args) -> {"inputs", "outputs", "nodes"}
    optional     args written to the graph's source.args only when not at their default
    infer        function(shapes) -> {arg: tuple of the values the tensor shapes allow}, for the args
                 the shapes determine (one value) or narrow down (several); shapes maps state_dict
                 key -> shape tuple. Args the shapes say nothing about are left out.
    paper_defaults  whether the defaults are the paper's settings (the exporter says so)
    """

    def __init__(self, name, model_name, description, defaults, parsers, ignored, build, graph, optional=(),
                 infer=None, paper_defaults=True):
        self.name = name
        self.model_name = model_name
        self.description = description
        self.defaults = collections.OrderedDict(defaults)
        self.parsers = dict(parsers)
        self.ignored = tuple(ignored)
        self.build = build
        self.graph = graph
        self.optional = tuple(optional)
        self.infer = infer
        self.paper_defaults = paper_defaults

    def source_args(self, args):
        """The args recorded in the graph's source.args: all of them, except the
        ``optional`` ones (later additions) where they keep their default, so that
        graphs exported before those options existed stay byte-identical."""
        return collections.OrderedDict((k, v) for k, v in args.items()
                                       if not (k in self.optional and v == self.defaults[k]))

    def parse_overrides(self, overrides):
        """{name: text} -> OrderedDict name -> value (ignored names dropped); raises ValueError on
        unknown names and malformed values."""
        unknown = [n for n in overrides if n not in self.defaults and n not in self.ignored]
        if unknown:
            allowed = list(self.defaults) + list(self.ignored)
            raise ValueError("unknown --arg name(s) for arch '%s': %s (allowed: %s)"
                             % (self.name, ", ".join(sorted(unknown)), ", ".join(allowed)))
        return collections.OrderedDict((n, self.parsers[n](n, text)) for n, text in overrides.items()
                                       if n not in self.ignored)

    def resolve_args(self, overrides, inferred=None):
        """Defaults, updated with the values ``inferred`` from a checkpoint ({name: tuple of allowed
        values}, as infer_args returns; the default where it is allowed, else the first), then with
        overrides {name: text}; raises ValueError on unknown names and invalid values."""
        explicit = self.parse_overrides(overrides)
        args = collections.OrderedDict(self.defaults)
        for n, values in (inferred or {}).items():
            args[n] = args[n] if args[n] in values else values[0]
        args.update(explicit)
        self.check_args(args)
        return args

    def infer_args(self, shapes):
        """OrderedDict arg -> tuple of the values a checkpoint's tensor shapes allow ({key: shape
        tuple}), in constructor order, for the args the shapes determine (one value) or narrow
        down; values an arg's parser rejects are dropped."""
        raw = self.infer(shapes) if self.infer is not None else {}
        out = collections.OrderedDict()
        for n in self.defaults:
            values = []
            for v in raw.get(n, ()):
                try:
                    self.parsers[n](n, str(v))
                except ValueError:
                    continue
                values.append(v)
            if values:
                out[n] = tuple(values)
        return out

    def check_args(self, args):
        pass

    def build_module(self, args):
        m = self.build(**args)
        m.eval()
        return m

    def tensor_spec(self, args):
        """-> (OrderedDict key -> shape tuple of the module's state_dict tensors the graph uses,
        list of keys a checkpoint may hold that are ignored: BatchNorm's num_batches_tracked)."""
        m = self.build_module(args)
        expected, ignored = collections.OrderedDict(), []
        for k, v in m.state_dict().items():
            if k.endswith("num_batches_tracked"):
                ignored.append(k)
            else:
                expected[k] = tuple(v.shape)
        return expected, ignored

    def expected_tensors(self, args):
        """OrderedDict key -> shape tuple of the module's state_dict (without ignored keys)."""
        return self.tensor_spec(args)[0]

    def input_channels(self, args):
        return args["in_nc"] if "in_nc" in args else args["num_in_ch"]


# --------------------------------------------------------------------------
# Constructor arguments from a checkpoint's tensor shapes
# --------------------------------------------------------------------------
# Each function reads only the tensors that fix an argument and leaves out what it cannot tell
# (a missing or odd tensor): the exporter then falls back to --arg or the default, and its
# state_dict check names whatever still does not fit.

def _shape4(shapes, key):
    s = shapes.get(key)
    return tuple(int(d) for d in s) if s is not None and len(s) == 4 else None


def _indices(shapes, pattern):
    """The integers N of the keys that match ``pattern`` (a regex with one group), as a set."""
    rx = re.compile(pattern)
    return {int(m.group(1)) for m in (rx.match(k) for k in shapes) if m}


def _infer_dncnn(shapes):
    """model.0.weight [nc, in_nc, 3, 3]; the tail conv model.<nb>.weight [out_nc, nc, 3, 3] is the
    only full-precision conv after the head (the units' weights are model.<i>.binary_conv.weight)."""
    out = {}
    head = _shape4(shapes, "model.0.weight")
    tails = sorted(n for n in _indices(shapes, r"model\.(\d+)\.weight$") if n >= 1
                   and _shape4(shapes, "model.%d.weight" % n))
    tail = None
    if len(tails) == 1 and tails[0] >= 2:
        out["nb"] = (tails[0],)
        tail = _shape4(shapes, "model.%d.weight" % tails[0])
        out["out_nc"] = (tail[0],)
    if head:
        out["in_nc"], out["nc"] = (head[1],), (head[0],)
    elif tail:
        out["nc"] = (tail[1],)
    return out


def _sr_infer(binary_up):
    """BBCU-L / BBCU-M: conv_first.weight [num_feat, num_in_ch, 3, 3], conv_last.weight
    [num_out_ch, num_feat, 3, 3], blocks body.0 .. body.<num_block - 1>; upscale 4 has an upconv2,
    2 and 3 only an upconv1 with num_feat * upscale^2 output channels."""
    up_weight = "upconv%d.binary_conv.weight" if binary_up else "upconv%d.weight"

    def infer(shapes):
        out = {}
        first, last = _shape4(shapes, "conv_first.weight"), _shape4(shapes, "conv_last.weight")
        if first:
            out["num_in_ch"], out["num_feat"] = (first[1],), (first[0],)
        if last:
            out["num_out_ch"] = (last[0],)
            out.setdefault("num_feat", (last[1],))
        blocks = _indices(shapes, r"body\.(\d+)\.")
        if blocks and blocks == set(range(max(blocks) + 1)):
            out["num_block"] = (len(blocks),)
        up1 = _shape4(shapes, up_weight % 1)
        if any(k.startswith("upconv2.") for k in shapes):
            out["upscale"] = (4,)
        elif up1 and up1[1] > 0 and up1[0] in (4 * up1[1], 9 * up1[1]):
            out["upscale"] = (2 if up1[0] == 4 * up1[1] else 3,)
        return out

    return infer


def _square_kernel(shape):
    return (shape[2],) if shape[2] == shape[3] and shape[2] in UNIT_KERNELS else ()


def _infer_unit(shapes):
    """UnitNet: the variant from which modules are there (no conv_first: h, no conv_last: t,
    BatchNorm: v1, a channel-multiplying unit: u; v2, v3 and v4 have the same tensors), the
    channels and kernel sizes from conv_first, conv_last and the unit's binary conv, head_act
    from head_act.weight ([num_feat]: prelu, [1]: prelu1, none: lrelu)."""
    out = {}
    first, last = _shape4(shapes, "conv_first.weight"), _shape4(shapes, "conv_last.weight")
    unit = _shape4(shapes, "unit.binary_conv.weight")
    has_first = any(k.startswith("conv_first.") for k in shapes)
    has_last = any(k.startswith("conv_last.") for k in shapes)
    variant = None
    if unit:
        cout, cin = unit[0], unit[1]
        if not has_first and has_last and cin >= 1 and cout // cin >= 1 and cout == (cout // cin) * cin + 1:
            variant = ("h",)
        elif has_first and not has_last:
            variant = ("t",)
        elif has_first and has_last and any(k.startswith("unit.bn.") for k in shapes):
            variant = ("v1",)
        elif has_first and has_last and cout == cin:
            variant = ("v4", "v2", "v3")
        elif has_first and has_last and cout in (4 * cin, 9 * cin):
            variant, out["upscale"] = ("u",), (2 if cout == 4 * cin else 3,)
    if variant:
        out["variant"] = variant
    if first:
        out["num_in_ch"], out["num_feat"], out["head_kernel"] = (first[1],), (first[0],), _square_kernel(first)
        act = shapes.get("head_act.weight")
        if act is None and not any(k.startswith("head_act.") for k in shapes):
            out["head_act"] = ("lrelu",)
        elif act is not None and tuple(act) == (1,):
            out["head_act"] = ("prelu1", "prelu") if first[0] == 1 else ("prelu1",)
        elif act is not None and tuple(act) == (first[0],):
            out["head_act"] = ("prelu",)
    if last:
        out["num_out_ch"], out["tail_kernel"] = (last[0],), _square_kernel(last)
        out.setdefault("num_feat", (last[1],))
    if variant == ("h",):
        out["num_in_ch"], out["num_feat"] = (unit[1],), (unit[0],)
    elif variant == ("t",):
        out["num_out_ch"] = (unit[0],)
    return out


class _DnCNNSpec(ArchSpec):
    def check_args(self, args):
        if args["nb"] < 2:
            raise ValueError("--arg nb=%d: nb is the total number of conv layers and must be >= 2"
                             % args["nb"])


def _dncnn_spec(name, model_name, description, in_nc, bias):
    defaults = [("in_nc", in_nc), ("out_nc", in_nc), ("nc", 64), ("nb", 20), ("k", 130.0)]
    parsers = {"in_nc": _positive_int, "out_nc": _positive_int, "nc": _positive_int,
               "nb": _positive_int, "k": _positive_float}

    def build(in_nc, out_nc, nc, nb, k):
        return DnCNN_BBCU(in_nc=in_nc, out_nc=out_nc, nc=nc, nb=nb, k=k, bias=bias)

    return _DnCNNSpec(name, model_name, description, defaults, parsers, ("act_mode",), build,
                      lambda args: dncnn_graph(args, bias), infer=_infer_dncnn)


def _sr_spec(name, model_name, description, cls, binary_up):
    defaults = [("num_in_ch", 3), ("num_out_ch", 3), ("num_feat", 64), ("num_block", 16),
                ("upscale", 4), ("k", 130.0)]
    parsers = {"num_in_ch": _positive_int, "num_out_ch": _positive_int, "num_feat": _positive_int,
               "num_block": _positive_int, "upscale": _upscale, "k": _positive_float}

    def build(num_in_ch, num_out_ch, num_feat, num_block, upscale, k):
        return cls(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat, num_block=num_block,
                   upscale=upscale, k=k)

    return ArchSpec(name, model_name, description, defaults, parsers, (), build,
                    lambda args: sr_graph(args, binary_up), infer=_sr_infer(binary_up))


class _UnitSpec(ArchSpec):
    def check_args(self, args):
        v = args["variant"]
        if args["k"] is None:
            args["k"] = 1.0 if v in ("v1", "v2") else 130.0
        if v in ("v1", "v2") and args["k"] != 1.0:
            raise ValueError("--arg k=%s: variant %s has no residual alignment, k must be 1 "
                             "(V3 is the V2 unit with k > 1)" % (json_number(args["k"]), v))
        if v == "v3" and not args["k"] > 1.0:
            raise ValueError("--arg k=%s: variant v3 is V2 with residual alignment, k must be > 1"
                             % json_number(args["k"]))
        if v == "h":
            s = args["num_feat"] // args["num_in_ch"]
            if s < 1 or args["num_feat"] != s * args["num_in_ch"] + 1:
                raise ValueError("--arg num_feat=%d: BBCU-H needs num_feat = s*num_in_ch + 1 (s >= 1), "
                                 "num_in_ch=%d" % (args["num_feat"], args["num_in_ch"]))
        if v == "t" and args["num_out_ch"] != args["num_in_ch"]:
            raise ValueError("--arg num_out_ch=%d: BBCU-T adds the input image, num_out_ch must equal "
                             "num_in_ch=%d" % (args["num_out_ch"], args["num_in_ch"]))
        if v == "u" and args["upscale"] not in (2, 3):
            raise ValueError("--arg upscale=%d: a BBCU-U unit upsamples by 2 or 3" % args["upscale"])
        if v == "h" and (args["head_kernel"] != 3 or args["head_act"] != "lrelu"):
            raise ValueError("--arg head_kernel/head_act: variant h has no conv_first (its unit reads k*x), "
                             "so they must keep their defaults (3, lrelu)")
        if v == "t" and args["tail_kernel"] != 3:
            raise ValueError("--arg tail_kernel=%d: variant t has no conv_last, so it must keep its default 3"
                             % args["tail_kernel"])


def _unit_spec():
    defaults = [("variant", "v4"), ("num_in_ch", 3), ("num_out_ch", 3), ("num_feat", 16),
                ("upscale", 2), ("k", None), ("head_kernel", 3), ("tail_kernel", 3), ("head_act", "lrelu")]
    parsers = {"variant": _variant, "num_in_ch": _positive_int, "num_out_ch": _positive_int,
               "num_feat": _positive_int, "upscale": _upscale, "k": _positive_float,
               "head_kernel": _kernel, "tail_kernel": _kernel, "head_act": _head_act}

    def build(variant, num_in_ch, num_out_ch, num_feat, upscale, k, head_kernel, tail_kernel, head_act):
        return UnitNet(variant=variant, num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat,
                       upscale=upscale, k=k, head_kernel=head_kernel, tail_kernel=tail_kernel, head_act=head_act)

    return _UnitSpec("unit", "bbcu_unit_test",
                     "Testing network: one BBCU unit (variant v1|v2|v3|v4|h|u|t) in a tiny network",
                     defaults, parsers, (), build, unit_graph,
                     optional=("head_kernel", "tail_kernel", "head_act"), infer=_infer_unit, paper_defaults=False)


ARCHS = collections.OrderedDict()


def register(spec):
    if spec.name in ARCHS:
        raise ValueError("architecture %s registered twice" % spec.name)
    ARCHS[spec.name] = spec
    return spec


register(_dncnn_spec("dncnn", "dncnn_bbcu",
                     "DnCNN-BBCU denoiser (binarized body, bias=False), Xia et al., ICLR 2023",
                     in_nc=3, bias=False))
register(_dncnn_spec("dncnn3", "dncnn3_bbcu",
                     "DnCNN3-BBCU JPEG deblocking (binarized body, bias=True), Xia et al., ICLR 2023",
                     in_nc=1, bias=True))
register(_sr_spec("bbcul", "bbcu_l",
                  "BBCU-L super-resolution (SRResNet, binarized body), Xia et al., ICLR 2023", BBCUL, False))
register(_sr_spec("bbcum", "bbcu_m",
                  "BBCU-M super-resolution (SRResNet, binarized body and upsampling), Xia et al., ICLR 2023",
                  BBCUM, True))
register(_unit_spec())


def build_graph(spec, args, source=None):
    """The complete model document (an OrderedDict ready for json.dumps)."""
    g = spec.graph(args)
    doc = collections.OrderedDict()
    doc["format"] = FORMAT_NAME
    doc["version"] = FORMAT_VERSION
    doc["name"] = spec.model_name
    doc["description"] = spec.description
    if source is not None:
        doc["source"] = source
    doc["inputs"] = g["inputs"]
    doc["outputs"] = g["outputs"]
    doc["nodes"] = g["nodes"]
    return doc


def graph_tensor_keys(doc):
    """state_dict keys referenced by the graph, in order of first reference."""
    seen = collections.OrderedDict()
    for node in doc["nodes"]:
        for attr in TENSOR_ATTRS:
            if attr in node:
                seen.setdefault(node[attr], None)
    return list(seen)
