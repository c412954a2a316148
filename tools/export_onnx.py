#!/usr/bin/python3
# Run with /usr/bin/python3 (Debian's python3-torch, PyTorch 1.13); the
# `python3` found first on PATH may be another interpreter without torch.
"""Models for the benchmarks in bench/: seeded random checkpoints and ONNX exports.

    export_onnx.py checkpoint --arch ARCH [--arg NAME=VALUE ...] [--seed N] --out FILE.pth
        A seeded random state_dict for a BBCU architecture (tools/bbcu_torch.py ARCHS):
        PyTorch's default conv initialisation, and small random values for the
        learnable biases (move0, RPReLU biases) and PReLU slopes, so that every
        tensor matters. Feed it to tools/export_bbcu.py for our JSON + safetensors.

    export_onnx.py onnx --arch ARCH --checkpoint FILE [--arg ...] --form training|lean
                        --width W --height H --out FILE.onnx
        The same network as an ONNX file for ONNX Runtime, input 1×C×H×W float32:
        training  the authors' forward as written (straight-through Sign expression
                  sign(x).detach() - s(x).detach() + s(x), HardBinaryConv's alpha/sign/clamp
                  weight expression, LearnableBias as x + b.expand_as(x));
        lean      plain Sign(x + b), weights pre-binarised to alpha·sign(W) as an ordinary
                  Conv initialiser, plain broadcast bias adds.

    export_onnx.py float-dncnn [--in-nc 3] [--nc 64] [--nb 20] [--seed N] --width W --height H --out FILE.onnx
        The full-precision DnCNN of the same shape (KAIR act_mode "R": nb conv layers,
        ReLU between them, no batch norm, output x - model(x)), random weights.

    export_onnx.py layer [--channels 64] [--seed N] --width W --height H --out PREFIX
        One BBCU-B unit C→C as our model (PREFIX.json + PREFIX.safetensors: input
        with C channels, binary_conv2d → rprelu → add) and one float Conv C→C 3×3 with
        bias as PREFIX_conv.onnx.

Every ONNX file has a fixed input shape 1×C×H×W (name "x") and one output ("y"); opset 13.
"""

import argparse
import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bbcu_torch  # noqa: E402  (first: exits with a clear message when torch is missing)
import numpy as np  # noqa: E402
import safetensors_io  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

OPSET = 13


# --------------------------------------------------------------------------
# Seeded random weights
# --------------------------------------------------------------------------

