# Run with /usr/bin/python3 (Debian's python3-torch, PyTorch 1.13); the
# `python3` found first on PATH may be another interpreter without torch.
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
* ``BinaryConv2d``      BBCU-B unit: ``RPReLU(binconv(sign(x + move0))) + x``.
* ``DnCNN_BBCU``        DnCNN-BBCU (``bias=False``) / DnCNN3-BBCU (``bias=True``).

``ARCHS`` maps an architecture name to an :class:`ArchSpec` that knows its
constructor arguments and defaults, builds the module, lists the required
``state_dict`` keys and shapes, and writes the model graph (format
``bbcu-model`` version 1, see docs/model-format.md).  A new architecture (e.g.
``bbcul``/``bbcum``) is added by writing its module and graph function and
registering one more ``ArchSpec``.
"""

import collections
import math
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - environment check
    sys.stderr.write(
        "error: PyTorch is not available in this interpreter (%s).\n"
        "Run this tool with /usr/bin/python3 (Debian package python3-torch).\n" % sys.executable)
    sys.exit(3)


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


# --------------------------------------------------------------------------
# Architecture registry
# --------------------------------------------------------------------------

# Attributes of a node that name state_dict tensors (all ops, v1 and planned).
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
    """

    def __init__(self, name, model_name, description, defaults, parsers, ignored, build, graph):
        self.name = name
        self.model_name = model_name
        self.description = description
        self.defaults = collections.OrderedDict(defaults)
        self.parsers = dict(parsers)
        self.ignored = tuple(ignored)
        self.build = build
        self.graph = graph

    def resolve_args(self, overrides):
        """Defaults updated with overrides {name: text}; raises ValueError on unknown names."""
        args = collections.OrderedDict(self.defaults)
        unknown = [n for n in overrides if n not in self.defaults and n not in self.ignored]
        if unknown:
            allowed = list(self.defaults) + list(self.ignored)
            raise ValueError("unknown --arg name(s) for arch '%s': %s (allowed: %s)"
                             % (self.name, ", ".join(sorted(unknown)), ", ".join(allowed)))
        for n, text in overrides.items():
            if n in self.ignored:
                continue
            args[n] = self.parsers[n](n, text)
        self.check_args(args)
        return args

    def check_args(self, args):
        pass

    def build_module(self, args):
        m = self.build(**args)
        m.eval()
        return m

    def expected_tensors(self, args):
        """OrderedDict key -> shape tuple of the module's state_dict."""
        m = self.build_module(args)
        return collections.OrderedDict((k, tuple(v.shape)) for k, v in m.state_dict().items())


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
                      lambda args: dncnn_graph(args, bias))


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
