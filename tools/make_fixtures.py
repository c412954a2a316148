#!/usr/bin/python3
# Run with /usr/bin/python3 (Debian's python3-torch, PyTorch 1.13); the
# `python3` found first on PATH may be another interpreter without torch.
"""Generate the PyTorch parity fixtures in tests/fixtures/.

For each case: build the module from tools/bbcu_torch.py, give it random but
non-trivial parameters (calibrated on a separate image so that every Sign and
PReLU threshold splits its values), save a checkpoint, export it with the real
exporter (tools/export_bbcu.py, run as a subprocess) into
tests/fixtures/<case>/model.json + model.safetensors, and write
tests/fixtures/<case>/io.safetensors with

    input       [1, C, H, W] F32   the image fed to the network
    output      [1, C', H*r, W*r] F32   PyTorch float32 output (CPU, 1 thread; r = upscale or 1)
    output_f64  [1, C', H*r, W*r] F64   the same module in float64 on the same input

The input is re-drawn (next seed) until no Sign input lies near its threshold:
in the float64 forward every Sign input v = x + move0 that is not exactly 0
must have |v| >= SIGN_MARGIN * (1 + max|x| over that unit's input), and where
a first-unit move0 channel is exactly 0 (so exact zeros from the ReLU head reach
Sign) every pre-ReLU head value in that channel must keep the same margin from
0.  The float32 run must then give the same sign pattern everywhere.  When a
case has too many Sign inputs for any draw to pass (the 18-unit paper
configuration has 138240), the best of its draws is kept and each offending
move0 threshold is shifted by the smallest amount that clears twice the margin
(unit by unit, before export); the manifest records these nudges.

DnCNN cases are calibrated by init_parameters (head/units/tail of the flat
``model`` Sequential); every other arch (bbcul, bbcum, the testing arch unit)
by init_parameters_generic, which initialises each full-precision conv and
binary unit (any module with ``move0`` and ``binary_conv``: BBCU-B/U/H/T,
V1-V3) from the input it sees, in forward order; the sign-margin rule and the
nudges are the same, applied to every unit's Sign input.

Finally tests/fixtures/manifest.json lists the cases.  Everything is
deterministic (fixed seeds, one thread): rerunning gives identical bytes.

    /usr/bin/python3 tools/make_fixtures.py [--out tests/fixtures] [--only CASE ...]
"""

import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bbcu_torch  # noqa: E402  (first: exits with a clear message when torch is missing)
import numpy as np  # noqa: E402
import safetensors_io  # noqa: E402
import torch  # noqa: E402

SIGN_MARGIN = 1e-4
MAX_REDRAWS = 1000
NUDGE_FACTOR = 2.0

