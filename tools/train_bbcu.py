#!/usr/bin/python3
# Run with /usr/bin/python3 (Debian's python3-torch, PyTorch 1.13); the
# `python3` found first on PATH may be another interpreter without torch.
"""Train a small BBCU denoiser on skimage.data photos (a scaled-down paper recipe).

    /usr/bin/python3 tools/train_bbcu.py --arch dncnn --task denoise --sigma 25 \
        --arg nc=32 --arg nb=8 --arg k=65 --iters 3000 --minutes 20 --out .tmp/train/denoise

Recipe (Xia et al., ICLR 2023, BBCU-denoiseAndblocking, scaled down for a CPU):
L1 loss between the network output and the clean patch; Adam; random 48x48
crops with one of the 8 flip/rot90 modes; additive white Gaussian noise of
std sigma/255 drawn afresh for every patch and NOT clipped (as the authors'
train and test code do).  The paper uses lr 1e-4; this script defaults to
1e-3 halved every --halve-every iterations, because it trains for minutes, not
days (--lr 1e-4 --halve-every 0 gives the paper's constant rate).

--arg takes the exporter's names and defaults (tools/bbcu_torch.py ARCHS): k
defaults to the paper's 130 (for nc = 64); the paper's rule k* ~ 130*nc/64
gives k = 65 for nc = 32, which the sample model uses.  Pass the same --arg
values to tools/export_bbcu.py.

Data: every colour image of skimage.data except the held-out evaluation photo
(astronaut, 512x512), see TRAIN_IMAGES.

The modules are tools/bbcu_torch.py's (the authors' training-time modules,
with their straight-through estimators: BinaryActivation's piecewise-quadratic
surrogate gradient and HardBinaryConv's clipped-weight STE).  --fp trains the
same-size full-precision DnCNN (Conv+ReLU body, no BN) for comparison; it
cannot be exported by tools/export_bbcu.py.

Determinism: batch i is drawn from RNGs seeded with (seed, i), so a resumed run
sees the same batches as an uninterrupted one.  Training state (model,
optimizer, iteration, elapsed time) is saved to PREFIX.ckpt every --save-every
iterations and at the end; --resume continues from it.  The bare state_dict
(what tools/export_bbcu.py reads) is written to PREFIX.pth.  --eval (or
--eval-only) evaluates on the held-out photo and writes PREFIX.eval.json.

Noise for evaluation uses a counter-based generator (SplitMix64 + Box-Muller
in double precision, see gaussian_noise) that samples/Denoise reproduces
exactly, so the PSNRs printed by the C# sample are comparable with these.
"""

import argparse
import collections
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bbcu_torch  # noqa: E402  (exits with a clear message when torch is missing)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Colour photos of skimage.data used for training (astronaut is held out).
TRAIN_IMAGES = ("chelsea", "coffee", "rocket", "stereo_motorcycle[0]", "stereo_motorcycle[1]",
                "hubble_deep_field", "immunohistochemistry", "retina")
HELD_OUT = "astronaut"


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def load_skimage(name):
    """name or name[i] (tuple-returning loaders) -> uint8 HxWx3 array."""
    import skimage.data
    idx = None
    if name.endswith("]"):
        name, idx = name[:-1].split("[")
        idx = int(idx)
    img = getattr(skimage.data, name)()
    if idx is not None:
        img = img[idx]
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError("%s: expected an HxWx3 uint8 image, got %s %s" % (name, img.shape, img.dtype))
    return img


def load_for_task(name, task):
    """uint8 HxWxC training/evaluation image for a task (grey for a one-channel network)."""
    img = load_skimage(name)
    return to_grey_u8(img)[..., None] if task.channels == 1 else img


def augment(patch, mode):
    """One of the 8 flip/rot90 modes of an HxWxC array (KAIR's augment_img)."""
    if mode & 4:
        patch = patch[:, ::-1]
    return np.rot90(patch, mode & 3)


def to_grey_u8(rgb_u8):
    """BT.601 luma of an HxWx3 uint8 image, rounded half away from zero (samples/Shared mirrors it)."""
    y = rgb_u8[..., 0] * 0.299 + rgb_u8[..., 1] * 0.587 + rgb_u8[..., 2] * 0.114
    return np.floor(y + 0.5).clip(0, 255).astype(np.uint8)


