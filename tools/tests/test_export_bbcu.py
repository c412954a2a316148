# Run from the repository root with /usr/bin/python3 (Debian's python3-torch):
#     /usr/bin/python3 -m unittest discover -s tools/tests -v
"""Tests of tools/export_bbcu.py, tools/bbcu_torch.py and the model format.

* exporter round trip from every checkpoint container (bare state_dict,
  {"params"}, {"params_ema"}, .safetensors), error reporting, --arg handling,
  byte-for-byte determinism;
* every exported graph validated against docs/bbcu-model.schema.json (with the
  small JSON Schema evaluator below) and against the rules of
  docs/model-format.md that a schema cannot express;
* a numpy interpreter of the graph, written from docs/model-format.md, must
  reproduce the PyTorch module (and the committed fixtures in tests/fixtures).
"""

import collections
import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

TESTS = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(TESTS)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

try:
    import torch  # noqa: E402
except ImportError:  # pragma: no cover
    sys.stderr.write("error: PyTorch is not available in %s: run these tests with /usr/bin/python3 "
                     "(Debian python3-torch)\n" % sys.executable)
    raise
import numpy as np  # noqa: E402

import bbcu_torch  # noqa: E402
import export_bbcu  # noqa: E402
import safetensors_io  # noqa: E402

EXPORTER = os.path.join(TOOLS, "export_bbcu.py")
SCHEMA_PATH = os.path.join(ROOT, "docs", "bbcu-model.schema.json")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


# --------------------------------------------------------------------------
# A small JSON Schema (2020-12 subset) evaluator: enough for our schema.
# --------------------------------------------------------------------------

def _type_ok(value, t):
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    raise AssertionError("schema uses unsupported type %r" % t)


def _equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) == type(b) and a == b


SUPPORTED = {"$schema", "$id", "$defs", "$ref", "title", "description", "type", "const", "enum",
             "required", "properties", "additionalProperties", "items", "minItems", "maxItems",
             "minLength", "minimum", "exclusiveMinimum", "not", "allOf", "if", "then"}