# name, arch, constructor args, (H, W), checkpoint container, extra options
CASES = [
    dict(name="dncnn_c3_nc16_nb6", arch="dncnn", args=dict(in_nc=3, out_nc=3, nc=16, nb=6, k=130),
         size=(13, 9), container="state_dict", seed=1001),
    dict(name="dncnn_g1_nc32_nb5", arch="dncnn", args=dict(in_nc=1, out_nc=1, nc=32, nb=5, k=130),
         size=(7, 11), container="params", seed=1002, export_extra=["act_mode=BR"]),
    dict(name="dncnn3_g1_nc16_nb4", arch="dncnn3", args=dict(in_nc=1, out_nc=1, nc=16, nb=4, k=130),
         size=(16, 12), container="state_dict", seed=1003),
    dict(name="dncnn_c3_nc70_nb4", arch="dncnn", args=dict(in_nc=3, out_nc=3, nc=70, nb=4, k=130),
         size=(9, 8), container="safetensors", seed=1004),
    dict(name="dncnn_c3_nc64_nb20", arch="dncnn", args=dict(in_nc=3, out_nc=3, nc=64, nb=20, k=130),
         size=(12, 10), container="state_dict", seed=1005, max_redraws=20),
    dict(name="dncnn_g1_nc8_nb3_1x1", arch="dncnn", args=dict(in_nc=1, out_nc=1, nc=8, nb=3, k=20),
         size=(1, 1), container="state_dict", seed=1006),
    dict(name="dncnn_zero_weights", arch="dncnn", args=dict(in_nc=3, out_nc=3, nc=16, nb=4, k=130),
         size=(10, 7), container="state_dict", seed=1007, zero_weights=True),
    # Super-resolution (BBCU-L / BBCU-M): generic calibration (init_parameters_generic).
    dict(name="bbcul_x2", arch="bbcul",
         args=dict(num_in_ch=3, num_out_ch=3, num_feat=16, num_block=2, upscale=2, k=130),
         size=(7, 5), container="params", seed=2001),
    dict(name="bbcul_x3", arch="bbcul",
         args=dict(num_in_ch=1, num_out_ch=1, num_feat=8, num_block=1, upscale=3, k=130),
         size=(6, 9), container="state_dict", seed=2002),
    dict(name="bbcul_x4", arch="bbcul",
         args=dict(num_in_ch=3, num_out_ch=3, num_feat=12, num_block=1, upscale=4, k=130),
         size=(5, 7), container="params", seed=2003),
    dict(name="bbcum_x2", arch="bbcum",
         args=dict(num_in_ch=3, num_out_ch=3, num_feat=16, num_block=1, upscale=2, k=130),
         size=(6, 9), container="params", seed=2004),
    dict(name="bbcum_x3", arch="bbcum",
         args=dict(num_in_ch=3, num_out_ch=3, num_feat=12, num_block=2, upscale=3, k=130),
         size=(7, 5), container="safetensors", seed=2005),
    dict(name="bbcum_x4", arch="bbcum",
         args=dict(num_in_ch=1, num_out_ch=1, num_feat=8, num_block=1, upscale=4, k=60),
         size=(5, 7), container="params", seed=2006),
    # Single units in a tiny network (--arch unit, see bbcu_torch.UnitNet).
    dict(name="unit_v1", arch="unit", args=dict(variant="v1", num_in_ch=3, num_out_ch=3, num_feat=8, k=1),
         size=(7, 5), container="state_dict", seed=3001),
    dict(name="unit_v2", arch="unit", args=dict(variant="v2", num_in_ch=3, num_out_ch=3, num_feat=8, k=1),
         size=(6, 9), container="state_dict", seed=3002),
    dict(name="unit_v3", arch="unit", args=dict(variant="v3", num_in_ch=3, num_out_ch=3, num_feat=8, k=130),
         size=(7, 5), container="state_dict", seed=3003),
    dict(name="unit_v4", arch="unit", args=dict(variant="v4", num_in_ch=1, num_out_ch=1, num_feat=16, k=130),
         size=(6, 9), container="state_dict", seed=3004),
    dict(name="unit_h", arch="unit", args=dict(variant="h", num_in_ch=3, num_out_ch=3, num_feat=16, k=130),
         size=(7, 5), container="state_dict", seed=3005, zero_move0_channels=[1], zero_input_pixels=1),
    dict(name="unit_u2", arch="unit",
         args=dict(variant="u", num_in_ch=3, num_out_ch=3, num_feat=8, upscale=2, k=130),
         size=(6, 9), container="state_dict", seed=3006),
    dict(name="unit_u3", arch="unit",
         args=dict(variant="u", num_in_ch=3, num_out_ch=3, num_feat=8, upscale=3, k=130),
         size=(7, 5), container="state_dict", seed=3007),
    dict(name="unit_t", arch="unit", args=dict(variant="t", num_in_ch=3, num_out_ch=3, num_feat=8, k=130),
         size=(6, 9), container="state_dict", seed=3008),
    # Full-precision conv kernels other than 3x3 (conv_first / conv_last of the unit wrapper). The
    # widths let the kernels' vector interiors run (width - 2*(k//2) >= 16 columns) besides the borders.
    dict(name="unit_k1_k5", arch="unit",
         args=dict(variant="v4", num_in_ch=3, num_out_ch=3, num_feat=8, k=130, head_kernel=1, tail_kernel=5),
         size=(6, 22), container="state_dict", seed=3009),
    dict(name="unit_k7_k9", arch="unit",
         args=dict(variant="v4", num_in_ch=1, num_out_ch=1, num_feat=8, k=130, head_kernel=7, tail_kernel=9),
         size=(9, 40), container="state_dict", seed=3010),
    dict(name="unit_k11", arch="unit",
         args=dict(variant="v4", num_in_ch=1, num_out_ch=1, num_feat=8, k=130, head_kernel=11, tail_kernel=11),
         size=(13, 30), container="state_dict", seed=3011),
    dict(name="unit_k9_k11_small", arch="unit",
         args=dict(variant="u", num_in_ch=3, num_out_ch=3, num_feat=8, upscale=2, k=130, head_kernel=9,
                   tail_kernel=11),
         size=(7, 5), container="state_dict", seed=3012),
    # PReLU (the format's prelu op) after conv_first: one slope per channel, and one shared slope.
    dict(name="unit_prelu", arch="unit",
         args=dict(variant="v4", num_in_ch=3, num_out_ch=3, num_feat=8, k=130, head_act="prelu"),
         size=(5, 20), container="state_dict", seed=3013),
    dict(name="unit_prelu1", arch="unit",
         args=dict(variant="t", num_in_ch=3, num_out_ch=3, num_feat=8, k=130, head_act="prelu1"),
         size=(6, 19), container="state_dict", seed=3014),
    # Weights stored as F16 / BF16: the module's parameters are rounded to that dtype first (so
    # PyTorch's float32 output is that of the widened values), the checkpoint holds them in that
    # dtype, and the exporter writes them so (--weights-dtype). A few binary weights are subnormal
    # in the stored dtype (their sign still counts).
    dict(name="unit_f16", arch="unit", args=dict(variant="v1", num_in_ch=3, num_out_ch=3, num_feat=8, k=1),
         size=(7, 5), container="state_dict", seed=3015, weights_dtype="f16",
         tiny_binary_weights=[(3, 3e-06), (17, -4e-07), (40, 6e-08)]),
    dict(name="unit_bf16", arch="unit",
         args=dict(variant="v4", num_in_ch=3, num_out_ch=3, num_feat=8, k=130, head_act="prelu"),
         size=(6, 9), container="state_dict", seed=3016, weights_dtype="bf16",
         tiny_binary_weights=[(5, 1e-39), (29, -3e-40)]),
]

