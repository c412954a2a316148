#!/usr/bin/python3
# Run with /usr/bin/python3 (Debian's python3-torch, PyTorch 1.13); the
# `python3` found first on PATH may be another interpreter without torch.
"""Export a trained BBCU checkpoint to a model graph plus a weights file.

    /usr/bin/python3 tools/export_bbcu.py --arch {dncnn,dncnn3,bbcul,bbcum,unit} \
        --checkpoint FILE [--arg NAME=VALUE ...] [--weights-dtype {f32,f16,bf16}] --out PREFIX

writes PREFIX.json (format "bbcu-model" v1, see docs/model-format.md) and
PREFIX.safetensors (all tensors the graph references, in graph order, as float32,
or with --weights-dtype as float16 / bfloat16, rounded to nearest even).

--arg takes the authors' constructor names.  Defaults are the paper settings:
  dncnn   in_nc=3 out_nc=3 nc=64 nb=20 k=130   (act_mode accepted and ignored)
  dncnn3  in_nc=1 out_nc=1 nc=64 nb=20 k=130   (act_mode accepted and ignored)
  bbcul   num_in_ch=3 num_out_ch=3 num_feat=64 num_block=16 upscale=4 k=130
  bbcum   num_in_ch=3 num_out_ch=3 num_feat=64 num_block=16 upscale=4 k=130
  unit    (testing) variant=v1|v2|v3|v4|h|u|t num_in_ch=3 num_out_ch=3 num_feat=16
          upscale=2 k (1 for v1/v2, else 130) head_kernel=3 tail_kernel=3 (odd, 1..11)
          head_act=lrelu|prelu|prelu1
BatchNorm's num_batches_tracked buffer is accepted in a checkpoint and ignored.

The checkpoint is a .safetensors file, or anything torch.load reads: a bare
state_dict (the authors' denoising code) or a dict holding it under "params"
(BasicSR / the authors' SR code; preferred when present) or else "params_ema".

Exit status: 0 success; 2 usage error, unreadable checkpoint, state_dict
mismatch (every missing, unexpected, mis-shaped, non-float and non-finite tensor
is listed), or a value out of the range of --weights-dtype; 3 PyTorch missing.
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

EXPORTER = "tools/export_bbcu.py"

# --weights-dtype -> safetensors dtype name
WEIGHTS_DTYPES = collections.OrderedDict([("f32", "F32"), ("f16", "F16"), ("bf16", "BF16")])


class ExportError(Exception):
    pass


def parse_arg_list(items):
    out = collections.OrderedDict()
    for item in items or []:
        if "=" not in item:
            raise ExportError("--arg %r: expected NAME=VALUE" % item)
        name, value = item.split("=", 1)
        name = name.strip()
        if not name:
            raise ExportError("--arg %r: empty NAME" % item)
        if name in out:
            raise ExportError("--arg %s given more than once" % name)
        out[name] = value.strip()
    return out


def _torch_load(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch without weights_only
        return torch.load(path, map_location="cpu")


def load_checkpoint(path):
    """-> (OrderedDict key -> numpy array, container description)."""
    if not os.path.isfile(path):
        raise ExportError("checkpoint %s: no such file" % path)
    if path.lower().endswith(".safetensors"):
        try:
            tensors, _ = safetensors_io.load(path)
        except safetensors_io.SafetensorsError as e:
            raise ExportError("checkpoint %s: %s" % (path, e))
        return tensors, "safetensors"
    try:
        obj = _torch_load(path)
    except Exception as e:  # noqa: BLE001 - report any unpickling problem
        raise ExportError("checkpoint %s: torch.load failed: %s" % (path, e))
    container = "state_dict"
    if isinstance(obj, dict) and "params" in obj and isinstance(obj["params"], dict):
        obj, container = obj["params"], "params"
    elif isinstance(obj, dict) and "params_ema" in obj and isinstance(obj["params_ema"], dict):
        obj, container = obj["params_ema"], "params_ema"
    if not isinstance(obj, dict):
        raise ExportError("checkpoint %s: expected a state_dict (dict of tensors), got %s"
                          % (path, type(obj).__name__))
    out = collections.OrderedDict()
    bad = []
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu()
            if v.dtype == torch.bfloat16:  # numpy has no bfloat16; widening to float32 is exact
                v = v.float()
            out[str(k)] = v.numpy()
        else:
            bad.append(str(k))
    if bad:
        raise ExportError("checkpoint %s: not a state_dict: entries that are not tensors: %s "
                          "(a full training checkpoint? pass a dict with 'params' or a bare state_dict)"
                          % (path, ", ".join(bad[:10]) + (" ..." if len(bad) > 10 else "")))
    return out, container


def check_tensors(expected, actual, arch, args, ignored=()):
    """Raise ExportError naming every missing, unexpected and mis-shaped tensor.
    Keys in ``ignored`` (BatchNorm's num_batches_tracked) may be present or not."""
    missing = [k for k in expected if k not in actual]
    unexpected = [k for k in actual if k not in expected and k not in ignored]
    misshaped = [(k, expected[k], tuple(actual[k].shape)) for k in expected
                 if k in actual and tuple(actual[k].shape) != expected[k]]
    nonfloat = [(k, str(actual[k].dtype)) for k in expected
                if k in actual and actual[k].dtype.kind != "f"]
    nonfinite = [k for k in expected if k in actual and actual[k].dtype.kind == "f"
                 and not np.isfinite(actual[k].astype(np.float32)).all()]
    if not (missing or unexpected or misshaped or nonfloat or nonfinite):
        return
    argtext = ", ".join("%s=%s" % (k, bbcu_torch.json_number(v) if k == "k" else v)
                        for k, v in args.items())
    lines = ["checkpoint does not match arch '%s' (%s): %d missing, %d unexpected, %d mis-shaped, "
             "%d non-float, %d non-finite tensor(s)" % (arch, argtext, len(missing), len(unexpected),
                                                        len(misshaped), len(nonfloat), len(nonfinite))]
    for k in missing:
        lines.append("  missing:     %s  expected shape %s" % (k, list(expected[k])))
    for k in unexpected:
        lines.append("  unexpected:  %s  shape %s" % (k, list(actual[k].shape)))
    for k, e, a in misshaped:
        lines.append("  mis-shaped:  %s  expected %s, got %s" % (k, list(e), list(a)))
    for k, d in nonfloat:
        lines.append("  non-float:   %s  dtype %s (expected a floating-point tensor)" % (k, d))
    for k in nonfinite:
        lines.append("  non-finite:  %s  contains NaN or infinity (as float32)" % k)
    raise ExportError("\n".join(lines))


def convert_weights(ordered, weights_dtype):
    """[(key, float32 array)] -> [(key, array or safetensors_io.BF16)] in the stored dtype.
    Rounds to nearest even; raises ExportError naming every tensor with a finite float32
    value that overflows the narrower dtype.  Returns (converted, number of values changed)."""
    if weights_dtype == "f32":
        return ordered, 0
    out, overflow, changed = [], [], 0
    for k, a in ordered:
        if weights_dtype == "f16":
            with np.errstate(over="ignore"):
                c = a.astype("<f2")
            back = c.astype("<f4")
        else:
            c = safetensors_io.BF16.from_float32(a)
            back = c.to_float32()
        if not np.isfinite(back).all():
            overflow.append("  out of range: %s  max |value| %.9g does not fit %s"
                            % (k, float(np.abs(a).max()), WEIGHTS_DTYPES[weights_dtype]))
        changed += int((back != a).sum())
        out.append((k, c))
    if overflow:
        raise ExportError("--weights-dtype %s: %d tensor(s) hold values too large for %s:\n%s"
                          % (weights_dtype, len(overflow), WEIGHTS_DTYPES[weights_dtype], "\n".join(overflow)))
    return out, changed


def export(arch, checkpoint, overrides, out_prefix, weights_dtype="f32"):
    """Returns (json_bytes, safetensors_bytes) after writing PREFIX.json/.safetensors.
    ``weights_dtype``: "f32" (default), "f16" or "bf16", the dtype the weights file stores."""
    if arch not in bbcu_torch.ARCHS:
        raise ExportError("unknown --arch %r (known: %s)" % (arch, ", ".join(bbcu_torch.ARCHS)))
    if weights_dtype not in WEIGHTS_DTYPES:
        raise ExportError("unknown --weights-dtype %r (known: %s)" % (weights_dtype, ", ".join(WEIGHTS_DTYPES)))
    spec = bbcu_torch.ARCHS[arch]
    try:
        args = spec.resolve_args(overrides)
    except ValueError as e:
        raise ExportError(str(e))
    expected, ignored = spec.tensor_spec(args)
    tensors, container = load_checkpoint(checkpoint)
    check_tensors(expected, tensors, arch, args, ignored)

    source = collections.OrderedDict([
        ("exporter", EXPORTER),
        ("arch", arch),
        ("args", collections.OrderedDict(
            (k, bbcu_torch.json_number(v) if isinstance(v, float) else v)
            for k, v in spec.source_args(args).items())),
        ("checkpoint", os.path.basename(checkpoint)),
        ("checkpoint_container", container),
    ])
    if weights_dtype != "f32":
        source["weights_dtype"] = WEIGHTS_DTYPES[weights_dtype]
    doc = bbcu_torch.build_graph(spec, args, source)
    keys = bbcu_torch.graph_tensor_keys(doc)
    # The graph must use exactly the architecture's tensors (guards the graph writers).
    if set(keys) != set(expected) or len(keys) != len(expected):
        raise ExportError("internal error: graph of %s references %s but the module has %s"
                          % (arch, sorted(set(keys) ^ set(expected)), len(expected)))
    ordered = [(k, np.ascontiguousarray(tensors[k], dtype="<f4")) for k in keys]
    ordered, changed = convert_weights(ordered, weights_dtype)
    if changed:
        sys.stderr.write("export_bbcu.py: note: --weights-dtype %s rounded %d of %d weight values "
                         "(the exported model differs slightly from the checkpoint)\n"
                         % (weights_dtype, changed, sum(int(np.asarray(tensors[k]).size) for k in keys)))
    st_bytes = safetensors_io.serialize(
        ordered, collections.OrderedDict([("format", bbcu_torch.WEIGHTS_FORMAT_NAME), ("arch", arch)]))
    json_bytes = (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode("utf-8")

    out_dir = os.path.dirname(os.path.abspath(out_prefix))
    if not os.path.isdir(out_dir):
        raise ExportError("--out %s: directory %s does not exist" % (out_prefix, out_dir))
    with open(out_prefix + ".safetensors", "wb") as f:
        f.write(st_bytes)
    with open(out_prefix + ".json", "wb") as f:
        f.write(json_bytes)
    return json_bytes, st_bytes


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(2)


def main(argv=None):
    p = _Parser(prog="export_bbcu.py",
                description="Export a BBCU PyTorch checkpoint to PREFIX.json + PREFIX.safetensors.")
    p.add_argument("--arch", required=True, choices=list(bbcu_torch.ARCHS))
    p.add_argument("--checkpoint", required=True, metavar="FILE",
                   help=".pth/.pt (bare state_dict, or {'params': ...} / {'params_ema': ...}) or .safetensors")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="constructor argument (the authors' names): dncnn/dncnn3: in_nc, out_nc, nc, nb, k "
                        "(act_mode accepted, ignored); bbcul/bbcum: num_in_ch, num_out_ch, num_feat, "
                        "num_block, upscale, k; unit (testing): variant, num_in_ch, num_out_ch, num_feat, "
                        "upscale, k, head_kernel, tail_kernel, head_act")
    p.add_argument("--weights-dtype", default="f32", choices=list(WEIGHTS_DTYPES),
                   help="dtype of the tensors in PREFIX.safetensors (default f32; f16 and bf16 round "
                        "to nearest even, and the compiler widens them back to float32 exactly)")
    p.add_argument("--out", required=True, metavar="PREFIX", help="writes PREFIX.json and PREFIX.safetensors")
    ns = p.parse_args(argv)
    try:
        overrides = parse_arg_list(ns.arg)
        export(ns.arch, ns.checkpoint, overrides, ns.out, ns.weights_dtype)
    except ExportError as e:
        sys.stderr.write("export_bbcu.py: error: %s\n" % e)
        return 2
    print("wrote %s.json and %s.safetensors" % (ns.out, ns.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