def schema_errors(value, schema, root, path="$"):
    errs = []
    unknown = set(schema) - SUPPORTED
    assert not unknown, "evaluator does not support %s" % unknown
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        errs += schema_errors(value, target, root, path)
    if "type" in schema and not _type_ok(value, schema["type"]):
        return errs + ["%s: expected %s" % (path, schema["type"])]
    if "const" in schema and not _equal(value, schema["const"]):
        errs.append("%s: expected %r" % (path, schema["const"]))
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        errs.append("%s: %r not one of %r" % (path, value, schema["enum"]))
    if "not" in schema and not schema_errors(value, schema["not"], root, path):
        errs.append("%s: must not match %r" % (path, schema["not"]))
    if isinstance(value, str) and "minLength" in schema and len(value) < schema["minLength"]:
        errs.append("%s: shorter than %d" % (path, schema["minLength"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "minimum" in schema \
            and value < schema["minimum"]:
        errs.append("%s: below minimum %r" % (path, schema["minimum"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "exclusiveMinimum" in schema \
            and value <= schema["exclusiveMinimum"]:
        errs.append("%s: not above %r" % (path, schema["exclusiveMinimum"]))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append("%s: fewer than %d items" % (path, schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append("%s: more than %d items" % (path, schema["maxItems"]))
        if "items" in schema:
            for i, v in enumerate(value):
                errs += schema_errors(v, schema["items"], root, "%s[%d]" % (path, i))
    if isinstance(value, dict):
        for r in schema.get("required", []):
            if r not in value:
                errs.append("%s: missing required property %r" % (path, r))
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                errs += schema_errors(v, props[k], root, "%s.%s" % (path, k))
            elif schema.get("additionalProperties", True) is False:
                errs.append("%s: unexpected property %r" % (path, k))
    for sub in schema.get("allOf", []):
        errs += schema_errors(value, sub, root, path)
    if "if" in schema and not schema_errors(value, schema["if"], root, path) and "then" in schema:
        errs += schema_errors(value, schema["then"], root, path)
    return errs


def load_schema():
    with open(SCHEMA_PATH) as f:
        return json.load(f)


# --------------------------------------------------------------------------
# Rules from docs/model-format.md that the schema cannot express
# --------------------------------------------------------------------------

TENSOR_ATTRS = {"conv2d": ("weight", "bias"), "binary_conv2d": ("input_bias", "weight", "bias"),
                "rprelu": ("bias0", "slope", "bias1"), "prelu": ("slope",),
                "batch_norm": ("weight", "bias", "running_mean", "running_var")}


def check_graph(doc, tensors):
    """Structural checks plus shape inference. A value's shape is (C, s): C channels and
    spatial scale s (H*s x W*s for an H x W input; pixel_shuffle and upsample multiply s
    by their factor). -> channels of the output."""
    (inp,) = doc["inputs"]
    channels = {inp["name"]: inp["channels"]}
    scale = {inp["name"]: 1}
    defined = {inp["name"]}
    for n in doc["nodes"]:
        assert n["output"] not in defined, "value %s defined twice" % n["output"]
        defined.add(n["output"])
    pending = list(doc["nodes"])
    used = set()
    while pending:  # any order is allowed: resolve by dependencies
        progress = False
        for n in list(pending):
            if not all(i in channels for i in n["inputs"]):
                continue
            for i in n["inputs"]:
                assert i in defined, "undefined value %s" % i
            c = channels[n["inputs"][0]]
            sc = scale[n["inputs"][0]]
            op = n["op"]
            for attr in TENSOR_ATTRS.get(op, ()):
                if attr in n:
                    assert n[attr] in tensors, "missing tensor %s" % n[attr]
                    used.add(n[attr])
            if op in ("conv2d", "binary_conv2d"):
                w = tensors[n["weight"]]
                assert w.ndim == 4 and w.shape[1] == c and w.shape[2] == w.shape[3] and w.shape[2] % 2 == 1, \
                    (n, w.shape)
                if op == "binary_conv2d":
                    assert w.shape[2] == 3
                    if "input_bias" in n:
                        assert tensors[n["input_bias"]].shape == (1, c, 1, 1)
                if "padding" in n:
                    assert n["padding"] == w.shape[2] // 2
                if "bias" in n:
                    assert tensors[n["bias"]].shape == (w.shape[0],)
                c = w.shape[0]
            elif op == "rprelu":
                assert tensors[n["bias0"]].shape == (1, c, 1, 1)
                assert tensors[n["slope"]].shape in ((c,), (1,))  # [1]: one shared slope
                assert tensors[n["bias1"]].shape == (1, c, 1, 1)
            elif op == "prelu":
                assert tensors[n["slope"]].shape in ((c,), (1,))
            elif op == "batch_norm":
                for attr in ("weight", "bias", "running_mean", "running_var"):
                    assert tensors[n[attr]].shape == (c,), (n, attr)
                assert n["eps"] > 0
            elif op == "pixel_shuffle":
                r = n["factor"]
                assert c % (r * r) == 0, (n, c)
                c, sc = c // (r * r), sc * r
            elif op == "upsample":
                sc = sc * n["factor"]
            elif op == "channel_expand":
                c = n["repeats"] * c + 1
            elif op in ("add", "sub"):
                assert channels[n["inputs"][1]] == c, n
                assert scale[n["inputs"][1]] == sc, n
            channels[n["output"]] = c
            scale[n["output"]] = sc
            pending.remove(n)
            progress = True
        assert progress, "cycle or undefined input among %s" % [n["output"] for n in pending]
    (out,) = doc["outputs"]
    assert out in channels, "output %s is not computed" % out
    assert used == set(tensors), "unreferenced tensors: %s" % sorted(set(tensors) - used)
    return channels[out]


def output_scale(doc):
    """Spatial scale of the output value (1 for DnCNN, r for x r super-resolution)."""
    scale = {doc["inputs"][0]["name"]: 1}
    pending = list(doc["nodes"])
    while pending:
        n = next(n for n in pending if all(i in scale for i in n["inputs"]))
        pending.remove(n)
        f = n["factor"] if n["op"] in ("pixel_shuffle", "upsample") else 1
        scale[n["output"]] = scale[n["inputs"][0]] * f
    return scale[doc["outputs"][0]]


# --------------------------------------------------------------------------
# numpy interpreter of the graph (float64), following docs/model-format.md
# --------------------------------------------------------------------------

def np_conv2d(x, w, b=None):
    """x [C,H,W], w [O,C,k,k], stride 1, zero padding k//2."""
    k = w.shape[2]
    p = k // 2
    c, h, wd = x.shape
    xp = np.zeros((c, h + 2 * p, wd + 2 * p), dtype=np.float64)
    xp[:, p:p + h, p:p + wd] = x
    y = np.zeros((w.shape[0], h, wd), dtype=np.float64)
    for dy in range(k):
        for dx in range(k):
            y += np.einsum("oc,chw->ohw", w[:, :, dy, dx], xp[:, dy:dy + h, dx:dx + wd])
    if b is not None:
        y += b.reshape(-1, 1, 1)
    return y


def np_pixel_shuffle(x, r):
    """[C*r*r, H, W] -> [C, H*r, W*r]: y[c, h*r+i, w*r+j] = x[c*r*r + i*r + j, h, w]."""
    cr, h, w = x.shape
    c = cr // (r * r)
    y = np.empty((c, h * r, w * r), dtype=np.float64)
    for i in range(r):
        for j in range(r):
            y[:, i::r, j::r] = x[(i * r + j)::(r * r)]
    return y


def _bilinear_axis(n_in, r):
    """(i0, i1, lam) per output index: src = max(0, (dst + 0.5)/r - 0.5) (align_corners=False)."""
    dst = np.arange(n_in * r, dtype=np.float64)
    src = np.maximum((dst + 0.5) / r - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def np_upsample(x, mode, r):
    c, h, w = x.shape
    if mode == "nearest":
        return x[:, np.arange(h * r) // r][:, :, np.arange(w * r) // r]
    assert mode == "bilinear", mode
    y0, y1, ly = _bilinear_axis(h, r)
    x0, x1, lx = _bilinear_axis(w, r)
    t = (1 - ly)[None, :, None] * x[:, y0, :] + ly[None, :, None] * x[:, y1, :]
    return (1 - lx)[None, None, :] * t[:, :, x0] + lx[None, None, :] * t[:, :, x1]


def interpret(doc, tensors, x):
    """x [1,C,H,W] -> [1,C',H*s,W*s], all in float64."""
    T = {k: np.asarray(v, dtype=np.float64) for k, v in tensors.items()}
    vals = {doc["inputs"][0]["name"]: np.asarray(x, dtype=np.float64)[0]}
    pending = list(doc["nodes"])
    while pending:
        n = next(n for n in pending if all(i in vals for i in n["inputs"]))
        pending.remove(n)
        a = vals[n["inputs"][0]]
        op = n["op"]
        if op == "conv2d":
            y = np_conv2d(a, T[n["weight"]], T.get(n.get("bias")))
        elif op == "binary_conv2d":
            v = a + T[n["input_bias"]].reshape(-1, 1, 1) if "input_bias" in n else a
            w = T[n["weight"]]
            alpha = np.abs(w).mean(axis=(1, 2, 3))
            y = np_conv2d(np.sign(v), alpha.reshape(-1, 1, 1, 1) * np.sign(w), T.get(n.get("bias")))
        elif op == "rprelu":
            v = a + T[n["bias0"]].reshape(-1, 1, 1)
            y = np.where(v > 0, v, T[n["slope"]].reshape(-1, 1, 1) * v) + T[n["bias1"]].reshape(-1, 1, 1)
        elif op == "prelu":
            y = np.where(a > 0, a, T[n["slope"]].reshape(-1, 1, 1) * a)
        elif op == "relu":
            y = np.maximum(a, 0)
        elif op == "leaky_relu":
            y = np.where(a > 0, a, n["negative_slope"] * a)
        elif op == "add":
            y = a + vals[n["inputs"][1]]
        elif op == "sub":
            y = a - vals[n["inputs"][1]]
        elif op == "mul":
            y = a * n["scalar"]
        elif op == "div":
            y = a / n["scalar"]
        elif op == "batch_norm":
            g = T[n["weight"]].reshape(-1, 1, 1)
            b = T[n["bias"]].reshape(-1, 1, 1)
            mu = T[n["running_mean"]].reshape(-1, 1, 1)
            var = T[n["running_var"]].reshape(-1, 1, 1)
            y = (a - mu) / np.sqrt(var + n["eps"]) * g + b
        elif op == "pixel_shuffle":
            y = np_pixel_shuffle(a, n["factor"])
        elif op == "upsample":
            assert n.get("align_corners", False) is False
            y = np_upsample(a, n["mode"], n["factor"])
        elif op == "channel_expand":
            y = np.concatenate([np.repeat(a, n["repeats"], axis=0), a[:1]], axis=0)
        else:
            raise AssertionError("unknown op %s" % op)
        vals[n["output"]] = y
    return vals[doc["outputs"][0]][None]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def random_module(arch, seed, **args):
    """A module with random, non-trivial parameters (thresholds split values)."""
    spec = bbcu_torch.ARCHS[arch]
    resolved = spec.resolve_args({k: str(v) for k, v in args.items()})
    g = torch.Generator().manual_seed(seed)
    m = spec.build_module(resolved)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "pr_prelu" in name:
                p.copy_(0.05 + 0.45 * torch.rand(p.shape, generator=g))
            elif name == "model.0.weight" or name.endswith("binary_conv.weight"):
                p.copy_(torch.randn(p.shape, generator=g) * (0.1 if name == "model.0.weight" else 1.0))
            elif name.endswith(".weight"):  # tail conv
                p.copy_(torch.randn(p.shape, generator=g) * 0.01)
            else:  # biases: activations are ~10..100 after x*k
                p.copy_(torch.randn(p.shape, generator=g) * 10.0)
    return m


def random_module_generic(arch, seed, **args):
    """bbcul/bbcum/unit module with random, non-trivial parameters for an input in [0, 1]*k."""
    spec = bbcu_torch.ARCHS[arch]
    resolved = spec.resolve_args({k: str(v) for k, v in args.items()})
    g = torch.Generator().manual_seed(seed)
    m = spec.build_module(resolved)
    with torch.no_grad():
        for name, p in list(m.named_parameters()) + list(m.named_buffers()):
            if name.endswith("num_batches_tracked"):
                p.fill_(7)
            elif "pr_prelu" in name or name == "head_act.weight":  # RPReLU / PReLU slopes
                p.copy_(0.05 + 0.45 * torch.rand(p.shape, generator=g))
            elif name.endswith("binary_conv.weight"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith("running_var"):
                p.copy_(0.5 + 20.0 * torch.rand(p.shape, generator=g))
            elif name.endswith("bn.weight"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith(".weight"):  # full-precision conv: keep the value range
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            else:  # move0, RPReLU biases, conv biases, BN bias/running_mean: activations are ~10..100
                p.copy_(torch.randn(p.shape, generator=g) * 10.0)
    return m


def state_dict_np(m):
    return collections.OrderedDict((k, v.detach().numpy().copy()) for k, v in m.state_dict().items())


def run_exporter(*argv):
    p = subprocess.run([sys.executable, EXPORTER] + list(argv), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def export_main(argv):
    """export_bbcu.main in-process (faster than a subprocess), stdout silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        return export_bbcu.main(argv)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class ExporterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.schema = load_schema()
        cls.small_args = dict(in_nc=3, out_nc=3, nc=8, nb=5, k=130)
        cls.model = random_module("dncnn", 7, **cls.small_args)
        cls.sd = state_dict_np(cls.model)
        cls.bare = os.path.join(cls.dir, "bare.pth")
        torch.save(cls.model.state_dict(), cls.bare)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def arg_list(self, args):
        out = []
        for k, v in args.items():
            out += ["--arg", "%s=%s" % (k, v)]
        return out

    def export_ok(self, arch, ckpt, args, prefix):
        rc, out, err = run_exporter("--arch", arch, "--checkpoint", ckpt, *self.arg_list(args),
                                    "--out", prefix)
        self.assertEqual(rc, 0, err)
        with open(prefix + ".json") as f:
            doc = json.load(f, object_pairs_hook=collections.OrderedDict)
        tensors, meta = safetensors_io.load(prefix + ".safetensors")
        return doc, tensors, meta

    def check_export(self, doc, tensors, meta, arch, expected_sd):
        self.assertEqual(schema_errors(doc, self.schema, self.schema), [])
        self.assertEqual(meta, {"format": "bbcu-weights", "arch": arch})
        self.assertEqual(list(tensors), bbcu_torch.graph_tensor_keys(doc))  # graph order
        self.assertEqual(set(tensors), set(expected_sd))
        for k, v in expected_sd.items():
            self.assertEqual(tensors[k].dtype, np.dtype("<f4"), k)
            self.assertTrue(np.array_equal(tensors[k], v.astype(np.float32)), k)
        check_graph(doc, tensors)

    # ---- round trips -----------------------------------------------------

    def test_roundtrip_bare_state_dict(self):
        prefix = self.path("bare")
        doc, tensors, meta = self.export_ok("dncnn", self.bare, self.small_args, prefix)
        self.check_export(doc, tensors, meta, "dncnn", self.sd)
        self.assertEqual(doc["source"]["checkpoint_container"], "state_dict")
        self.assertEqual(doc["source"]["args"], self.small_args)
        # Byte layout: 8-byte length, header padded to a multiple of 8, data contiguous from 0.
        raw = read_bytes(prefix + ".safetensors")
        n = int.from_bytes(raw[:8], "little")
        self.assertEqual((8 + n) % 8, 0)
        header = json.loads(raw[8:8 + n].decode())
        self.assertEqual(list(header)[0], "__metadata__")
        end = 0
        for k in list(header)[1:]:
            b, e = header[k]["data_offsets"]
            self.assertEqual(b, end)
            end = e
        self.assertEqual(end, len(raw) - 8 - n)
        # JSON text: 2-space indent, trailing newline.
        text = read_bytes(prefix + ".json").decode()
        self.assertTrue(text.endswith("}\n"))
        self.assertEqual(text, json.dumps(doc, indent=2) + "\n")

    def test_params_params_ema_and_safetensors_inputs(self):
        ema = collections.OrderedDict((k, v + 1.0) for k, v in self.model.state_dict().items())
        cases = [
            ("params.pth", {"params": self.model.state_dict(), "params_ema": ema}, "params", self.sd),
            ("ema.pth", {"params_ema": self.model.state_dict()}, "params_ema", self.sd),
        ]
        for fname, obj, container, expected in cases:
            with self.subTest(container=container):
                torch.save(obj, self.path(fname))
                doc, tensors, meta = self.export_ok("dncnn", self.path(fname), self.small_args,
                                                    self.path(fname + ".out"))
                self.check_export(doc, tensors, meta, "dncnn", expected)
                self.assertEqual(doc["source"]["checkpoint_container"], container)
        with self.subTest(container="safetensors (F16 and F64 widened/narrowed to F32)"):
            st = self.path("ckpt.safetensors")
            items = list(self.sd.items())
            items[0] = (items[0][0], items[0][1].astype(np.float16))
            items[1] = (items[1][0], items[1][1].astype(np.float64))
            safetensors_io.save(st, items)
            doc, tensors, meta = self.export_ok("dncnn", st, self.small_args, self.path("st.out"))
            expected = collections.OrderedDict((k, v.astype(np.float32)) for k, v in items)
            self.check_export(doc, tensors, meta, "dncnn", expected)
            self.assertEqual(doc["source"]["checkpoint_container"], "safetensors")

    def test_dncnn3_has_biases_and_defaults(self):
        m = random_module("dncnn3", 3, nc=8, nb=4)
        keys = list(m.state_dict())
        for k in ("model.0.bias", "model.2.binary_conv.bias", "model.3.binary_conv.bias", "model.4.bias"):
            self.assertIn(k, keys)
        ck = self.path("d3.pth")
        torch.save(m.state_dict(), ck)
        doc, tensors, meta = self.export_ok("dncnn3", ck, dict(nc=8, nb=4), self.path("d3"))
        self.check_export(doc, tensors, meta, "dncnn3", state_dict_np(m))
        self.assertEqual(doc["source"]["args"], dict(in_nc=1, out_nc=1, nc=8, nb=4, k=130))
        self.assertEqual(doc["inputs"], [{"name": "x", "channels": 1}])
        self.assertTrue(all("bias" in n for n in doc["nodes"] if n["op"] in ("conv2d", "binary_conv2d")))

    def test_paper_defaults(self):
        self.assertEqual(dict(bbcu_torch.ARCHS["dncnn"].defaults),
                         dict(in_nc=3, out_nc=3, nc=64, nb=20, k=130.0))
        self.assertEqual(dict(bbcu_torch.ARCHS["dncnn3"].defaults),
                         dict(in_nc=1, out_nc=1, nc=64, nb=20, k=130.0))
        exp = bbcu_torch.ARCHS["dncnn"].expected_tensors(bbcu_torch.ARCHS["dncnn"].resolve_args({}))
        self.assertEqual(len([k for k in exp if k.endswith("move0.bias")]), 18)
        self.assertEqual(exp["model.20.weight"], (3, 64, 3, 3))
        self.assertNotIn("model.2.binary_conv.bias", exp)

    def test_zero_binary_units(self):
        m = random_module("dncnn", 5, in_nc=1, out_nc=1, nc=4, nb=2, k=20)
        ck = self.path("nb2.pth")
        torch.save(m.state_dict(), ck)
        doc, tensors, meta = self.export_ok("dncnn", ck, dict(in_nc=1, out_nc=1, nc=4, nb=2, k=20),
                                            self.path("nb2"))
        self.check_export(doc, tensors, meta, "dncnn", state_dict_np(m))
        self.assertEqual([n["op"] for n in doc["nodes"]], ["mul", "conv2d", "relu", "conv2d", "sub", "div"])

    # ---- errors ------------------------------------------------------------

    def test_mismatch_names_every_problem(self):
        sd = collections.OrderedDict(self.model.state_dict())
        del sd["model.3.relu.pr_prelu.weight"]
        del sd["model.0.weight"]
        sd["model.2.binary_conv.bias"] = torch.zeros(8)
        sd["extra.thing"] = torch.zeros(2, 2)
        sd["model.4.move0.bias"] = torch.zeros(1, 9, 1, 1)
        sd["model.5.weight"] = torch.zeros(3, 8, 5, 5)
        sd["model.3.move0.bias"] = torch.full((1, 8, 1, 1), float("nan"))
        ck = self.path("bad.pth")
        torch.save(sd, ck)
        rc, out, err = run_exporter("--arch", "dncnn", "--checkpoint", ck, *self.arg_list(self.small_args),
                                    "--out", self.path("bad"))
        self.assertEqual(rc, 2)
        for needle in ("missing:     model.3.relu.pr_prelu.weight  expected shape [8]",
                       "missing:     model.0.weight  expected shape [8, 3, 3, 3]",
                       "unexpected:  model.2.binary_conv.bias  shape [8]",
                       "unexpected:  extra.thing  shape [2, 2]",
                       "mis-shaped:  model.4.move0.bias  expected [1, 8, 1, 1], got [1, 9, 1, 1]",
                       "mis-shaped:  model.5.weight  expected [3, 8, 3, 3], got [3, 8, 5, 5]",
                       "non-finite:  model.3.move0.bias  contains NaN",
                       "2 missing, 2 unexpected, 2 mis-shaped, 0 non-float, 1 non-finite"):
            self.assertIn(needle, err)
        self.assertFalse(os.path.exists(self.path("bad.json")))
        self.assertFalse(os.path.exists(self.path("bad.safetensors")))

    def test_wrong_arch_args_are_a_mismatch(self):
        # Checkpoint has nb=5; --arg nb=20 says what the checkpoint implies, then lists the 15 missing
        # units' tensors (without --arg nb the exporter reads nb=5 from the checkpoint).
        rc, out, err = run_exporter("--arch", "dncnn", "--checkpoint", self.bare,
                                    "--arg", "nc=8", "--arg", "nb=20", "--out", self.path("x"))
        self.assertEqual(rc, 2)
        self.assertIn("export_bbcu.py: error: --arg nb=20 contradicts the checkpoint: the checkpoint implies "
                      "in_nc=3, out_nc=3, nc=8, nb=5", err)
        self.assertIn("missing:     model.19.binary_conv.weight", err)
        self.assertIn("unexpected:  model.5.weight", err)
        self.assertFalse(os.path.exists(self.path("x.json")))

    def test_args_unknown_rejected_act_mode_accepted(self):
        rc, out, err = run_exporter("--arch", "dncnn", "--checkpoint", self.bare, *self.arg_list(self.small_args),
                                    "--arg", "num_feat=64", "--out", self.path("u"))
        self.assertEqual(rc, 2)
        self.assertIn("unknown --arg name(s) for arch 'dncnn': num_feat", err)
        self.assertFalse(os.path.exists(self.path("u.json")))
        for bad, msg in (("nb=abc", "expected an integer"), ("k=0", "must be a finite number > 0"),
                         ("nc", "expected NAME=VALUE")):
            with self.subTest(arg=bad):
                rc, out, err = run_exporter("--arch", "dncnn", "--checkpoint", self.bare, "--arg", bad,
                                            "--out", self.path("u"))
                self.assertEqual(rc, 2)
                self.assertIn(msg, err)
        # act_mode is the authors' constructor argument: accepted, ignored (in-process for speed).
        args = dict(self.small_args, act_mode="BR")
        prefix = self.path("act")
        self.assertEqual(export_main(["--arch", "dncnn", "--checkpoint", self.bare] + self.arg_list(args)
                                          + ["--out", prefix]), 0)
        with open(prefix + ".json") as f:
            self.assertNotIn("act_mode", json.load(f)["source"]["args"])

    def test_unknown_arch_and_bad_checkpoint(self):
        rc, out, err = run_exporter("--arch", "srresnet", "--checkpoint", self.bare, "--out", self.path("z"))
        self.assertEqual(rc, 2)
        self.assertIn("invalid choice", err)
        junk = self.path("junk.pth")
        with open(junk, "wb") as f:
            f.write(b"not a checkpoint")
        stderr = io.StringIO()
        old, sys.stderr = sys.stderr, stderr
        try:
            rc = export_main(["--arch", "dncnn", "--checkpoint", junk, "--out", self.path("z")])
        finally:
            sys.stderr = old
        self.assertEqual(rc, 2)
        self.assertIn("torch.load failed", stderr.getvalue())

    def test_out_creates_its_directory(self):
        # --out models/denoise into a folder that does not exist yet: created, as a user expects.
        prefix = os.path.join(self.path("new"), "models", "denoise")
        self.assertEqual(export_main(["--arch", "dncnn", "--checkpoint", self.bare]
                                     + self.arg_list(self.small_args) + ["--out", prefix]), 0)
        self.assertTrue(os.path.isfile(prefix + ".json") and os.path.isfile(prefix + ".safetensors"))
        # A file where the directory should be: a clear error, nothing written.
        blocker = self.path("blocker")
        with open(blocker, "w") as f:
            f.write("x")
        stderr = io.StringIO()
        old, sys.stderr = sys.stderr, stderr
        try:
            rc = export_main(["--arch", "dncnn", "--checkpoint", self.bare] + self.arg_list(self.small_args)
                             + ["--out", os.path.join(blocker, "denoise")])
        finally:
            sys.stderr = old
        self.assertEqual(rc, 2)
        self.assertIn("cannot create the directory", stderr.getvalue())

    def test_deterministic(self):
        a, b = self.path("det_a"), self.path("det_b")
        for p in (a, b):
            self.assertEqual(export_main(["--arch", "dncnn", "--checkpoint", self.bare]
                                              + self.arg_list(self.small_args) + ["--out", p]), 0)
        self.assertEqual(read_bytes(a + ".json"), read_bytes(b + ".json"))
        self.assertEqual(read_bytes(a + ".safetensors"), read_bytes(b + ".safetensors"))

    # ---- the graph computes what the module computes --------------------------

    def test_interpreter_matches_module(self):
        cases = [("dncnn", dict(self.small_args), 11, (1, 3, 9, 7)),
                 ("dncnn3", dict(in_nc=1, out_nc=1, nc=12, nb=4, k=130), 12, (1, 1, 8, 10)),
                 ("dncnn", dict(in_nc=1, out_nc=1, nc=70, nb=3, k=20), 13, (1, 1, 1, 1))]
        for arch, args, seed, shape in cases:
            with self.subTest(arch=arch, args=args):
                m = random_module(arch, seed, **args)
                ck = self.path("i%d.pth" % seed)
                torch.save(m.state_dict(), ck)
                prefix = self.path("i%d" % seed)
                self.assertEqual(export_main(["--arch", arch, "--checkpoint", ck] + self.arg_list(args)
                                                  + ["--out", prefix]), 0)
                with open(prefix + ".json") as f:
                    doc = json.load(f)
                tensors, _ = safetensors_io.load(prefix + ".safetensors")
                g = torch.Generator().manual_seed(seed)
                x = torch.rand(shape, generator=g) * 1.5 - 0.25
                m64 = m.double()
                with torch.no_grad():
                    ref = m64(x.double()).numpy()
                got = interpret(doc, tensors, x.numpy())
                self.assertEqual(got.shape, ref.shape)
                self.assertLessEqual(float(np.abs(got - ref).max()), 1e-5)
                # and the module is not trivial: the output differs from the input
                self.assertGreater(float(np.abs(ref - x.numpy()).max()), 1e-3)


    # ---- super-resolution archs and units ---------------------------------------

    SR_CASES = [("bbcul", dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=2, k=130), (1, 3, 7, 5)),
                ("bbcul", dict(num_in_ch=1, num_out_ch=1, num_feat=4, num_block=2, upscale=3, k=130), (1, 1, 6, 9)),
                ("bbcul", dict(num_in_ch=3, num_out_ch=3, num_feat=4, num_block=1, upscale=4, k=60), (1, 3, 5, 7)),
                ("bbcum", dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=2, k=130), (1, 3, 6, 9)),
                ("bbcum", dict(num_in_ch=3, num_out_ch=3, num_feat=4, num_block=1, upscale=3, k=130), (1, 3, 1, 1)),
                ("bbcum", dict(num_in_ch=1, num_out_ch=1, num_feat=4, num_block=2, upscale=4, k=130), (1, 1, 7, 5)),
                ("unit", dict(variant="v1", num_feat=8), (1, 3, 7, 5)),
                ("unit", dict(variant="v2", num_feat=8), (1, 3, 6, 9)),
                ("unit", dict(variant="v3", num_feat=8, k=130), (1, 3, 7, 5)),
                ("unit", dict(variant="v4", num_in_ch=1, num_out_ch=1, num_feat=8), (1, 1, 6, 9)),
                ("unit", dict(variant="h", num_feat=16), (1, 3, 7, 5)),
                ("unit", dict(variant="h", num_in_ch=2, num_out_ch=1, num_feat=7), (1, 2, 5, 4)),
                ("unit", dict(variant="u", num_feat=4, upscale=2), (1, 3, 6, 9)),
                ("unit", dict(variant="u", num_feat=4, upscale=3), (1, 3, 7, 5)),
                ("unit", dict(variant="t", num_feat=8), (1, 3, 6, 9)),
                # conv_first / conv_last kernels other than 3x3, PReLU after conv_first
                ("unit", dict(variant="v4", num_feat=4, head_kernel=1, tail_kernel=5), (1, 3, 6, 9)),
                ("unit", dict(variant="u", num_feat=4, upscale=2, head_kernel=7, tail_kernel=11, head_act="prelu"),
                 (1, 3, 5, 4)),
                ("unit", dict(variant="t", num_feat=4, head_kernel=9, head_act="prelu1"), (1, 3, 6, 7)),
                ("unit", dict(variant="v2", num_feat=4, head_kernel=11, tail_kernel=7, head_act="prelu1"),
                 (1, 3, 13, 12))]

    def test_interpreter_matches_module_sr_and_units(self):
        """Every new op in the numpy interpreter against the PyTorch modules (F.interpolate, PixelShuffle)."""
        for i, (arch, args, shape) in enumerate(self.SR_CASES):
            with self.subTest(arch=arch, args=args):
                seed = 100 + i
                m = random_module_generic(arch, seed, **args)
                ck = self.path("sr%d.pth" % seed)
                torch.save({"params": m.state_dict()}, ck)
                prefix = self.path("sr%d" % seed)
                self.assertEqual(export_main(["--arch", arch, "--checkpoint", ck] + self.arg_list(args)
                                             + ["--out", prefix]), 0)
                with open(prefix + ".json") as f:
                    doc = json.load(f)
                tensors, meta = safetensors_io.load(prefix + ".safetensors")
                self.assertEqual(schema_errors(doc, self.schema, self.schema), [])
                self.assertEqual(list(tensors), bbcu_torch.graph_tensor_keys(doc))
                self.assertEqual(check_graph(doc, tensors), doc["source"]["args"].get("num_out_ch", 3))
                g = torch.Generator().manual_seed(seed)
                x = torch.rand(shape, generator=g) * 1.5 - 0.25
                with torch.no_grad():
                    ref = m.double()(x.double()).numpy()
                got = interpret(doc, tensors, x.numpy())
                self.assertEqual(got.shape, ref.shape)
                r = output_scale(doc)
                self.assertEqual(ref.shape[2:], (shape[2] * r, shape[3] * r))
                self.assertLessEqual(float(np.abs(got - ref).max()), 1e-5)
                self.assertGreater(float(np.abs(ref).max()), 1e-3)

    def test_upsampling_ops_match_pytorch(self):
        """pixel_shuffle and upsample (nearest, bilinear align_corners=False) exactly as PyTorch computes them."""
        g = torch.Generator().manual_seed(5)
        for r in (2, 3, 4):
            for h, w in ((1, 1), (5, 7), (6, 9), (2, 3)):
                with self.subTest(r=r, h=h, w=w):
                    x = torch.randn(1, 2 * r * r, h, w, generator=g, dtype=torch.float64)
                    self.assertTrue(np.array_equal(np_pixel_shuffle(x[0].numpy(), r),
                                                   torch.nn.functional.pixel_shuffle(x, r)[0].numpy()))
                    near = torch.nn.functional.interpolate(x, scale_factor=r, mode="nearest")[0].numpy()
                    self.assertTrue(np.array_equal(np_upsample(x[0].numpy(), "nearest", r), near))
                    bil = torch.nn.functional.interpolate(x, scale_factor=r, mode="bilinear",
                                                          align_corners=False)[0].numpy()
                    self.assertLessEqual(float(np.abs(np_upsample(x[0].numpy(), "bilinear", r) - bil).max()), 1e-12)
                    x32 = x.float()
                    bil32 = torch.nn.functional.interpolate(x32, scale_factor=r, mode="bilinear",
                                                            align_corners=False)[0].numpy()
                    self.assertLessEqual(float(np.abs(np_upsample(x32[0].numpy().astype(np.float64), "bilinear", r)
                                                      - bil32).max()), 1e-5)

    def test_sr_state_dict_keys(self):
        """bbcul/bbcum keys and shapes are the authors' (bbcul_arch.py, bbcum_arch.py, quant_convs_bbcu.py)."""
        for arch in ("bbcul", "bbcum"):
            spec = bbcu_torch.ARCHS[arch]
            self.assertEqual(dict(spec.defaults), dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16,
                                                       upscale=4, k=130.0))
            exp = spec.expected_tensors(spec.resolve_args({}))
            body = [k for k in exp if k.startswith("body.") and k.endswith(".move0.bias")]
            self.assertEqual(len(body), 32)  # 16 blocks of two BBCU-B units
            self.assertEqual(body[0], "body.0.body.0.move0.bias")
            self.assertEqual(body[-1], "body.15.body.1.move0.bias")
            self.assertNotIn("body.0.body.0.binary_conv.bias", exp)
            self.assertEqual(exp["conv_first.weight"], (64, 3, 3, 3))
            self.assertEqual(exp["conv_first.bias"], (64,))
            self.assertEqual(exp["conv_last.weight"], (3, 64, 3, 3))
            self.assertEqual(exp["conv_last.bias"], (3,))
        lx4 = bbcu_torch.ARCHS["bbcul"].expected_tensors(bbcu_torch.ARCHS["bbcul"].resolve_args({}))
        self.assertEqual(lx4["upconv1.weight"], (256, 64, 3, 3))
        self.assertEqual(lx4["upconv2.weight"], (256, 64, 3, 3))
        self.assertEqual(lx4["upconv2.bias"], (256,))
        self.assertEqual(lx4["conv_hr.weight"], (64, 64, 3, 3))
        spec = bbcu_torch.ARCHS["bbcul"]
        lx3 = spec.expected_tensors(spec.resolve_args({"upscale": "3"}))
        self.assertEqual(lx3["upconv1.weight"], (576, 64, 3, 3))
        self.assertNotIn("upconv2.weight", lx3)
        spec = bbcu_torch.ARCHS["bbcum"]
        mx4 = spec.expected_tensors(spec.resolve_args({}))
        for up in ("upconv1", "upconv2"):
            self.assertEqual(mx4[up + ".move0.bias"], (1, 64, 1, 1))
            self.assertEqual(mx4[up + ".binary_conv.weight"], (256, 64, 3, 3))
            self.assertEqual(mx4[up + ".relu.pr_bias0.bias"], (1, 256, 1, 1))
            self.assertEqual(mx4[up + ".relu.pr_prelu.weight"], (256,))
            self.assertNotIn(up + ".binary_conv.bias", mx4)
        self.assertEqual(mx4["conv_hr.move0.bias"], (1, 64, 1, 1))
        self.assertEqual(mx4["conv_hr.binary_conv.weight"], (64, 64, 3, 3))
        self.assertNotIn("conv_hr.weight", mx4)
        mx2 = spec.expected_tensors(spec.resolve_args({"upscale": "2", "num_feat": "16", "num_block": "1"}))
        self.assertEqual(mx2["upconv1.binary_conv.weight"], (64, 16, 3, 3))
        self.assertEqual(len(mx2), 2 + 2 * 5 + 5 + 5 + 2)
        self.assertNotIn("upconv2.move0.bias", mx2)

    def test_sr_key_mismatches(self):
        args = dict(num_feat=4, num_block=1, upscale=2)
        m = random_module_generic("bbcul", 3, **args)
        ck = self.path("l.pth")
        torch.save({"params": m.state_dict()}, ck)
        # a BBCU-L checkpoint is not a BBCU-M one
        rc, out, err = run_exporter("--arch", "bbcum", "--checkpoint", ck, *self.arg_list(args), "--out", self.path("lm"))
        self.assertEqual(rc, 2)
        for needle in ("missing:     upconv1.move0.bias  expected shape [1, 4, 1, 1]",
                       "missing:     upconv1.binary_conv.weight  expected shape [16, 4, 3, 3]",
                       "missing:     conv_hr.binary_conv.weight  expected shape [4, 4, 3, 3]",
                       "unexpected:  upconv1.weight  shape [16, 4, 3, 3]",
                       "unexpected:  conv_hr.weight  shape [4, 4, 3, 3]"):
            self.assertIn(needle, err)
        # wrong upscale: x3 expects 9x channels in upconv1
        rc, out, err = run_exporter("--arch", "bbcul", "--checkpoint", ck, "--arg", "num_feat=4", "--arg", "num_block=1",
                                    "--arg", "upscale=3", "--out", self.path("l3"))
        self.assertEqual(rc, 2)
        self.assertIn("mis-shaped:  upconv1.weight  expected [36, 4, 3, 3], got [16, 4, 3, 3]", err)
        # x4 wants upconv2; num_block=2 wants body.1
        rc, out, err = run_exporter("--arch", "bbcul", "--checkpoint", ck, "--arg", "num_feat=4", "--arg", "num_block=2",
                                    "--arg", "upscale=4", "--out", self.path("l4"))
        self.assertEqual(rc, 2)
        self.assertIn("missing:     upconv2.weight  expected shape [16, 4, 3, 3]", err)
        self.assertIn("missing:     body.1.body.1.relu.pr_prelu.weight  expected shape [4]", err)
        self.assertFalse(os.path.exists(self.path("l4.json")))
        # and the right args export it, from {"params": sd}
        doc, tensors, meta = self.export_ok("bbcul", ck, args, self.path("lok"))
        self.check_export(doc, tensors, meta, "bbcul", state_dict_np(m))
        self.assertEqual(doc["source"]["checkpoint_container"], "params")
        self.assertEqual(doc["source"]["args"], dict(num_in_ch=3, num_out_ch=3, num_feat=4, num_block=1,
                                                     upscale=2, k=130))

    def test_sr_and_unit_arg_names(self):
        m = random_module_generic("bbcum", 4, num_feat=4, num_block=1, upscale=2)
        ck = self.path("m.pth")
        torch.save({"params": m.state_dict()}, ck)
        for arch, bad, msg in (
                ("bbcum", "nc=4", "unknown --arg name(s) for arch 'bbcum': nc (allowed: num_in_ch, num_out_ch, "
                                  "num_feat, num_block, upscale, k)"),
                ("bbcul", "in_nc=3", "unknown --arg name(s) for arch 'bbcul': in_nc"),
                ("bbcul", "act_mode=BR", "unknown --arg name(s) for arch 'bbcul': act_mode"),
                ("bbcum", "upscale=5", "--arg upscale=5: must be 2, 3 or 4"),
                ("bbcum", "upscale=x2", "--arg upscale=x2: expected an integer"),
                ("bbcum", "k=-1", "--arg k=-1: must be a finite number > 0"),
                ("bbcum", "num_block=0", "--arg num_block=0: must be >= 1"),
                ("unit", "variant=v5", "--arg variant=v5: must be one of v1|v2|v3|v4|h|u|t"),
                ("unit", "nb=3", "unknown --arg name(s) for arch 'unit': nb"),
        ):
            with self.subTest(arg=bad):
                rc, out, err = run_exporter("--arch", arch, "--checkpoint", ck, "--arg", bad, "--out", self.path("a"))
                self.assertEqual(rc, 2)
                self.assertIn(msg, err)
        spec = bbcu_torch.ARCHS["unit"]
        for over, msg in (({"variant": "v1", "k": "130"}, "variant v1 has no residual alignment, k must be 1"),
                          ({"variant": "v2", "k": "2"}, "variant v2 has no residual alignment, k must be 1"),
                          ({"variant": "v3", "k": "1"}, "variant v3 is V2 with residual alignment, k must be > 1"),
                          ({"variant": "h", "num_feat": "16", "num_in_ch": "1"}, "BBCU-H needs num_feat = s*num_in_ch + 1"),
                          ({"variant": "h", "num_feat": "15"}, "BBCU-H needs num_feat = s*num_in_ch + 1"),
                          ({"variant": "t", "num_out_ch": "1"}, "num_out_ch must equal num_in_ch=3"),
                          ({"variant": "u", "upscale": "4"}, "a BBCU-U unit upsamples by 2 or 3")):
            with self.subTest(over=over):
                with self.assertRaises(ValueError) as cm:
                    spec.resolve_args(over)
                self.assertIn(msg, str(cm.exception))
        self.assertEqual(spec.resolve_args({"variant": "v1"})["k"], 1.0)
        self.assertEqual(spec.resolve_args({"variant": "v2"})["k"], 1.0)
        self.assertEqual(spec.resolve_args({"variant": "v3"})["k"], 130.0)
        self.assertEqual(spec.resolve_args({})["k"], 130.0)

    def test_batch_norm_num_batches_tracked_ignored(self):
        m = random_module_generic("unit", 9, variant="v1", num_feat=4)
        sd = m.state_dict()
        self.assertIn("unit.bn.num_batches_tracked", sd)
        expected = collections.OrderedDict((k, v) for k, v in state_dict_np(m).items()
                                           if not k.endswith("num_batches_tracked"))
        for label, ckpt in (("with", sd), ("without", collections.OrderedDict(
                (k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked")))):
            with self.subTest(num_batches_tracked=label):
                ck = self.path("bn_%s.pth" % label)
                torch.save(ckpt, ck)
                doc, tensors, meta = self.export_ok("unit", ck, dict(variant="v1", num_feat=4), self.path("bn_" + label))
                self.check_export(doc, tensors, meta, "unit", expected)
                bn = [n for n in doc["nodes"] if n["op"] == "batch_norm"]
                self.assertEqual(len(bn), 1)
                self.assertEqual(bn[0]["eps"], 1e-5)
                self.assertEqual(bn[0]["running_var"], "unit.bn.running_var")
                self.assertEqual(doc["source"]["args"]["k"], 1)
        # missing running stats are reported like any other tensor
        bad = collections.OrderedDict((k, v) for k, v in sd.items() if not k.endswith("running_var"))
        ck = self.path("bn_bad.pth")
        torch.save(bad, ck)
        rc, out, err = run_exporter("--arch", "unit", "--checkpoint", ck, "--arg", "variant=v1", "--arg", "num_feat=4",
                                    "--out", self.path("bn_bad"))
        self.assertEqual(rc, 2)
        self.assertIn("missing:     unit.bn.running_var  expected shape [4]", err)

    def test_unit_graph_shapes(self):
        """The op sequence of each unit, as docs/model-format.md lists it."""
        expect = {
            "v1": ["binary_conv2d", "batch_norm", "add", "rprelu"],
            "v2": ["binary_conv2d", "add", "rprelu"],
            "v3": ["binary_conv2d", "add", "rprelu"],
            "v4": ["binary_conv2d", "rprelu", "add"],
            "h": ["binary_conv2d", "rprelu", "channel_expand", "add"],
            "u": ["binary_conv2d", "rprelu", "pixel_shuffle", "upsample", "add"],
            "t": ["binary_conv2d", "rprelu", "add"],
        }
        spec = bbcu_torch.ARCHS["unit"]
        for v, ops in expect.items():
            with self.subTest(variant=v):
                doc = bbcu_torch.build_graph(spec, spec.resolve_args({"variant": v}))
                got = [n["op"] for n in doc["nodes"]]
                head = ["mul"] if v == "h" else ["mul", "conv2d", "leaky_relu"]
                tail = ["div"] if v == "t" else ["conv2d", "div"]
                self.assertEqual(got, head + ops + tail)
                self.assertEqual(schema_errors(json.loads(json.dumps(doc)), self.schema, self.schema), [])
        doc = bbcu_torch.build_graph(spec, spec.resolve_args({"variant": "t"}))
        self.assertEqual(doc["nodes"][-2]["inputs"], ["unit.act", "x_amp"])  # BBCU-T: residual = k*x
        doc = bbcu_torch.build_graph(spec, spec.resolve_args({"variant": "h"}))
        self.assertEqual([n.get("repeats") for n in doc["nodes"] if n["op"] == "channel_expand"], [5])
        self.assertEqual(doc["nodes"][1]["inputs"], ["x_amp"])

    def test_unit_kernel_and_head_act_args(self):
        """The unit wrapper's optional head_kernel, tail_kernel (odd, 1..11) and head_act (lrelu|prelu|prelu1)."""
        spec = bbcu_torch.ARCHS["unit"]
        for over, msg in (({"head_kernel": "4"}, "--arg head_kernel=4: must be an odd kernel size from 1 to 11"),
                          ({"tail_kernel": "13"}, "--arg tail_kernel=13: must be an odd kernel size from 1 to 11"),
                          ({"tail_kernel": "-1"}, "--arg tail_kernel=-1: must be an odd kernel size from 1 to 11"),
                          ({"head_kernel": "5x5"}, "--arg head_kernel=5x5: expected an integer"),
                          ({"head_act": "relu"}, "--arg head_act=relu: must be one of lrelu|prelu|prelu1"),
                          ({"variant": "h", "head_kernel": "5"}, "variant h has no conv_first"),
                          ({"variant": "h", "head_act": "prelu"}, "variant h has no conv_first"),
                          ({"variant": "t", "tail_kernel": "5"}, "variant t has no conv_last")):
            with self.subTest(over=over):
                with self.assertRaises(ValueError) as cm:
                    spec.resolve_args(over)
                self.assertIn(msg, str(cm.exception))
        # The defaults are the plain network: same state_dict as without the options.
        plain = spec.expected_tensors(spec.resolve_args({"num_feat": "4"}))
        self.assertEqual(plain["conv_first.weight"], (4, 3, 3, 3))
        self.assertNotIn("head_act.weight", plain)
        exp = spec.expected_tensors(spec.resolve_args({"num_feat": "4", "head_kernel": "11", "tail_kernel": "1",
                                                       "head_act": "prelu"}))
        self.assertEqual(exp["conv_first.weight"], (4, 3, 11, 11))
        self.assertEqual(exp["conv_last.weight"], (3, 4, 1, 1))
        self.assertEqual(exp["head_act.weight"], (4,))
        self.assertEqual(list(exp)[:3], ["conv_first.weight", "conv_first.bias", "head_act.weight"])
        exp1 = spec.expected_tensors(spec.resolve_args({"variant": "t", "head_act": "prelu1"}))
        self.assertEqual(exp1["head_act.weight"], (1,))
        # Graph: the prelu node replaces the leaky_relu after conv_first.
        for act, ops in (("lrelu", ["mul", "conv2d", "leaky_relu"]), ("prelu", ["mul", "conv2d", "prelu"]),
                         ("prelu1", ["mul", "conv2d", "prelu"])):
            with self.subTest(head_act=act):
                doc = bbcu_torch.build_graph(spec, spec.resolve_args({"head_act": act, "head_kernel": "5"}))
                self.assertEqual([n["op"] for n in doc["nodes"]][:3], ops)
                self.assertEqual(doc["nodes"][2]["output"], "feat")
                if act != "lrelu":
                    self.assertEqual(doc["nodes"][2]["slope"], "head_act.weight")
                    self.assertEqual(doc["nodes"][2]["name"], "head_act")
                self.assertEqual(schema_errors(json.loads(json.dumps(doc)), self.schema, self.schema), [])
        # source.args lists the options only where they are not at their default (older exports keep their bytes).
        args = dict(variant="v4", num_feat=4, head_kernel=5, head_act="prelu1")
        m = random_module_generic("unit", 31, **args)
        ck = self.path("ka.pth")
        torch.save(m.state_dict(), ck)
        doc, tensors, meta = self.export_ok("unit", ck, args, self.path("ka"))
        self.check_export(doc, tensors, meta, "unit", state_dict_np(m))
        self.assertEqual(doc["source"]["args"], dict(variant="v4", num_in_ch=3, num_out_ch=3, num_feat=4, upscale=2,
                                                     k=130, head_kernel=5, head_act="prelu1"))
        self.assertEqual(tensors["head_act.weight"].shape, (1,))
        doc, _, _ = self.export_ok("unit", ck, dict(args, tail_kernel=3, head_kernel=5), self.path("ka3"))
        self.assertNotIn("tail_kernel", doc["source"]["args"])

    # ---- non-float tensors and weights dtypes ------------------------------------

    def test_non_float_tensors_refused(self):
        """An integer or bool tensor where a weight is expected: every one is named, nothing is written, exit 2."""
        sd = collections.OrderedDict(self.model.state_dict())
        sd["model.0.weight"] = torch.ones(8, 3, 3, 3, dtype=torch.int64)
        sd["model.2.binary_conv.weight"] = torch.ones(8, 8, 3, 3, dtype=torch.bool)
        ck = self.path("nonfloat.pth")
        torch.save(sd, ck)
        st = self.path("nonfloat.safetensors")
        items = [(k, v.numpy()) for k, v in self.model.state_dict().items()]
        items = [(k, np.ones(v.shape, np.int32) if k == "model.4.relu.pr_prelu.weight" else v) for k, v in items]
        safetensors_io.save(st, items)
        for ckpt, needles in (
                (ck, ("non-float:   model.0.weight  dtype int64 (expected a floating-point tensor)",
                      "non-float:   model.2.binary_conv.weight  dtype bool (expected a floating-point tensor)",
                      "0 missing, 0 unexpected, 0 mis-shaped, 2 non-float, 0 non-finite")),
                (st, ("non-float:   model.4.relu.pr_prelu.weight  dtype int32 (expected a floating-point tensor)",
                      "0 missing, 0 unexpected, 0 mis-shaped, 1 non-float, 0 non-finite"))):
            with self.subTest(checkpoint=os.path.basename(ckpt)):
                prefix = self.path("nonfloat_out")
                rc, out, err = run_exporter("--arch", "dncnn", "--checkpoint", ckpt, *self.arg_list(self.small_args),
                                            "--out", prefix)
                self.assertEqual(rc, 2)
                self.assertIn("export_bbcu.py: error: checkpoint does not match arch 'dncnn'", err)
                for needle in needles:
                    self.assertIn(needle, err)
                self.assertNotIn("Traceback", err)
                self.assertFalse(os.path.exists(prefix + ".json"))
                self.assertFalse(os.path.exists(prefix + ".safetensors"))

    def test_weights_dtype_f16_bf16(self):
        """--weights-dtype f16|bf16 stores every tensor in that dtype, rounded to nearest even as PyTorch rounds."""
        args = dict(variant="v1", num_feat=4)  # convs, unit, BatchNorm buffers
        m = random_module_generic("unit", 41, **args)
        sd = collections.OrderedDict((k, v) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked"))
        ck = self.path("wd.pth")
        torch.save(m.state_dict(), ck)
        f32 = self.path("wd_f32")
        self.assertEqual(export_main(["--arch", "unit", "--checkpoint", ck] + self.arg_list(args) + ["--out", f32]), 0)
        self.assertEqual(set(safetensors_io.load_dtypes(f32 + ".safetensors").values()), {"F32"})
        explicit = self.path("wd_f32x")
        self.assertEqual(export_main(["--arch", "unit", "--checkpoint", ck] + self.arg_list(args)
                                     + ["--weights-dtype", "f32", "--out", explicit]), 0)
        self.assertEqual(read_bytes(f32 + ".json"), read_bytes(explicit + ".json"))
        self.assertEqual(read_bytes(f32 + ".safetensors"), read_bytes(explicit + ".safetensors"))
        with open(f32 + ".json") as f:
            doc32 = json.load(f, object_pairs_hook=collections.OrderedDict)
        self.assertNotIn("weights_dtype", doc32["source"])
        for wd, tdt, name in (("f16", torch.float16, "F16"), ("bf16", torch.bfloat16, "BF16")):
            with self.subTest(weights_dtype=wd):
                prefix = self.path("wd_" + wd)
                rc, out, err = run_exporter("--arch", "unit", "--checkpoint", ck, *self.arg_list(args),
                                            "--weights-dtype", wd, "--out", prefix)
                self.assertEqual(rc, 0, err)
                self.assertIn("note: --weights-dtype %s rounded" % wd, err)
                dtypes = safetensors_io.load_dtypes(prefix + ".safetensors")
                self.assertEqual(list(dtypes), bbcu_torch.graph_tensor_keys(doc32))
                self.assertEqual(set(dtypes.values()), {name})
                tensors, meta = safetensors_io.load(prefix + ".safetensors")
                self.assertEqual(meta, {"format": "bbcu-weights", "arch": "unit"})
                for k, v in sd.items():
                    want = v.to(tdt).float().numpy()
                    self.assertTrue(np.array_equal(tensors[k].astype(np.float32).view(np.uint32), want.view(np.uint32)), k)
                with open(prefix + ".json") as f:
                    doc = json.load(f, object_pairs_hook=collections.OrderedDict)
                self.assertEqual(doc["source"].pop("weights_dtype"), name)
                self.assertEqual(doc, doc32)
                check_graph(doc, tensors)
                # A checkpoint already in that dtype (a bfloat16 .pth too) is stored exactly, without a note.
                ck2 = self.path("wd_%s.pth" % wd)
                torch.save(collections.OrderedDict((k, v.to(tdt) if v.is_floating_point() else v)
                                                   for k, v in m.state_dict().items()), ck2)
                rc, out, err = run_exporter("--arch", "unit", "--checkpoint", ck2, *self.arg_list(args),
                                            "--weights-dtype", wd, "--out", prefix + "_exact")
                self.assertEqual(rc, 0, err)
                self.assertNotIn("note:", err)
                self.assertEqual(read_bytes(prefix + ".safetensors"), read_bytes(prefix + "_exact.safetensors"))
                # ... and exported as F32 it holds the widened values.
                rc, out, err = run_exporter("--arch", "unit", "--checkpoint", ck2, *self.arg_list(args),
                                            "--out", prefix + "_widened")
                self.assertEqual(rc, 0, err)
                widened, _ = safetensors_io.load(prefix + "_widened.safetensors")
                for k in sd:
                    self.assertEqual(widened[k].dtype, np.dtype("<f4"))
                    self.assertTrue(np.array_equal(widened[k], tensors[k].astype(np.float32)), k)
        # A value too large for F16 is an error naming the tensor (BF16 has float32's range).
        big = collections.OrderedDict(m.state_dict())
        big["conv_last.bias"] = big["conv_last.bias"].clone()
        big["conv_last.bias"][1] = 1.0e5
        ckb = self.path("wd_big.pth")
        torch.save(big, ckb)
        rc, out, err = run_exporter("--arch", "unit", "--checkpoint", ckb, *self.arg_list(args),
                                    "--weights-dtype", "f16", "--out", self.path("wd_big"))
        self.assertEqual(rc, 2)
        self.assertIn("out of range: conv_last.bias  max |value| 100000 does not fit F16", err)
        self.assertFalse(os.path.exists(self.path("wd_big.json")))
        with contextlib.redirect_stderr(io.StringIO()):  # its rounding note
            self.assertEqual(export_main(["--arch", "unit", "--checkpoint", ckb] + self.arg_list(args)
                                         + ["--weights-dtype", "bf16", "--out", self.path("wd_big_bf16")]), 0)
        rc, out, err = run_exporter("--arch", "unit", "--checkpoint", ck, "--weights-dtype", "f8", "--out", self.path("z"))
        self.assertEqual(rc, 2)
        self.assertIn("invalid choice", err)

    def test_bf16_writer_matches_torch(self):
        """safetensors_io.BF16.from_float32 rounds as torch's .to(torch.bfloat16); the file round-trips."""
        g = torch.Generator().manual_seed(3)
        special = torch.tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1 + 2 ** -8 + 2 ** -20, 3.0e38, 3.4e38,
                                1e-39, -3e-40, 1e-45, -0.0, 0.0, float("inf"), float("-inf")], dtype=torch.float32)
        a = torch.cat([torch.randn(5000, generator=g) * 100, torch.randn(5000, generator=g) * 1e-3, special])
        ours = safetensors_io.BF16.from_float32(a.numpy())
        ref = a.to(torch.bfloat16).float().numpy()
        self.assertTrue(np.array_equal(ours.to_float32().view(np.uint32), ref.view(np.uint32)))
        data = safetensors_io.serialize([("t", safetensors_io.BF16.from_float32(a.numpy()[:10000].reshape(2, 5000))),
                                         ("h", a.numpy().astype(np.float16))])
        self.assertEqual([v["dtype"] for v in safetensors_io.header(data).values()], ["BF16", "F16"])
        back, _ = safetensors_io.parse(data)
        self.assertEqual(back["t"].shape, (2, 5000))
        self.assertTrue(np.array_equal(back["t"].reshape(-1).view(np.uint32), ref[:10000].view(np.uint32)))
        self.assertEqual(back["h"].dtype, np.dtype("<f2"))

    # ---- schema ----------------------------------------------------------------

    def test_schema_accepts_and_rejects(self):
        with open(self._export_bare()) as f:
            doc = json.load(f, object_pairs_hook=collections.OrderedDict)
        s = self.schema
        ok = collections.OrderedDict([("$schema", "../docs/bbcu-model.schema.json")] + list(doc.items()))
        self.assertEqual(schema_errors(ok, s, s), [])
        minimal = {"format": "bbcu-model", "version": 1, "name": "m",
                   "inputs": [{"name": "x", "channels": 1}], "outputs": ["y"],
                   "nodes": [{"op": "leaky_relu", "inputs": ["x"], "output": "t", "negative_slope": 0.1},
                             {"op": "prelu", "inputs": ["t"], "output": "u", "slope": "p.weight"},
                             {"op": "conv2d", "inputs": ["u"], "output": "y", "weight": "c.weight", "padding": 1}]}
        self.assertEqual(schema_errors(minimal, s, s), [])

        def bad(mutate):
            d = json.loads(json.dumps(minimal))
            mutate(d)
            return schema_errors(d, s, s)
        self.assertTrue(bad(lambda d: d.update(version=2)))
        self.assertTrue(bad(lambda d: d.update(format="onnx")))
        self.assertTrue(bad(lambda d: d.update(extra=1)))
        self.assertTrue(bad(lambda d: d.pop("name")))
        self.assertTrue(bad(lambda d: d["inputs"].append({"name": "z", "channels": 1})))
        self.assertTrue(bad(lambda d: d["inputs"][0].update(channels=0)))
        self.assertTrue(bad(lambda d: d["outputs"].append("t")))
        self.assertTrue(bad(lambda d: d["nodes"][0].update(op="gelu")))
        self.assertTrue(bad(lambda d: d["nodes"][0].pop("negative_slope")))
        self.assertTrue(bad(lambda d: d["nodes"][2].pop("weight")))
        self.assertTrue(bad(lambda d: d["nodes"][2].update(bais="c.bias")))
        self.assertTrue(bad(lambda d: d["nodes"][2].update(inputs=["u", "t"])))
        self.assertTrue(bad(lambda d: d["nodes"].append({"op": "div", "inputs": ["y"], "output": "z", "scalar": 0})))
        self.assertTrue(bad(lambda d: d["nodes"].append({"op": "add", "inputs": ["y"], "output": "z"})))
        self.assertFalse(bad(lambda d: d["nodes"].append({"op": "add", "inputs": ["y", "u"], "output": "z"})))
        # the super-resolution ops
        new_ok = [{"op": "pixel_shuffle", "inputs": ["y"], "output": "z", "factor": 2},
                  {"op": "upsample", "inputs": ["y"], "output": "z", "mode": "nearest", "factor": 3},
                  {"op": "upsample", "inputs": ["y"], "output": "z", "mode": "bilinear", "factor": 4,
                   "align_corners": False},
                  {"op": "batch_norm", "inputs": ["y"], "output": "z", "weight": "b.weight", "bias": "b.bias",
                   "running_mean": "b.running_mean", "running_var": "b.running_var", "eps": 1e-5},
                  # eps is optional (the generator uses PyTorch's default, 1e-5), and a node may carry a comment
                  {"op": "batch_norm", "inputs": ["y"], "output": "z", "weight": "b.weight", "bias": "b.bias",
                   "running_mean": "b.running_mean", "running_var": "b.running_var", "comment": "BatchNorm2d"},
                  {"op": "channel_expand", "inputs": ["y"], "output": "z", "repeats": 21}]
        for node in new_ok:
            with self.subTest(node=node):
                self.assertFalse(bad(lambda d: d["nodes"].append(node)))
        new_bad = [({"op": "pixel_shuffle", "inputs": ["y"], "output": "z", "factor": 1}),
                   ({"op": "pixel_shuffle", "inputs": ["y"], "output": "z"}),
                   ({"op": "pixel_shuffle", "inputs": ["y"], "output": "z", "factor": 2.5}),
                   ({"op": "upsample", "inputs": ["y"], "output": "z", "mode": "bicubic", "factor": 2}),
                   ({"op": "upsample", "inputs": ["y"], "output": "z", "mode": "bilinear", "factor": 2}),
                   ({"op": "upsample", "inputs": ["y"], "output": "z", "mode": "bilinear", "factor": 2,
                     "align_corners": True}),
                   ({"op": "upsample", "inputs": ["y"], "output": "z", "mode": "nearest", "factor": 2,
                     "align_corners": False}),
                   ({"op": "upsample", "inputs": ["y"], "output": "z", "factor": 2}),
                   ({"op": "upsample", "inputs": ["y"], "output": "z", "mode": "nearest", "factor": 1}),
                   ({"op": "batch_norm", "inputs": ["y"], "output": "z", "weight": "b.weight", "bias": "b.bias",
                     "running_mean": "b.running_mean", "running_var": "b.running_var", "eps": 0}),
                   ({"op": "batch_norm", "inputs": ["y"], "output": "z", "weight": "b.weight", "bias": "b.bias",
                     "running_mean": "b.running_mean", "running_var": "b.running_var", "eps": 1e-5,
                     "num_batches_tracked": "b.num_batches_tracked"}),
                   ({"op": "channel_expand", "inputs": ["y"], "output": "z", "repeats": 0}),
                   ({"op": "channel_expand", "inputs": ["y", "u"], "output": "z", "repeats": 2})]
        for node in new_bad:
            with self.subTest(node=node):
                self.assertTrue(bad(lambda d: d["nodes"].append(node)))

    def _export_bare(self):
        self.export_ok("dncnn", self.bare, self.small_args, self.path("schema"))
        return self.path("schema.json")

    def test_doc_example_is_valid(self):
        """The complete example in docs/model-format.md passes the schema and the graph rules."""
        with open(os.path.join(ROOT, "docs", "model-format.md")) as f:
            md = f.read()
        m = re.search(r"<!-- example:begin -->\s*```json\n(.*?)```\s*<!-- example:end -->", md, re.S)
        self.assertIsNotNone(m, "example block not found in docs/model-format.md")
        doc = json.loads(m.group(1))
        self.assertEqual(schema_errors(doc, self.schema, self.schema), [])
        spec = bbcu_torch.ARCHS["dncnn"]
        args = spec.resolve_args({"in_nc": "1", "out_nc": "1", "nc": "8", "nb": "3", "k": "20"})
        shapes = spec.expected_tensors(args)
        check_graph(doc, {k: np.zeros(s, np.float32) for k, s in shapes.items()})


@unittest.skipUnless(os.path.isfile(os.path.join(FIXTURES, "manifest.json")), "no fixtures")
class FixturesTest(unittest.TestCase):
    """The committed fixtures are consistent: the graph interpreter reproduces output_f64."""

    def test_fixtures(self):
        schema = load_schema()
        with open(os.path.join(FIXTURES, "manifest.json")) as f:
            manifest = json.load(f)
        names = [c["name"] for c in manifest["cases"]]
        self.assertGreaterEqual(len(names), 29)
        for required in ("bbcul_x2", "bbcul_x3", "bbcul_x4", "bbcum_x2", "bbcum_x3", "bbcum_x4", "unit_v1",
                         "unit_v2", "unit_v3", "unit_v4", "unit_h", "unit_u2", "unit_u3", "unit_t",
                         "unit_k1_k5", "unit_k7_k9", "unit_k11", "unit_k9_k11_small", "unit_prelu", "unit_prelu1",
                         "unit_f16", "unit_bf16"):
            self.assertIn(required, names)
        # What the extra cases are there for: every odd conv kernel 1..11, both prelu slope shapes, F16 and BF16.
        kernels, slopes, dtypes = set(), set(), set()
        self.assertEqual(sorted(names), sorted(d for d in os.listdir(FIXTURES)
                                               if os.path.isdir(os.path.join(FIXTURES, d))))
        for case in manifest["cases"]:
            with self.subTest(case=case["name"]):
                d = os.path.join(FIXTURES, case["name"])
                with open(os.path.join(d, "model.json")) as f:
                    doc = json.load(f)
                self.assertEqual(schema_errors(doc, schema, schema), [])
                tensors, meta = safetensors_io.load(os.path.join(d, "model.safetensors"))
                self.assertEqual(meta["arch"], case["arch"])
                stored = set(safetensors_io.load_dtypes(os.path.join(d, "model.safetensors")).values())
                self.assertEqual(stored, {case.get("weights_dtype", "F32")})
                dtypes |= stored
                kernels |= {tensors[n["weight"]].shape[2] for n in doc["nodes"] if n["op"] == "conv2d"}
                slopes |= {tensors[n["slope"]].shape for n in doc["nodes"] if n["op"] == "prelu"}
                out_c = check_graph(doc, tensors)
                io_t, _ = safetensors_io.load(os.path.join(d, "io.safetensors"))
                self.assertEqual(list(io_t["input"].shape), case["input_shape"])
                self.assertEqual(io_t["output"].shape[1], out_c)
                self.assertEqual(io_t["output_f64"].dtype, np.dtype("<f8"))
                r = output_scale(doc)
                n, c, h, w = case["input_shape"]
                self.assertEqual(list(io_t["output"].shape), [n, out_c, h * r, w * r])
                self.assertEqual(list(io_t["output_f64"].shape), [n, out_c, h * r, w * r])
                if "output_shape" in case:
                    self.assertEqual(case["output_shape"], [n, out_c, h * r, w * r])
                got = interpret(doc, tensors, io_t["input"])
                self.assertLessEqual(float(np.abs(got - io_t["output_f64"]).max()), 1e-9)
                diff = io_t["output"].astype(np.float64) - io_t["output_f64"]
                p = 10 * math.log10(1.0 / max(float((diff ** 2).mean()), 1e-300))
                self.assertGreater(p, 100.0)
        self.assertEqual(kernels, {1, 3, 5, 7, 9, 11})
        self.assertEqual(len(slopes), 2)  # [C] and [1]
        self.assertEqual(dtypes, {"F32", "F16", "BF16"})


if __name__ == "__main__":
    unittest.main()
