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
    """name or name[i] (tuple-returning loaders) -> float32 HxWx3 array in [0, 1]."""
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
    return img.astype(np.float32) / 255.0


def augment(patch, mode):
    """One of the 8 flip/rot90 modes of an HxWxC array (KAIR's augment_img)."""
    if mode & 4:
        patch = patch[:, ::-1]
    return np.rot90(patch, mode & 3)


def make_batch(images, weights, seed, it, batch, patch, sigma):
    """Deterministic batch number it -> (noisy, clean) NCHW float32 tensors."""
    rng = np.random.default_rng([seed, it])
    clean = np.empty((batch, patch, patch, 3), np.float32)
    for b in range(batch):
        img = images[rng.choice(len(images), p=weights)]
        y = rng.integers(0, img.shape[0] - patch + 1)
        x = rng.integers(0, img.shape[1] - patch + 1)
        clean[b] = augment(img[y:y + patch, x:x + patch], int(rng.integers(0, 8)))
    clean = torch.from_numpy(clean).permute(0, 3, 1, 2).contiguous()
    noise = rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma / 255.0)
    return clean + torch.from_numpy(noise), clean  # no clipping (authors' recipe)


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


def evaluate(model, sigma, seed, threads):
    """Metrics on the held-out photo: noisy input and clamped model output vs clean."""
    clean_u8 = (load_skimage(HELD_OUT) * 255.0 + 0.5).astype(np.uint8).transpose(2, 0, 1)
    clean = clean_u8.astype(np.float32) / 255.0
    noisy = add_eval_noise(clean, sigma, seed)
    t0 = time.time()
    with torch.no_grad():
        out = model(torch.from_numpy(noisy)[None]).numpy()[0]
    dt = time.time() - t0
    res = collections.OrderedDict()
    res["image"] = "skimage.data.%s %dx%d" % (HELD_OUT, clean.shape[2], clean.shape[1])
    res["sigma"] = sigma
    res["noise_seed"] = seed
    for name, img in (("noisy", noisy), ("output", out)):
        q = to_u8(img)
        res[name] = collections.OrderedDict([
            ("psnr_float", psnr(np.clip(img, 0, 1), clean)),
            ("psnr_u8", psnr(q, clean_u8, 255.0)),
            ("ssim_u8", ssim_u8(q, clean_u8))])
    res["forward_seconds"] = dt
    res["threads"] = threads
    return res, out


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
        return DnCNN_FP(in_nc=args["in_nc"], out_nc=args["out_nc"], nc=args["nc"], nb=args["nb"], k=1.0)
    return bbcu_torch.ARCHS[arch].build(**args)


def check_ste(model):
    """The training module's backward must give useful (finite, non-zero) gradients everywhere."""
    model.train()
    x = torch.rand(2, model.model[0].in_channels, 16, 16)
    model.zero_grad()
    F.l1_loss(model(x + 0.1 * torch.randn_like(x)), x).backward()
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
    p.add_argument("--arch", default="dncnn", choices=["dncnn"])
    p.add_argument("--task", default="denoise", choices=["denoise"])
    p.add_argument("--sigma", type=float, default=25.0, help="noise std on the 0..255 scale (default 25)")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="constructor argument as for tools/export_bbcu.py (in_nc, out_nc, nc, nb, k)")
    p.add_argument("--fp", action="store_true", help="train the same-size full-precision DnCNN instead")
    p.add_argument("--iters", type=int, default=3000, help="total iterations (default 3000)")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="also stop when this much training wall time (all sessions together) is spent")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--halve-every", type=int, default=1000, help="halve lr every N iterations (0: never)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--print-every", type=int, default=50)
    p.add_argument("--resume", action="store_true", help="continue from PREFIX.ckpt")
    p.add_argument("--eval", action="store_true", help="evaluate on the held-out photo at the end")
    p.add_argument("--eval-only", action="store_true", help="only evaluate PREFIX.pth")
    p.add_argument("--eval-seed", type=int, default=1, help="noise seed for evaluation (default 1)")
    p.add_argument("--save-images", action="store_true", help="with --eval: write PREFIX.{noisy,output}.png")
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
    model = build_model(ns.arch, args, ns.fp)
    out_dir = os.path.dirname(os.path.abspath(ns.out))
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path, pth_path = ns.out + ".ckpt", ns.out + ".pth"
    kind = "full-precision DnCNN" if ns.fp else "DnCNN-BBCU"
    nparams = sum(p.numel() for p in model.parameters())
    print("%s %s, %d parameters" % (kind, dict(args), nparams), flush=True)

    if ns.eval_only:
        model.load_state_dict(torch.load(pth_path, map_location="cpu"))
        return run_eval(model, ns, None)

    check_ste(model)
    optim = torch.optim.Adam(model.parameters(), lr=ns.lr)
    it, elapsed, hist = 0, 0.0, []
    if ns.resume and os.path.isfile(ckpt_path):
        st = torch.load(ckpt_path, map_location="cpu")
        model.load_state_dict(st["model"])
        optim.load_state_dict(st["optim"])
        it, elapsed, hist = st["iter"], st["elapsed"], st.get("history", [])
        print("resumed from %s at iteration %d (%.1f min trained)" % (ckpt_path, it, elapsed / 60), flush=True)
    elif ns.resume:
        print("no %s: starting from scratch" % ckpt_path, flush=True)

    images = [load_skimage(n) for n in TRAIN_IMAGES]
    area = np.array([im.shape[0] * im.shape[1] for im in images], np.float64)
    weights = np.sqrt(area) / np.sqrt(area).sum()  # larger photos a little more often
    print("training on %d photos (%s), held out: %s; sigma %g, batch %d, patch %d"
          % (len(images), ", ".join(TRAIN_IMAGES), HELD_OUT, ns.sigma, ns.batch, ns.patch), flush=True)

    def save(spent, final=False):
        state = {"model": model.state_dict(), "optim": optim.state_dict(), "iter": it,
                 "elapsed": spent, "history": hist, "args": dict(args), "fp": ns.fp,
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
        noisy, clean = make_batch(images, weights, ns.seed, it, ns.batch, ns.patch, ns.sigma)
        loss = F.l1_loss(model(noisy), clean)
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
        if it % ns.save_every == 0:
            save(elapsed + time.time() - t_start)
    elapsed += time.time() - t_start
    save(elapsed, final=True)
    print("trained %d iterations in %.1f min" % (it, elapsed / 60), flush=True)
    model.eval()
    if ns.eval:
        return run_eval(model, ns, {"iterations": it, "train_minutes": elapsed / 60})
    return 0


def run_eval(model, ns, train_info):
    model.eval()
    res, out = evaluate(model, ns.sigma, ns.eval_seed, ns.threads)
    if train_info:
        res.update(train_info)
    res["model"] = "full-precision DnCNN" if ns.fp else "DnCNN-BBCU"
    with open(ns.out + ".eval.json", "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2), flush=True)
    if ns.save_images:
        from skimage.io import imsave
        clean = load_skimage(HELD_OUT).transpose(2, 0, 1)
        noisy = add_eval_noise((clean * 255 + 0.5).astype(np.uint8).astype(np.float32) / 255, ns.sigma,
                               ns.eval_seed)
        imsave(ns.out + ".noisy.png", to_u8(noisy).transpose(1, 2, 0), check_contrast=False)
        imsave(ns.out + ".output.png", to_u8(out).transpose(1, 2, 0), check_contrast=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