DNCNN_ARCHS = ("dncnn", "dncnn3")


# --------------------------------------------------------------------------
# Random images and parameters
# --------------------------------------------------------------------------

def draw_image(seed, c, h, w):
    """A smooth random 'clean' image in [0.05, 0.95] plus Gaussian noise (sigma 0.1)."""
    g = torch.Generator().manual_seed(seed)
    yy = torch.arange(h, dtype=torch.float64).view(h, 1)
    xx = torch.arange(w, dtype=torch.float64).view(1, w)
    img = torch.zeros(c, h, w, dtype=torch.float64)
    for ch in range(c):
        acc = torch.zeros(h, w, dtype=torch.float64)
        for _ in range(3):
            fy, fx, ph = (torch.rand(3, generator=g, dtype=torch.float64) * torch.tensor([0.8, 0.8, 6.28],
                                                                                          dtype=torch.float64))
            acc += torch.cos(fy * yy + fx * xx + ph)
        acc = (acc + 3) / 6  # [0, 1]
        img[ch] = 0.05 + 0.9 * acc
    noise = torch.randn(c, h, w, generator=g, dtype=torch.float64) * 0.1
    return (img + noise).to(torch.float32).unsqueeze(0)


def _chan_stats(t):
    """Per-channel mean and std of an NCHW tensor (float64)."""
    t = t.detach().double()
    flat = t.transpose(0, 1).reshape(t.shape[1], -1)
    return flat.mean(1), flat.std(1, unbiased=False)