def randomize(module, seed):
    """Give the learnable biases and PReLU slopes small seeded random values in place
    (the convolutions keep PyTorch's default seeded initialisation)."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, m in module.named_modules():
            if isinstance(m, bbcu_torch.LearnableBias):
                m.bias.copy_((torch.rand(m.bias.shape, generator=g) - 0.5) * 0.2)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.05 + torch.rand(m.weight.shape, generator=g) * 0.25)
    return module


def build_arch(arch, overrides):
    spec = bbcu_torch.ARCHS[arch]
    args = spec.resolve_args(overrides)
    return spec, args


def parse_args_list(items):
    out = collections.OrderedDict()
    for item in items or []:
        if "=" not in item:
            raise SystemExit("--arg %r: expected NAME=VALUE" % item)
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


# --------------------------------------------------------------------------
# The lean form
# --------------------------------------------------------------------------

class PlainBias(nn.Module):
    """x + b with b of shape [1, C, 1, 1] (a broadcast Add, no Expand)."""

    def __init__(self, bias):
        super().__init__()
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x):
        return x + self.bias


class PlainSign(nn.Module):
    def forward(self, x):
        return torch.sign(x)


def lean_conv(hb):
    """HardBinaryConv -> nn.Conv2d with weight alpha[o]·sign(W) (alpha = mean |W[o]|)."""
    w = hb.weight.detach()
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    conv = nn.Conv2d(hb.in_channels, hb.out_channels, hb.kernel_size, stride=hb.stride,
                     padding=hb.padding, bias=hb.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(alpha * torch.sign(w))
        if hb.bias is not None:
            conv.bias.copy_(hb.bias.detach())
    return conv


def make_lean(module):
    """Replace, in place, every BinaryActivation by Sign, HardBinaryConv by a plain Conv with
    pre-binarised weights and LearnableBias by a broadcast add."""
    replacements = []
    for name, m in module.named_modules():
        if isinstance(m, bbcu_torch.BinaryActivation):
            replacements.append((name, PlainSign()))
        elif isinstance(m, bbcu_torch.HardBinaryConv):
            replacements.append((name, lean_conv(m)))
        elif isinstance(m, bbcu_torch.LearnableBias):
            replacements.append((name, PlainBias(m.bias)))
    for name, new in replacements:
        parent = module
        parts = name.split(".")
        for p in parts[:-1]:
            parent = getattr(parent, p)
        setattr(parent, parts[-1], new)
    return module


# --------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------

def export_module(module, channels, width, height, out):
    module.eval()
    x = torch.rand(1, channels, height, width, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.onnx.export(module, (x,), out, opset_version=OPSET, input_names=["x"], output_names=["y"],
                          do_constant_folding=True, export_params=True)
    print("wrote %s (%.1f MB)" % (out, os.path.getsize(out) / 1e6))


def load_state_dict(path):
    if path.lower().endswith(".safetensors"):
        tensors, _ = safetensors_io.load(path)
        return collections.OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in tensors.items())
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:
        obj = torch.load(path, map_location="cpu")
    if isinstance(obj, dict) and isinstance(obj.get("params"), dict):
        obj = obj["params"]
    elif isinstance(obj, dict) and isinstance(obj.get("params_ema"), dict):
        obj = obj["params_ema"]
    return obj


class FloatDnCNN(nn.Module):
    """KAIR DnCNN (act_mode "R"): conv+ReLU, (nb-2)×(conv+ReLU), conv; out = x - model(x)."""

    def __init__(self, in_nc=3, out_nc=3, nc=64, nb=20):
        super().__init__()
        layers = [nn.Conv2d(in_nc, nc, 3, 1, 1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers += [nn.Conv2d(nc, nc, 3, 1, 1, bias=True), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(nc, out_nc, 3, 1, 1, bias=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return x - self.model(x)


class LayerNet(nn.Module):
    """One BBCU-B unit, input C channels (the module path is ``unit``)."""

    def __init__(self, c):
        super().__init__()
        self.unit = bbcu_torch.BinaryConv2d(c, c, 3)

    def forward(self, x):
        return self.unit(x)


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------

def cmd_checkpoint(ns):
    spec, args = build_arch(ns.arch, parse_args_list(ns.arg))
    torch.manual_seed(ns.seed)
    m = randomize(spec.build_module(args), ns.seed)
    torch.save(m.state_dict(), ns.out)
    print("wrote %s (%s, seed %d, %d tensors)" % (ns.out, ns.arch, ns.seed, len(m.state_dict())))


def cmd_onnx(ns):
    spec, args = build_arch(ns.arch, parse_args_list(ns.arg))
    m = spec.build_module(args)
    m.load_state_dict(load_state_dict(ns.checkpoint), strict=True)
    if ns.form == "lean":
        make_lean(m)
    export_module(m, spec.input_channels(args), ns.width, ns.height, ns.out)


def cmd_float_dncnn(ns):
    torch.manual_seed(ns.seed)
    m = FloatDnCNN(ns.in_nc, ns.in_nc, ns.nc, ns.nb)
    export_module(m, ns.in_nc, ns.width, ns.height, ns.out)


def cmd_layer(ns):
    c = ns.channels
    torch.manual_seed(ns.seed)
    net = randomize(LayerNet(c), ns.seed).eval()
    doc = collections.OrderedDict([
        ("format", bbcu_torch.FORMAT_NAME), ("version", bbcu_torch.FORMAT_VERSION),
        ("name", "bbcu_b_layer"),
        ("description", "One BBCU-B unit %d->%d (benchmark), seeded random weights" % (c, c)),
        ("inputs", [collections.OrderedDict([("name", "x"), ("channels", c)])]),
        ("outputs", ["out"]),
        ("nodes", bbcu_torch._binary_unit_nodes("unit", "x", "out", False)),
    ])
    sd = net.state_dict()
    keys = bbcu_torch.graph_tensor_keys(doc)
    ordered = [(k, np.ascontiguousarray(sd[k].numpy(), dtype="<f4")) for k in keys]
    st = safetensors_io.serialize(ordered, collections.OrderedDict(
        [("format", bbcu_torch.WEIGHTS_FORMAT_NAME), ("arch", "layer")]))
    with open(ns.out + ".safetensors", "wb") as f:
        f.write(st)
    with open(ns.out + ".json", "w") as f:
        f.write(json.dumps(doc, indent=2) + "\n")
    print("wrote %s.json and %s.safetensors" % (ns.out, ns.out))
    torch.manual_seed(ns.seed + 7)
    conv = nn.Conv2d(c, c, 3, 1, 1, bias=True)
    export_module(conv, c, ns.width, ns.height, ns.out + "_conv.onnx")


def main(argv=None):
    p = argparse.ArgumentParser(prog="export_onnx.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    a = sub.add_parser("checkpoint", help="seeded random BBCU checkpoint (.pth)")
    a.add_argument("--arch", required=True, choices=list(bbcu_torch.ARCHS))
    a.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE")
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--out", required=True)
    a.set_defaults(fn=cmd_checkpoint)

    a = sub.add_parser("onnx", help="ONNX export of a BBCU checkpoint (training or lean form)")
    a.add_argument("--arch", required=True, choices=list(bbcu_torch.ARCHS))
    a.add_argument("--checkpoint", required=True)
    a.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE")
    a.add_argument("--form", required=True, choices=["training", "lean"])
    a.add_argument("--width", type=int, required=True)
    a.add_argument("--height", type=int, required=True)
    a.add_argument("--out", required=True)
    a.set_defaults(fn=cmd_onnx)

    a = sub.add_parser("float-dncnn", help="full-precision DnCNN, random weights")
    a.add_argument("--in-nc", type=int, default=3)
    a.add_argument("--nc", type=int, default=64)
    a.add_argument("--nb", type=int, default=20)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--width", type=int, required=True)
    a.add_argument("--height", type=int, required=True)
    a.add_argument("--out", required=True)
    a.set_defaults(fn=cmd_float_dncnn)

    a = sub.add_parser("layer", help="one BBCU-B unit (our model files) + one float conv (ONNX)")
    a.add_argument("--channels", type=int, default=64)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--width", type=int, required=True)
    a.add_argument("--height", type=int, required=True)
    a.add_argument("--out", required=True, metavar="PREFIX")
    a.set_defaults(fn=cmd_layer)

    ns = p.parse_args(argv)
    ns.fn(ns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