def jpeg_u8(img_u8, quality):
    """Encode and decode an HxW (grey) or HxWx3 uint8 array as JPEG with Pillow (libjpeg) at quality."""
    import io
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img_u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L" if img_u8.ndim == 2 else "RGB"))


def _cubic(x):
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1.0)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1.0) & (ax <= 2.0)))


def resize_matrix(in_len, out_len):
    """out_len x in_len weights of MATLAB's imresize(..., 'bicubic') along one axis (antialiased when
    shrinking, symmetric edge padding), in double precision; samples/Shared/Bicubic.cs mirrors it."""
    scale = out_len / in_len
    kw = 4.0 / scale if scale < 1.0 else 4.0
    u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kw / 2.0)
    taps = int(math.ceil(kw)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based source indices
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if scale < 1.0 else _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    i = idx.astype(np.int64) - 1
    i = np.where(i < 0, -i - 1, i)
    i = np.where(i >= in_len, 2 * in_len - i - 1, i)
    m = np.zeros((out_len, in_len), np.float64)
    np.add.at(m, (np.repeat(np.arange(out_len), taps), i.ravel()), w.ravel())
    return m


def imresize_u8(img_u8, out_h, out_w):
    """MATLAB-style bicubic resize of an HxW or HxWxC uint8 image to out_h x out_w, rounded to uint8."""
    mh, mw = resize_matrix(img_u8.shape[0], out_h), resize_matrix(img_u8.shape[1], out_w)
    x = img_u8.astype(np.float64)
    if x.ndim == 2:
        y = mh @ x @ mw.T
    else:
        y = np.stack([mh @ x[:, :, c] @ mw.T for c in range(x.shape[2])], axis=2)
    return np.floor(y + 0.5).clip(0, 255).astype(np.uint8)


class Task:
    """A degradation: what the network sees (input) for a clean patch (target)."""

    def __init__(self, name, channels, scale, sigma=0.0, quality=0):
        self.name, self.channels, self.scale, self.sigma, self.quality = name, channels, scale, sigma, quality

    def describe(self):
        if self.name == "denoise":
            return "Gaussian noise sigma %g" % self.sigma
        if self.name == "deblock":
            return "JPEG quality %d (Pillow), grey" % self.quality
        return "bicubic x%d downscale (MATLAB imresize, antialiased)" % self.scale


def make_batch(images, weights, seed, it, batch, patch, task):
    """Deterministic batch number it -> (input, clean) NCHW float32 tensors. patch is the size of the
    network's input patch (the low-resolution one for super-resolution)."""
    rng = np.random.default_rng([seed, it])
    hp = patch * task.scale
    clean = np.empty((batch, hp, hp, task.channels), np.uint8)
    for b in range(batch):
        img = images[rng.choice(len(images), p=weights)]
        y = rng.integers(0, img.shape[0] - hp + 1)
        x = rng.integers(0, img.shape[1] - hp + 1)
        crop = augment(img[y:y + hp, x:x + hp], int(rng.integers(0, 8)))
        clean[b] = crop.reshape(hp, hp, -1)
    clean_f = torch.from_numpy(clean.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    if task.name == "denoise":
        noise = rng.standard_normal(clean_f.shape, dtype=np.float32) * np.float32(task.sigma / 255.0)
        return clean_f + torch.from_numpy(noise), clean_f  # no clipping (authors' recipe)
    if task.name == "deblock":
        deg = np.stack([jpeg_u8(np.ascontiguousarray(c[..., 0]), task.quality) for c in clean])[..., None]
    else:
        deg = np.stack([imresize_u8(np.ascontiguousarray(c), patch, patch) for c in clean])
    deg_f = torch.from_numpy(deg.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    return deg_f, clean_f


# --------------------------------------------------------------------------
# Evaluation noise: SplitMix64 + Box-Muller (mirrored by samples/Denoise)
# --------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed, n):
    """The first n outputs of SplitMix64 seeded with seed (state += golden before each)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + _GOLDEN * np.arange(1, n + 1, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def gaussian_noise(seed, count):
    """count standard normal float32 values: pair j uses outputs 2j, 2j+1 of SplitMix64(seed);
    u1 = ((a >> 11) + 1) * 2^-53 in (0, 1], u2 = (b >> 11) * 2^-53 in [0, 1);
    z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2) (double precision)."""
    pairs = (count + 1) // 2
    r = splitmix64(seed, 2 * pairs)
    u1 = ((r[0::2] >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0 ** -53
    u2 = (r[1::2] >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    rad = np.sqrt(-2.0 * np.log(u1))
    out = np.empty(2 * pairs, np.float64)
    out[0::2] = rad * np.cos(2.0 * math.pi * u2)
    out[1::2] = rad * np.sin(2.0 * math.pi * u2)
    return out[:count]


def add_eval_noise(chw, sigma, seed):
    """CHW float32 image + sigma/255 * N(0,1) (planar CHW order, float32 result, not clipped)."""
    n = gaussian_noise(seed, chw.size).reshape(chw.shape)
    return (chw.astype(np.float64) + n * (sigma / 255.0)).astype(np.float32)


def psnr(a, b, data_range=1.0):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def to_u8(x):
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def ssim_u8(a, b):
    from skimage.metrics import structural_similarity
    return float(structural_similarity(a, b, channel_axis=0, data_range=255))


def luma_y(chw_u8):
    """ITU-R BT.601 Y of an RGB CHW uint8 image on the 16..235 scale, unrounded (MATLAB rgb2ycbcr,
    BasicSR's test_y_channel)."""
    x = chw_u8.astype(np.float64)
    return (65.481 * x[0] + 128.553 * x[1] + 24.966 * x[2]) / 255.0 + 16.0


def sr_metrics(out_u8, hr_u8, scale):
    """Super-resolution convention: PSNR and SSIM on Y with `scale` border pixels cropped."""
    from skimage.metrics import structural_similarity
    c = slice(scale, -scale)
    ya, yb = luma_y(out_u8)[c, c], luma_y(hr_u8)[c, c]
    return collections.OrderedDict([
        ("psnr_y", psnr(ya, yb, 255.0)),
        ("ssim_y", float(structural_similarity(ya, yb, data_range=255))),
        ("psnr_rgb_u8", psnr(out_u8, hr_u8, 255.0))])


def degrade_eval(task, clean_u8, seed):
    """The held-out photo's network input (float32 CHW) and the comparison image (uint8 CHW: the noisy
    or JPEG input itself, or the bicubic upscale for super-resolution)."""
    if task.name == "denoise":
        noisy = add_eval_noise(clean_u8.astype(np.float32) / 255.0, task.sigma, seed)
        return noisy, to_u8(noisy)
    if task.name == "deblock":
        j = jpeg_u8(clean_u8[0], task.quality)[None]
        return j.astype(np.float32) / 255.0, j
    h, w = clean_u8.shape[1] // task.scale, clean_u8.shape[2] // task.scale
    lr = imresize_u8(clean_u8.transpose(1, 2, 0), h, w)
    bic = imresize_u8(lr, clean_u8.shape[1], clean_u8.shape[2])
    return lr.transpose(2, 0, 1).astype(np.float32) / 255.0, bic.transpose(2, 0, 1)


def evaluate(model, task, seed, threads):
    """Metrics on the held-out photo: the degraded input (bicubic for SR) and the clamped model output."""
    clean_u8 = load_for_task(HELD_OUT, task).transpose(2, 0, 1)
    if task.scale > 1:
        clean_u8 = clean_u8[:, :clean_u8.shape[1] // task.scale * task.scale,
                            :clean_u8.shape[2] // task.scale * task.scale]
    clean_u8 = np.ascontiguousarray(clean_u8)
    inp, base_u8 = degrade_eval(task, clean_u8, seed)
    t0 = time.time()
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(inp))[None]).numpy()[0]
    dt = time.time() - t0
    res = collections.OrderedDict()
    res["image"] = "skimage.data.%s %dx%d%s" % (HELD_OUT, clean_u8.shape[2], clean_u8.shape[1],
                                                  " grey" if task.channels == 1 else "")
    res["task"] = task.describe()
    if task.name == "denoise":
        res["sigma"] = task.sigma
        res["noise_seed"] = seed
    base_name = {"denoise": "noisy", "deblock": "jpeg", "sr": "bicubic"}[task.name]
    for name, img_u8, img in ((base_name, base_u8, inp if task.name == "denoise" else None),
                              ("output", to_u8(out), out)):
        m = collections.OrderedDict()
        if task.name == "sr":
            m = sr_metrics(img_u8, clean_u8, task.scale)
        else:
            if img is not None:
                m["psnr_float"] = psnr(np.clip(img, 0, 1), clean_u8.astype(np.float32) / 255.0)
            m["psnr_u8"] = psnr(img_u8, clean_u8, 255.0)
            m["ssim_u8"] = ssim_u8(img_u8, clean_u8)
        res[name] = m
    res["forward_seconds"] = dt
    res["threads"] = threads
    return res, out, base_u8, clean_u8


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

class DnCNN_FP(nn.Module):
    """Same-size full-precision DnCNN (Conv+ReLU body, no BN), same k scaling as DnCNN_BBCU."""

    def __init__(self, in_nc=3, out_nc=3, nc=64, nb=20, k=1.0):
        super().__init__()
        layers = [nn.Conv2d(in_nc, nc, 3, 1, 1), nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers += [nn.Conv2d(nc, nc, 3, 1, 1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(nc, out_nc, 3, 1, 1))
        self.k = k
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        x = x * self.k
        return (x - self.model(x)) / self.k


def build_model(arch, args, fp):
    if fp:
        if arch not in ("dncnn", "dncnn3"):
            raise ValueError("--fp trains a full-precision DnCNN; it has no %s counterpart here" % arch)
        return DnCNN_FP(in_nc=args["in_nc"], out_nc=args["out_nc"], nc=args["nc"], nb=args["nb"], k=1.0)
    return bbcu_torch.ARCHS[arch].build(**args)


def check_ste(model, channels):
    """The training module's backward must give useful (finite, non-zero) gradients everywhere."""
    model.train()
    x = torch.rand(2, channels, 16, 16)
    model.zero_grad()
    y = model(x + 0.1 * torch.randn_like(x))
    F.l1_loss(y, torch.rand_like(y)).backward()
    dead = [n for n, p in model.named_parameters()
            if p.grad is None or not torch.isfinite(p.grad).all() or float(p.grad.abs().sum()) == 0.0]
    model.zero_grad()
    # move0 / pr_bias start at 0 and PReLU at 0.25: all of them must still receive gradient.
    if dead:
        raise RuntimeError("parameters without useful gradient (STE broken?): %s" % ", ".join(dead))


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(2)


def parse_args(argv):
    p = _Parser(prog="train_bbcu.py", description="Train a small BBCU denoiser on skimage.data photos.")
    p.add_argument("--arch", default="dncnn", choices=["dncnn", "dncnn3", "bbcul", "bbcum"])
    p.add_argument("--task", default="denoise", choices=["denoise", "deblock", "sr"],
                   help="denoise (colour or grey, --sigma), deblock (grey, --quality), "
                        "sr (the scale is the architecture's upscale)")
    p.add_argument("--sigma", type=float, default=25.0, help="noise std on the 0..255 scale (default 25)")
    p.add_argument("--quality", type=int, default=20, help="JPEG quality for --task deblock (default 20)")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="constructor argument as for tools/export_bbcu.py (in_nc, out_nc, nc, nb, k)")
    p.add_argument("--fp", action="store_true", help="train the same-size full-precision DnCNN instead")
    p.add_argument("--iters", type=int, default=3000, help="total iterations (default 3000)")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="also stop when this much training wall time (all sessions together) is spent")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=48,
                   help="network input patch size (low-resolution side for sr; default 48)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--halve-every", type=int, default=1000, help="halve lr every N iterations (0: never)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--print-every", type=int, default=50)
    p.add_argument("--resume", action="store_true", help="continue from PREFIX.ckpt")
    p.add_argument("--init", metavar="WEIGHTS",
                   help="start from these weights (an exported .safetensors or a .pth state_dict) instead of at random, "
                        "when there is no PREFIX.ckpt to resume: training goes on from a released model")
    p.add_argument("--init-iter", type=int, default=0, metavar="N",
                   help="with --init: the iteration those weights were trained to, so that the lr schedule and the "
                        "batches continue where that run stopped (Adam's moments start afresh)")
    p.add_argument("--eval-every", type=int, default=0, metavar="N",
                   help="also evaluate on the held-out photo every N iterations and record the PSNR curve "
                        "in PREFIX.eval.json (for reporting only: nothing is chosen by it)")
    p.add_argument("--eval", action="store_true", help="evaluate on the held-out photo at the end")
    p.add_argument("--eval-only", action="store_true", help="only evaluate PREFIX.pth")
    p.add_argument("--eval-seed", type=int, default=1, help="noise seed for evaluation (default 1)")
    p.add_argument("--save-images", action="store_true",
                   help="with --eval: write PREFIX.input.png (noisy/JPEG/bicubic) and PREFIX.output.png")
    p.add_argument("--out", required=True, metavar="PREFIX")
    return p.parse_args(argv)


def main(argv=None):
    ns = parse_args(argv)
    torch.set_num_threads(ns.threads)
    np.finfo(np.float32), np.finfo(np.float64)  # (before flushing denormals: avoids numpy warnings)
    torch.set_flush_denormal(True)  # denormal floats make CPU training crawl
    torch.manual_seed(ns.seed)
    spec = bbcu_torch.ARCHS[ns.arch]
    overrides = collections.OrderedDict()
    for item in ns.arg:
        name, _, value = item.partition("=")
        overrides[name.strip()] = value.strip()
    try:
        args = spec.resolve_args(overrides)
    except ValueError as e:
        sys.stderr.write("train_bbcu.py: error: %s\n" % e)
        return 2
    try:
        task = make_task(ns, args)
        model = build_model(ns.arch, args, ns.fp)
    except ValueError as e:
        sys.stderr.write("train_bbcu.py: error: %s\n" % e)
        return 2
    out_dir = os.path.dirname(os.path.abspath(ns.out))
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path, pth_path = ns.out + ".ckpt", ns.out + ".pth"
    kind = "full-precision DnCNN" if ns.fp else spec.model_name
    nparams = sum(p.numel() for p in model.parameters())
    print("%s %s, %d parameters" % (kind, dict(args), nparams), flush=True)

    if ns.eval_only:
        model.load_state_dict(torch.load(pth_path, map_location="cpu"))
        return run_eval(model, ns, task, None)

    check_ste(model, task.channels)
    optim = torch.optim.Adam(model.parameters(), lr=ns.lr)
    it, elapsed, hist = 0, 0.0, []
    if ns.resume and os.path.isfile(ckpt_path):
        st = torch.load(ckpt_path, map_location="cpu")
        model.load_state_dict(st["model"])
        optim.load_state_dict(st["optim"])
        it, elapsed, hist = st["iter"], st["elapsed"], st.get("history", [])
        print("resumed from %s at iteration %d (%.1f min trained)" % (ckpt_path, it, elapsed / 60), flush=True)
    elif ns.init:
        model.load_state_dict(load_weights(ns.init))
        it = ns.init_iter
        print("starting from %s at iteration %d (no %s to resume)" % (ns.init, it, ckpt_path), flush=True)
    elif ns.resume:
        print("no %s: starting from scratch" % ckpt_path, flush=True)
    curve = [] if not (ns.resume and os.path.isfile(ckpt_path)) else st.get("curve", [])

    images = [load_for_task(n, task) for n in TRAIN_IMAGES]
    area = np.array([im.shape[0] * im.shape[1] for im in images], np.float64)
    weights = np.sqrt(area) / np.sqrt(area).sum()  # larger photos a little more often
    print("training on %d photos (%s), held out: %s; %s, batch %d, input patch %d"
          % (len(images), ", ".join(TRAIN_IMAGES), HELD_OUT, task.describe(), ns.batch, ns.patch), flush=True)

    def save(spent, final=False):
        state = {"model": model.state_dict(), "optim": optim.state_dict(), "iter": it,
                 "elapsed": spent, "history": hist, "curve": curve, "args": dict(args), "fp": ns.fp,
                 "cli": vars(ns)}
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        torch.save(model.state_dict(), pth_path)
        if final:
            print("saved %s (state_dict) and %s at iteration %d" % (pth_path, ckpt_path, it), flush=True)

    model.train()
    t_start, run_loss, run_n, it0 = time.time(), 0.0, 0, it
    limit = ns.minutes * 60.0 if ns.minutes > 0 else float("inf")
    while it < ns.iters and elapsed + (time.time() - t_start) < limit:
        lr = ns.lr * (0.5 ** (it // ns.halve_every) if ns.halve_every > 0 else 1.0)
        for g in optim.param_groups:
            g["lr"] = lr
        inp, clean = make_batch(images, weights, ns.seed, it, ns.batch, ns.patch, task)
        loss = F.l1_loss(model(inp), clean)
        optim.zero_grad()
        loss.backward()
        optim.step()
        it += 1
        run_loss += float(loss)
        run_n += 1
        if it % ns.print_every == 0:
            now = elapsed + time.time() - t_start
            hist.append((it, run_loss / run_n, now))
            print("iter %6d  lr %.2e  L1 %.5f  %.1f min  %.2f s/iter"
                  % (it, lr, run_loss / run_n, now / 60, (time.time() - t_start) / (it - it0)), flush=True)
            run_loss, run_n = 0.0, 0
        if ns.eval_every > 0 and it % ns.eval_every == 0:
            t_eval = time.time()
            model.eval()
            res, _, _, _ = evaluate(model, task, ns.eval_seed, ns.threads)
            model.train()
            t_start += time.time() - t_eval  # evaluation time is not training time
            point = {"iteration": it, "minutes": round((elapsed + time.time() - t_start) / 60, 2)}
            point.update({k: v for k, v in res["output"].items()})
            curve.append(point)
            print("eval   %6d  %s" % (it, json.dumps(res["output"])), flush=True)
        if it % ns.save_every == 0:
            save(elapsed + time.time() - t_start)
    elapsed += time.time() - t_start
    save(elapsed, final=True)
    print("trained %d iterations in %.1f min" % (it, elapsed / 60), flush=True)
    model.eval()
    if ns.eval:
        info = {"iterations": it, "train_minutes": elapsed / 60}
        if ns.init:
            info["init"] = {"weights": os.path.basename(ns.init), "iteration": ns.init_iter}
        if curve:
            info["curve"] = curve
        return run_eval(model, ns, task, info)
    return 0


def load_weights(path):
    """A state_dict from an exported .safetensors file or a .pth, read as the exporter reads a checkpoint
    (wrappers and "module." prefixes removed)."""
    from bbcu_export.export import load_checkpoint
    return {name: torch.from_numpy(np.array(value)) for name, value in load_checkpoint(path).tensors.items()}


def make_task(ns, args):
    if ns.task == "denoise":
        return Task("denoise", args.get("in_nc", 3), 1, sigma=ns.sigma)
    if ns.task == "deblock":
        if args.get("in_nc") != 1 or args.get("out_nc") != 1:
            raise ValueError("--task deblock trains a grey network: use --arch dncnn3 (in_nc = out_nc = 1)")
        if not 1 <= ns.quality <= 100:
            raise ValueError("--quality %d: JPEG quality is 1..100" % ns.quality)
        return Task("deblock", 1, 1, quality=ns.quality)
    if "upscale" not in args:
        raise ValueError("--task sr needs a super-resolution architecture (--arch bbcum or bbcul)")
    return Task("sr", args["num_in_ch"], args["upscale"])


def run_eval(model, ns, task, train_info):
    model.eval()
    res, out, base_u8, clean_u8 = evaluate(model, task, ns.eval_seed, ns.threads)
    if train_info:
        res.update(train_info)
    res["model"] = "full-precision DnCNN" if ns.fp else bbcu_torch.ARCHS[ns.arch].model_name
    with open(ns.out + ".eval.json", "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2), flush=True)
    if ns.save_images:
        from skimage.io import imsave
        for name, img in (("input", base_u8), ("output", to_u8(out))):
            imsave(ns.out + "." + name + ".png", np.squeeze(img.transpose(1, 2, 0)), check_contrast=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