@torch.no_grad()
def init_parameters(model, case, gen):
    """Non-trivial parameters, calibrated layer by layer on a separate random image."""
    args = case["args"]
    in_nc, nc, nb, k = args["in_nc"], args["nc"], args["nb"], float(args["k"])
    layers = list(model.model)
    head, tail, units = layers[0], layers[-1], layers[2:-1]
    calib = draw_image(case["seed"] * 7919 + 17, in_nc, 24, 20).double()

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=torch.float64)

    model.double()
    x = calib * k
    head.weight.copy_(randn(*head.weight.shape) * 0.1)
    if head.bias is not None:
        head.bias.zero_()
        _, s = _chan_stats(head(x))
        head.bias.copy_(randn(nc) * 0.5 * s)
    h = torch.relu(head(x))

    n_zero_move0 = 0
    for ui, unit in enumerate(units):
        mean, std = _chan_stats(h)
        std = torch.where(std > 0, std, torch.full_like(std, float(std.max()) if float(std.max()) > 0 else 1.0))
        move0 = -mean + 0.5 * std * randn(nc)
        # Keep every (non-zero) threshold clear of 0: a channel that is constant
        # (e.g. a dead ReLU channel) must not sit within rounding distance of it.
        floor = 0.05 * float(std.mean())
        move0 = torch.where(move0.abs() < floor, torch.where(move0 < 0, -floor, floor) + move0, move0)
        if ui == 0:
            # Exact zeros from the ReLU head reach Sign in these channels.
            zero = torch.zeros(nc, dtype=torch.bool)
            zero[torch.arange(1, nc, 4)] = True
            move0[zero] = 0.0
            n_zero_move0 = int(zero.sum())
        unit.move0.bias.copy_(move0.view(1, nc, 1, 1))

        w = randn(*unit.binary_conv.weight.shape)
        if case.get("zero_weights"):
            w[rand(*w.shape) < 0.08] = 0.0  # a few exactly-zero binary weights
            if ui == len(units) - 1:
                w[nc // 3] = 0.0  # one output channel all zero: alpha = 0
        unit.binary_conv.weight.copy_(w)
        if unit.binary_conv.bias is not None:
            unit.binary_conv.bias.zero_()
        t = unit.binary_conv(unit.binary_activation(unit.move0(h)))
        tmean, tstd = _chan_stats(t)
        ts = float(tstd.mean()) if float(tstd.mean()) > 0 else 1.0
        tstd = torch.where(tstd > 0, tstd, torch.full_like(tstd, ts))
        if unit.binary_conv.bias is not None:
            unit.binary_conv.bias.copy_(randn(nc) * 0.5 * tstd)
            tmean = tmean + unit.binary_conv.bias
        unit.relu.pr_bias0.bias.copy_((-tmean + 0.5 * tstd * randn(nc)).view(1, nc, 1, 1))
        unit.relu.pr_prelu.weight.copy_(0.05 + 0.45 * rand(nc))
        unit.relu.pr_bias1.bias.copy_((0.5 * tstd * randn(nc)).view(1, nc, 1, 1))
        h = unit(h)

    # Tail: scaled so that the predicted noise n has std ~0.15*k (output ~ x - 0.15*N(0,1)).
    tw = randn(*tail.weight.shape)
    if tail.bias is not None:
        tail.bias.zero_()
    tail.weight.copy_(tw)
    s = float(tail(h).std())
    tail.weight.copy_(tw * (0.15 * k / s if s > 0 else 1.0))
    if tail.bias is not None:
        tail.bias.copy_(randn(tail.bias.shape[0]) * 0.05 * k)
    model.float()
    return n_zero_move0


# --------------------------------------------------------------------------
# Threshold margins
# --------------------------------------------------------------------------

@torch.no_grad()
def run_with_probes(model, x):
    """Forward pass recording head pre-ReLU values and every unit's (input, Sign input)."""
    layers = list(model.model)
    rec = {"units": []}
    hooks = [layers[0].register_forward_hook(lambda m, i, o: rec.__setitem__("head", o.detach().clone()))]
    for u in layers[2:-1]:
        hooks.append(u.move0.register_forward_hook(
            lambda m, i, o: rec["units"].append((i[0].detach().clone(), o.detach().clone()))))
    try:
        out = model(x)
    finally:
        for hk in hooks:
            hk.remove()
    return out, rec


def check_margins(model32, model64, x32):
    """-> (ok, stats dict) for input x32 (float32 [1,C,H,W])."""
    out64, r64 = run_with_probes(model64, x32.double())
    out32, r32 = run_with_probes(model32, x32)
    viol = 0
    zero_inputs = 0
    total = 0
    min_rel = math.inf
    for (xin, v) in r64["units"]:
        bound = SIGN_MARGIN * (1.0 + float(xin.abs().max()))
        nz = v != 0
        zero_inputs += int((~nz).sum())
        total += v.numel()
        if bool(nz.any()):
            av = v.abs()[nz]
            viol += int((av < bound).sum())
            min_rel = min(min_rel, float(av.min()) / (1.0 + float(xin.abs().max())))
    # Head pre-ReLU values in channels whose first-unit move0 is exactly 0.
    head_viol = 0
    layers = list(model64.model)
    if len(layers) > 3:
        zero_ch = (layers[2].move0.bias.view(-1) == 0).nonzero().view(-1)
        if zero_ch.numel():
            hv = r64["head"][:, zero_ch]
            bound = SIGN_MARGIN * (1.0 + float(r64["head"].abs().max()))
            head_viol = int((hv.abs() < bound).sum())
            viol += head_viol
    # float32 run must produce the same sign pattern.
    flips = 0
    for (_, v64), (_, v32) in zip(r64["units"], r32["units"]):
        flips += int((torch.sign(v64) != torch.sign(v32.double())).sum())
    stats = dict(violations=viol, head_violations=head_viol, zero_sign_inputs=zero_inputs, sign_inputs=total,
                 min_rel_margin=min_rel, f32_sign_flips=flips)
    return viol == 0 and flips == 0, stats, out32, out64


@torch.no_grad()
def nudge_move0(model32, model64, x32):
    """Shift move0 of each channel holding a near-threshold Sign input by the
    smallest amount that clears NUDGE_FACTOR times the margin, unit by unit
    (each unit sees the effect of the nudges before it).  Exactly-zero move0
    channels of the first unit are never touched.  Returns [(unit, channel, delta)]."""
    units64 = list(model64.model)[2:-1]
    units32 = list(model32.model)[2:-1]
    nudged = []
    for j in range(len(units64)):
        _, rec = run_with_probes(model64, x32.double())
        xin, v = rec["units"][j]
        bound = SIGN_MARGIN * (1.0 + float(xin.abs().max()))
        target = NUDGE_FACTOR * bound
        m64 = units64[j].move0.bias.view(-1)
        for c in range(v.shape[1]):
            vc = v[0, c].reshape(-1)
            nz = vc[vc != 0]
            if float(m64[c]) == 0 or nz.numel() == 0 or float(nz.abs().min()) >= bound:
                continue
            cands = torch.cat([torch.zeros(1, dtype=vc.dtype), -vc + target, -vc - target])
            ok = ((vc.view(1, -1) + cands.view(-1, 1)).abs() >= target * (1 - 1e-9)).all(dim=1)
            delta = cands[ok][cands[ok].abs().argmin()]
            old = float(m64[c])
            new = torch.tensor(old + float(delta), dtype=torch.float32)  # float32-representable
            units32[j].move0.bias.view(-1)[c] = new
            m64[c] = new.double()
            nudged.append((j, c, float(new) - old))
    return nudged


# --------------------------------------------------------------------------
# Generic path (every arch other than DnCNN): calibration, probes, nudges
# --------------------------------------------------------------------------

def _is_unit(m):
    return hasattr(m, "move0") and hasattr(m, "binary_conv")


@torch.no_grad()
def init_parameters_generic(model, case, gen, in_ch, k):
    """Calibrate every parameter on a separate random image, module by module in
    forward order (forward pre-hooks see each module's actual input):

    full-precision conv   W ~ N(0,1)/sqrt(fan_in), bias ~ 0.3*std(out)*N(0,1);
                          conv_last instead scaled so y has std 0.15*k, bias ~ 0.05*k*N(0,1)
    binary unit           move0 ~ -mean + 0.5*std*N(0,1) of its input (kept >= 0.05*std from 0;
                          channels listed in case["zero_move0_channels"] of the first unit exactly 0),
                          binary weights N(0,1); V1's BatchNorm: running_mean ~ mean + 0.3*std*N,
                          running_var ~ var*U(0.5, 2), weight ~ U(0.5, 1.5)*(residual std / conv std)
                          with a random sign (20 % negative), bias ~ 0.3*residual std*N;
                          RPReLU calibrated on what it sees (bias0 ~ -mean + 0.5*std*N,
                          slope U(0.05, 0.5), bias1 ~ 0.5*std*N).
    PReLU head_act        slopes U(0.05, 0.5) (one per channel, or one shared).
    Returns the number of exactly-zero move0 entries."""
    calib = draw_image(case["seed"] * 7919 + 17, in_ch, 12, 10).double()

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=torch.float64)

    def safe_std(std):
        fill = float(std.max()) if float(std.max()) > 0 else 1.0
        return torch.where(std > 0, std, torch.full_like(std, fill))

    state = {"units": 0, "zero": 0}

    def conv_hook(name):
        def hook(m, inputs):
            x = inputs[0]
            fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
            m.weight.copy_(randn(*m.weight.shape) / math.sqrt(fan_in))
            m.bias.zero_()
            y = torch.nn.functional.conv2d(x, m.weight, None, padding=m.padding)
            if name == "conv_last":
                s = float(y.std())
                m.weight.mul_(0.15 * k / s if s > 0 else 1.0)
                m.bias.copy_(randn(m.bias.shape[0]) * 0.05 * k)
            else:
                _, std = _chan_stats(y)
                m.bias.copy_(randn(m.bias.shape[0]) * 0.3 * safe_std(std))
        return hook

    def unit_hook(name):
        def hook(m, inputs):
            x = inputs[0]
            c = x.shape[1]
            mean, std = _chan_stats(x)
            std = safe_std(std)
            move0 = -mean + 0.5 * std * randn(c)
            floor = 0.05 * float(std.mean())
            move0 = torch.where(move0.abs() < floor, torch.where(move0 < 0, -floor, floor) + move0, move0)
            if state["units"] == 0:
                for ch in case.get("zero_move0_channels", []):
                    move0[ch] = 0.0
                    state["zero"] += 1
            state["units"] += 1
            m.move0.bias.copy_(move0.view(1, c, 1, 1))
            m.binary_conv.weight.copy_(randn(*m.binary_conv.weight.shape))
            t = m.binary_conv(m.binary_activation(m.move0(x)))
            if isinstance(m, bbcu_torch.BinaryUnitV1):
                tmean, tstd = _chan_stats(t)
                tstd = safe_std(tstd)
                _, xstd = _chan_stats(x)
                bn = m.bn
                bn.running_mean.copy_(tmean + 0.3 * tstd * randn(c))
                bn.running_var.copy_(tstd ** 2 * (0.5 + 1.5 * rand(c)))
                sign = torch.where(rand(c) < 0.2, -1.0, 1.0).double()
                bn.weight.copy_(sign * (0.5 + rand(c)) * float(safe_std(xstd).mean()) / tstd)
                bn.bias.copy_(randn(c) * 0.3 * float(safe_std(xstd).mean()))
                z = bn(t) + x
            elif isinstance(m, bbcu_torch.BinaryUnitV2):  # V2 and V3
                z = t + x
            else:  # V4/B, U, H, T: the activation is on the binary branch
                z = t
            zmean, zstd = _chan_stats(z)
            zstd = safe_std(zstd)
            co = z.shape[1]
            m.relu.pr_bias0.bias.copy_((-zmean + 0.5 * zstd * randn(co)).view(1, co, 1, 1))
            m.relu.pr_prelu.weight.copy_(0.05 + 0.45 * rand(co))
            m.relu.pr_bias1.bias.copy_((0.5 * zstd * randn(co)).view(1, co, 1, 1))
        return hook

    def prelu_hook(m, inputs):
        m.weight.copy_(0.05 + 0.45 * rand(m.weight.shape[0]))

    model.double()
    hooks = []
    for name, m in model.named_modules():
        if _is_unit(m):
            hooks.append(m.register_forward_pre_hook(unit_hook(name)))
        elif type(m) is torch.nn.Conv2d:
            hooks.append(m.register_forward_pre_hook(conv_hook(name)))
        elif name == "head_act":  # UnitNet's PReLU after conv_first (head_act=prelu|prelu1)
            hooks.append(m.register_forward_pre_hook(prelu_hook))
    try:
        model(calib)
    finally:
        for hk in hooks:
            hk.remove()
    model.float()
    return state["zero"]


