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
             "minLength", "minimum", "not", "allOf", "if", "then"}


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
                "rprelu": ("bias0", "slope", "bias1"), "prelu": ("slope",)}


def check_graph(doc, tensors):
    """Structural checks plus shape inference (C only; H, W are preserved). -> channels of the output."""
    (inp,) = doc["inputs"]
    channels = {inp["name"]: inp["channels"]}
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
                assert tensors[n["slope"]].shape == (c,)
                assert tensors[n["bias1"]].shape == (1, c, 1, 1)
            elif op == "prelu":
                assert tensors[n["slope"]].shape == (c,)
            elif op in ("add", "sub"):
                assert channels[n["inputs"][1]] == c, n
            channels[n["output"]] = c
            pending.remove(n)
            progress = True
        assert progress, "cycle or undefined input among %s" % [n["output"] for n in pending]
    (out,) = doc["outputs"]
    assert out in channels, "output %s is not computed" % out
    assert used == set(tensors), "unreferenced tensors: %s" % sorted(set(tensors) - used)
    return channels[out]


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


def interpret(doc, tensors, x):
    """x [1,C,H,W] -> [1,C',H,W], all in float64."""
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
        # Checkpoint has nb=5; asking for the default nb=20 lists the 15 missing units' tensors.
        rc, out, err = run_exporter("--arch", "dncnn", "--checkpoint", self.bare,
                                    "--arg", "nc=8", "--out", self.path("x"))
        self.assertEqual(rc, 2)
        self.assertIn("missing:     model.19.binary_conv.weight", err)
        self.assertIn("unexpected:  model.5.weight", err)

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
        self.assertGreaterEqual(len(manifest["cases"]), 7)
        for case in manifest["cases"]:
            with self.subTest(case=case["name"]):
                d = os.path.join(FIXTURES, case["name"])
                with open(os.path.join(d, "model.json")) as f:
                    doc = json.load(f)
                self.assertEqual(schema_errors(doc, schema, schema), [])
                tensors, meta = safetensors_io.load(os.path.join(d, "model.safetensors"))
                self.assertEqual(meta["arch"], case["arch"])
                out_c = check_graph(doc, tensors)
                io_t, _ = safetensors_io.load(os.path.join(d, "io.safetensors"))
                self.assertEqual(list(io_t["input"].shape), case["input_shape"])
                self.assertEqual(io_t["output"].shape[1], out_c)
                self.assertEqual(io_t["output_f64"].dtype, np.dtype("<f8"))
                got = interpret(doc, tensors, io_t["input"])
                self.assertLessEqual(float(np.abs(got - io_t["output_f64"]).max()), 1e-9)
                diff = io_t["output"].astype(np.float64) - io_t["output_f64"]
                p = 10 * math.log10(1.0 / max(float((diff ** 2).mean()), 1e-300))
                self.assertGreater(p, 100.0)


if __name__ == "__main__":
    unittest.main()