@torch.no_grad()
def run_with_probes_generic(model, x):
    """Forward pass recording, for every binary unit in execution order,
    (module name, unit input, Sign input x + move0)."""
    rec = []
    hooks = []
    for name, m in model.named_modules():
        if _is_unit(m):
            hooks.append(m.move0.register_forward_hook(
                lambda mod, i, o, name=name: rec.append((name, i[0].detach().clone(), o.detach().clone()))))
    try:
        out = model(x)
    finally:
        for hk in hooks:
            hk.remove()
    return out, rec


def check_margins_generic(model32, model64, x32):
    """-> (ok, stats, out32, out64): the sign-margin rule over every unit's Sign input."""
    out64, r64 = run_with_probes_generic(model64, x32.double())
    out32, r32 = run_with_probes_generic(model32, x32)
    viol = zero_inputs = total = 0
    min_rel = math.inf
    for (_, xin, v) in r64:
        bound = SIGN_MARGIN * (1.0 + float(xin.abs().max()))
        nz = v != 0
        zero_inputs += int((~nz).sum())
        total += v.numel()
        if bool(nz.any()):
            av = v.abs()[nz]
            viol += int((av < bound).sum())
            min_rel = min(min_rel, float(av.min()) / (1.0 + float(xin.abs().max())))
    flips = 0
    for (_, _, v64), (_, _, v32) in zip(r64, r32):
        flips += int((torch.sign(v64) != torch.sign(v32.double())).sum())
    stats = dict(violations=viol, head_violations=0, zero_sign_inputs=zero_inputs, sign_inputs=total,
                 min_rel_margin=min_rel, f32_sign_flips=flips)
    return viol == 0 and flips == 0, stats, out32, out64


@torch.no_grad()
def nudge_move0_generic(model32, model64, x32):
    """nudge_move0 for any arch: units in execution order; exactly-zero move0 entries untouched."""
    mods64 = dict(model64.named_modules())
    mods32 = dict(model32.named_modules())
    _, rec = run_with_probes_generic(model64, x32.double())
    names = [r[0] for r in rec]
    nudged = []
    for j, name in enumerate(names):
        _, rec = run_with_probes_generic(model64, x32.double())
        _, xin, v = rec[j]
        bound = SIGN_MARGIN * (1.0 + float(xin.abs().max()))
        target = NUDGE_FACTOR * bound
        m64 = mods64[name].move0.bias.view(-1)
        for c in range(v.shape[1]):
            vc = v[0, c].reshape(-1)
            nz = vc[vc != 0]
            if float(m64[c]) == 0 or nz.numel() == 0 or float(nz.abs().min()) >= bound:
                continue
            cands = torch.cat([torch.zeros(1, dtype=vc.dtype), -vc + target, -vc - target])
            ok = ((vc.view(1, -1) + cands.view(-1, 1)).abs() >= target * (1 - 1e-9)).all(dim=1)
            delta = cands[ok][cands[ok].abs().argmin()]
            old = float(m64[c])
            new = torch.tensor(old + float(delta), dtype=torch.float32)
            mods32[name].move0.bias.view(-1)[c] = new
            m64[c] = new.double()
            nudged.append((j, c, float(new) - old))
    return nudged



def psnr(a, b, peak=1.0):
    mse = float(((a.double() - b.double()) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


# --------------------------------------------------------------------------
# Case generation
# --------------------------------------------------------------------------

TORCH_DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}
STORED_DTYPES = {"f16": "F16", "bf16": "BF16"}


@torch.no_grad()
def round_parameters(model, weights_dtype):
    """Round every floating parameter and buffer to weights_dtype and back (float32), so the
    module computes with exactly the values the compiler widens from the weights file."""
    dt = TORCH_DTYPES[weights_dtype]
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            t.copy_(t.to(dt).to(t.dtype))


@torch.no_grad()
def set_tiny_binary_weights(model, entries):
    """Set binary weights of the (only) unit to tiny values, subnormal once stored: [(flat index, value)]."""
    (unit,) = [u for u in model.modules() if _is_unit(u)]
    w = unit.binary_conv.weight.view(-1)
    for i, v in entries:
        w[i] = v


def save_checkpoint(sd, container, tmpdir):
    if container == "safetensors":
        path = os.path.join(tmpdir, "checkpoint.safetensors")
        safetensors_io.save(path, [(k, v.detach().cpu().numpy()) for k, v in sd.items()])
    elif container == "params":
        path = os.path.join(tmpdir, "checkpoint.pth")
        torch.save({"params": sd}, path)
    else:
        path = os.path.join(tmpdir, "checkpoint.pth")
        torch.save(sd, path)
    return path


def make_case(case, out_root):
    name, arch, args = case["name"], case["arch"], case["args"]
    spec = bbcu_torch.ARCHS[arch]
    resolved = spec.resolve_args({k: str(v) for k, v in args.items()})
    in_ch = spec.input_channels(resolved)
    dncnn = arch in DNCNN_ARCHS
    torch.manual_seed(case["seed"])
    gen = torch.Generator().manual_seed(case["seed"])
    model = spec.build_module(resolved)
    if dncnn:
        n_zero_move0 = init_parameters(model, case, gen)
        margins, nudge, units_of = check_margins, nudge_move0, lambda m: list(m.model)[2:-1]
    else:
        n_zero_move0 = init_parameters_generic(model, case, gen, in_ch, float(resolved["k"]))
        margins, nudge = check_margins_generic, nudge_move0_generic
        units_of = lambda m: [u for u in m.modules() if _is_unit(u)]  # noqa: E731
    weights_dtype = case.get("weights_dtype")
    if case.get("tiny_binary_weights"):
        set_tiny_binary_weights(model, case["tiny_binary_weights"])
    if weights_dtype:
        round_parameters(model, weights_dtype)
    model.eval()
    model64 = spec.build_module(resolved)
    model64.load_state_dict(model.state_dict())
    model64.double().eval()

    h, w = case["size"]
    max_redraws = case.get("max_redraws", MAX_REDRAWS)
    redraws = 0
    best = None
    while True:
        seed = case["seed"] * 1000 + redraws
        x = draw_image(seed, in_ch, h, w)
        if case.get("zero_input_pixels") is not None:
            x[0, case["zero_input_pixels"], ::3, ::2] = 0.0  # exact zeros reach Sign (zero move0 there)
        ok, stats, out32, out64 = margins(model, model64, x)
        key = (stats["head_violations"], stats["violations"])  # nudging cannot fix the head
        if best is None or key < best[0]:
            best = (key, seed, x)
        if ok or redraws + 1 >= max_redraws:
            break
        redraws += 1
    nudged = []
    if not ok:
        # Too many Sign inputs for any draw to clear the margin: keep the best
        # draw and move the offending move0 thresholds minimally instead.
        _, seed, x = best
        nudged = nudge(model, model64, x)
        ok, stats, out32, out64 = margins(model, model64, x)
        if not ok:
            raise SystemExit("%s: Sign inputs still near a threshold after %d draws and %d move0 nudges: %r"
                             % (name, redraws + 1, len(nudged), stats))
        if weights_dtype:  # a nudged move0 is a float32 value, not one of weights_dtype
            raise SystemExit("%s: move0 nudges are not supported with weights_dtype %s" % (name, weights_dtype))

    case_dir = os.path.join(out_root, name)
    if os.path.isdir(case_dir):
        shutil.rmtree(case_dir)
    os.makedirs(case_dir)
    sd = model.state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt_sd = sd
        if weights_dtype:  # the checkpoint holds the parameters in that dtype (exact: they are rounded)
            ckpt_sd = collections.OrderedDict((k, v.to(TORCH_DTYPES[weights_dtype]) if v.is_floating_point() else v)
                                              for k, v in sd.items())
        ckpt = save_checkpoint(ckpt_sd, case["container"], tmp)
        # The built-in writer: the same bytes whether or not the safetensors package is installed.
        cmd = [sys.executable, os.path.join(HERE, "export_bbcu.py"), "--arch", arch, "--checkpoint", ckpt,
               "--safetensors-writer", "builtin"]
        for k, v in args.items():
            cmd += ["--arg", "%s=%s" % (k, v)]
        for extra in case.get("export_extra", []):
            cmd += ["--arg", extra]
        if weights_dtype:
            cmd += ["--weights-dtype", weights_dtype]
        cmd += ["--out", os.path.join(case_dir, "model")]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    # The exported weights must be the module's parameters, bit for bit
    # (BatchNorm's num_batches_tracked is not exported).
    exported, meta = safetensors_io.load(os.path.join(case_dir, "model.safetensors"))
    assert meta == {"format": "bbcu-weights", "arch": arch}, meta
    sd_used = collections.OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    assert set(exported) == set(sd_used), (set(exported) ^ set(sd_used))
    for k, v in sd_used.items():
        assert np.array_equal(exported[k], v.numpy()), k
    # ... stored in the requested dtype (parse() widens BF16, so read the header).
    stored = safetensors_io.load_dtypes(os.path.join(case_dir, "model.safetensors"))
    want = STORED_DTYPES[weights_dtype] if weights_dtype else "F32"
    assert set(stored.values()) == {want}, stored
    if case.get("tiny_binary_weights"):
        (ukey,) = [k for k in sd_used if k.endswith("binary_conv.weight")]
        flat = exported[ukey].astype(np.float32).reshape(-1)
        tiny = [float(flat[i]) for i, _ in case["tiny_binary_weights"]]
        smallest_normal = float(np.finfo(np.float16).tiny) if weights_dtype == "f16" else float(np.finfo(np.float32).tiny)
        assert all(0 < abs(t) < smallest_normal for t in tiny), tiny  # subnormal in the stored dtype

    safetensors_io.save(os.path.join(case_dir, "io.safetensors"), [
        ("input", x.numpy()), ("output", out32.detach().numpy()), ("output_f64", out64.detach().numpy())],
        collections.OrderedDict([("format", "bbcu-fixture-io"), ("case", name)]))

    p = psnr(out32, out64)
    entry = collections.OrderedDict([
        ("name", name),
        ("arch", arch),
        ("args", collections.OrderedDict((k, v) for k, v in args.items())),
        ("checkpoint_container", case["container"]),
    ])
    if weights_dtype:
        entry["weights_dtype"] = STORED_DTYPES[weights_dtype]
    entry["input_shape"] = [1, in_ch, h, w]
    if not dncnn:
        entry["output_shape"] = list(out64.shape)
    entry.update([
        ("param_seed", case["seed"]),
        ("input_seed", seed),
        ("redraws", redraws),
        ("move0_nudges", len(nudged)),
        ("binary_units", len(units_of(model))),
        ("first_unit_zero_move0_channels", n_zero_move0),
        ("sign_inputs", stats["sign_inputs"]),
        ("zero_sign_inputs", stats["zero_sign_inputs"]),
        ("sign_margin_rel", SIGN_MARGIN),
        ("min_sign_margin_rel", round(stats["min_rel_margin"], 8)),
        ("psnr_f32_vs_f64_db", round(p, 2) if math.isfinite(p) else None),
        ("max_abs_diff_f32_vs_f64", float("%.3g" % float((out32.double() - out64).abs().max()))),
        ("output_range", [round(float(out64.min()), 4), round(float(out64.max()), 4)]),
    ])
    if case.get("zero_weights"):
        zeros = sum(int((u.binary_conv.weight == 0).sum()) for u in list(model.model)[2:-1])
        entry["zero_binary_weights"] = zeros
    if case.get("zero_input_pixels") is not None:
        entry["zero_input_pixels"] = int((x == 0).sum())
    if case.get("tiny_binary_weights"):
        entry["subnormal_binary_weights"] = len(case["tiny_binary_weights"])
    print("%-22s input %-16s redraws %4d  nudges %3d  zero-sign-inputs %5d/%-6d  min margin %.2e  PSNR f32/f64 %.1f dB"
          % (name, "x".join(map(str, entry["input_shape"])), redraws, len(nudged), stats["zero_sign_inputs"],
             stats["sign_inputs"], stats["min_rel_margin"], p))
    return entry


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--only", nargs="*", help="generate only these cases (manifest still lists them all)")
    ns = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(ns.out, exist_ok=True)
    manifest_path = os.path.join(ns.out, "manifest.json")
    old = {}
    if ns.only and os.path.isfile(manifest_path):
        with open(manifest_path) as f:
            old = {c["name"]: c for c in json.load(f, object_pairs_hook=collections.OrderedDict)["cases"]}
    entries = []
    for case in CASES:
        if ns.only and case["name"] not in ns.only:
            if case["name"] in old:
                entries.append(old[case["name"]])
            continue
        entries.append(make_case(case, ns.out))
    manifest = collections.OrderedDict([
        ("format", "bbcu-fixtures"),
        ("generator", "tools/make_fixtures.py"),
        ("torch_version", torch.__version__.split("+")[0]),
        ("notes", "io.safetensors: input [1,C,H,W] F32, output = PyTorch float32 CPU output, "
                  "output_f64 = same module in float64. No Sign input of the float64 run lies within "
                  "sign_margin_rel*(1+max|unit input|) of 0 unless exactly 0."),
        ("cases", entries),
    ])
    with open(manifest_path, "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
