# Run from the repository root with a Python that has PyTorch >= 1.13 and numpy:
#     /usr/bin/python3 -m unittest discover -s tools/tests -v
"""Tests of the exporter as a package (tools/bbcu_export, tools/pyproject.toml, the command bbcu-export).

* pip install --no-build-isolation of tools/ into a fresh venv made with --system-site-packages
  gives bbcu-export, which exports fixtures from {"state_dict": {"module." + key: ...}} checkpoints
  with no --arg except k, byte for byte as the fixtures' (source.exporter and the removed prefix
  aside); --help works there with torch and numpy blocked;
* --help without torch or numpy, the message when they are missing or PyTorch is older than 1.13,
  no message or source line names a distribution;
* every architecture argument the shapes determine is inferred (every committed fixture is
  re-exported with only the others), printed, and an --arg the checkpoint contradicts says what the
  checkpoint implies; a wrong --arch names the one that fits;
* checkpoint unwrapping ({params | params_ema | state_dict | model}, module. prefixes);
* the safetensors package is used when importable (a stand-in package here) and checked against
  the built-in writer.
"""

import ast
import collections
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

TESTS = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(TESTS)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import bbcu_torch  # noqa: E402
import safetensors_io  # noqa: E402
from bbcu_export import cli, export  # noqa: E402
from test_export_bbcu import random_module, random_module_generic, state_dict_np  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
PACKAGE = os.path.join(TOOLS, "bbcu_export")

# Words no message (and no line of the exporter's sources) may contain: the exporter names no
# distribution or installer of PyTorch.
DISTRIBUTION_WORDS = ("Debian", "debian", "apt-get", "apt install", "conda", "python3-torch", "/usr/bin/python3",
                      "pip install")

# Prepended to `python -c` programs: torch and numpy cannot be imported.
BLOCK_TORCH = "import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"

# A stand-in for the safetensors package (not installed here): save() orders tensors by name, as
# the real one does for tensors of one dtype, and puts __metadata__ first; BROKEN drops a tensor.
STUB_SAFETENSORS_TORCH = '''
import json, struct, torch
BROKEN = False
_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
def save(tensors, metadata=None):
    items = sorted(tensors.items())[1 if BROKEN else 0:]
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    for name, t in items:
        raw = t.contiguous().view(torch.int16 if t.dtype == torch.bfloat16 else t.dtype).numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-(8 + len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)
'''


def run_cli(argv, prog="bbcu-export"):
    """bbcu_export.cli.main in-process -> (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(argv, prog=prog)
        except SystemExit as e:  # argparse
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def load_json(path):
    with open(path) as f:
        return json.load(f, object_pairs_hook=collections.OrderedDict)


def wrap(sd, key=None, prefix=""):
    """A state_dict as a training script might save it: keys with ``prefix``, under ``key``."""
    sd = collections.OrderedDict((prefix + k, v) for k, v in sd.items())
    return sd if key is None else {"epoch": 12, key: sd, "optimizer": {"step": 3000}}


def fixture_checkpoint(case_dir, path):
    """The weights of a fixture as {"state_dict": {"module." + key: tensor}} (F16 stays F16, BF16
    is widened to float32: exact)."""
    tensors, _ = safetensors_io.load(os.path.join(case_dir, "model.safetensors"))
    torch.save(wrap(collections.OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in tensors.items()),
                    "state_dict", "module."), path)


def expected_fixture_json(case_dir, exporter, checkpoint_name):
    """The fixture's model.json as bbcu-export writes it from fixture_checkpoint(): only the
    provenance differs (the exporter's name, the container, the removed prefix)."""
    doc = load_json(os.path.join(case_dir, "model.json"))
    src = collections.OrderedDict()
    for k, v in doc["source"].items():
        if k == "weights_dtype":
            src["checkpoint_prefix_removed"] = "module."
        src[k] = v
    src.setdefault("checkpoint_prefix_removed", "module.")
    src["exporter"], src["checkpoint"], src["checkpoint_container"] = exporter, checkpoint_name, "state_dict"
    doc["source"] = src
    return (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode()


def non_shape_args(case):
    """The --arg a fixture needs when the exporter reads the rest from the shapes: k where it is not
    the default, and for the unit arch the variant where the shapes leave it open (v2, v3, v4)."""
    args = case["args"]
    out = []
    if case["arch"] == "unit" and args["variant"] in ("v2", "v3", "v4"):
        out += ["--arg", "variant=%s" % args["variant"]]
    default_k = 1 if case["arch"] == "unit" and args["variant"] in ("v1", "v2") else 130
    if args["k"] != default_k:
        out += ["--arg", "k=%s" % args["k"]]
    return out


def tensor_records(path):
    """{name: (dtype, shape, raw bytes)} and the metadata of a safetensors file."""
    return export._tensor_records(read_bytes(path))


class TempDirTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)


# --------------------------------------------------------------------------
# Without torch, and what the messages say
# --------------------------------------------------------------------------

class CommandLineWithoutTorchTest(unittest.TestCase):
    def run_python(self, program, *argv):
        p = subprocess.run([sys.executable, "-c", BLOCK_TORCH + "sys.path.insert(0, %r)\n" % TOOLS + program]
                           + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           cwd=TOOLS)
        return p.returncode, p.stdout, p.stderr

    def assert_names_no_distribution(self, text):
        text = text.replace(sys.executable, "<this python>")
        for word in DISTRIBUTION_WORDS:
            self.assertNotIn(word, text)

    def test_help_needs_neither_torch_nor_numpy(self):
        for label, program in (
                ("bbcu_export.cli", "from bbcu_export.cli import main; sys.exit(main(sys.argv[1:]))"),
                ("python -m bbcu_export", "import runpy; sys.argv[0] = 'bbcu_export'; "
                                          "runpy.run_module('bbcu_export', run_name='__main__')"),
                ("tools/export_bbcu.py", "import runpy; sys.argv[0] = %r; runpy.run_path(sys.argv[0], "
                                         "run_name='__main__')" % os.path.join(TOOLS, "export_bbcu.py"))):
            with self.subTest(entry=label):
                rc, out, err = self.run_python(program, "--help")
                self.assertEqual(rc, 0, err)
                self.assertIn("--arch {dncnn,dncnn3,bbcul,bbcum,unit}", out)
                self.assertIn("--safetensors-writer {auto,package,builtin}", out)
                self.assertIn("Every argument the tensor shapes determine is read from the checkpoint", out)
                self.assert_names_no_distribution(out + err)

    def test_missing_torch_is_exit_3_naming_this_python(self):
        rc, out, err = self.run_python("from bbcu_export.cli import main; sys.exit(main(sys.argv[1:]))",
                                       "--arch", "dncnn", "--checkpoint", "x.pth", "--out", "y")
        self.assertEqual(rc, 3)
        self.assertEqual(err, "bbcu-export: error: needs PyTorch >= 1.13 and numpy in this Python environment "
                              "(%s); numpy and PyTorch cannot be imported there\n" % sys.executable)
        self.assert_names_no_distribution(out + err)
        # the tools that import bbcu_torch (make_fixtures.py, train_bbcu.py, export_onnx.py) say the same
        rc, out, err = self.run_python("sys.argv[0] = 'make_fixtures.py'; import bbcu_torch")
        self.assertEqual(rc, 3)
        self.assertIn("error: make_fixtures.py: needs PyTorch >= 1.13 and numpy", err)
        self.assert_names_no_distribution(out + err)

    def test_old_torch_is_exit_3(self):
        fake = ("import sys, types; sys.modules['torch'] = types.SimpleNamespace(__version__='1.12.1+cpu')\n"
                "sys.path.insert(0, %r)\nfrom bbcu_export.cli import main; sys.exit(main(sys.argv[1:]))" % TOOLS)
        p = subprocess.run([sys.executable, "-c", fake, "--arch", "dncnn", "--checkpoint", "x.pth", "--out", "y"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(p.returncode, 3)
        self.assertIn("needs PyTorch >= 1.13 and numpy in this Python environment (%s); it has PyTorch 1.12.1+cpu"
                      % sys.executable, p.stderr)

    def test_sources_name_no_distribution(self):
        files = [os.path.join(PACKAGE, f) for f in sorted(os.listdir(PACKAGE)) if f.endswith(".py")]
        files += [os.path.join(TOOLS, f) for f in ("export_bbcu.py", "bbcu_torch.py", "safetensors_io.py",
                                                    "pyproject.toml")]
        self.assertGreaterEqual(len(files), 10)
        for path in files:
            with open(path) as f:
                text = f.read()
            for word in DISTRIBUTION_WORDS:
                if word == "pip install":  # the install command in comments and docstrings is fine
                    continue
                self.assertNotIn(word, text, path)

    def test_static_lists_match_the_registry(self):
        # cli lists the choices so that --help needs no torch
        self.assertEqual(cli.ARCH_NAMES, tuple(bbcu_torch.ARCHS))
        self.assertEqual(cli.WEIGHTS_DTYPE_NAMES, tuple(export.WEIGHTS_DTYPES))
        self.assertEqual(cli.WRITER_NAMES, export.WRITERS)

    def test_sources_parse_as_python_3_7(self):
        for f in sorted(os.listdir(PACKAGE)) + ["../export_bbcu.py", "../bbcu_torch.py", "../safetensors_io.py"]:
            if f.endswith(".py"):
                with self.subTest(file=f), open(os.path.join(PACKAGE, f)) as fh:
                    ast.parse(fh.read(), filename=f, feature_version=(3, 7))


# --------------------------------------------------------------------------
# Arguments from the checkpoint's shapes
# --------------------------------------------------------------------------

class InferenceTest(TempDirTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the example: a grey DnCNN-BBCU, nc=32, nb=8 (six BBCU-B units), k=65
        cls.model = random_module("dncnn", 21, in_nc=1, out_nc=1, nc=32, nb=8, k=65)
        cls.ckpt = os.path.join(cls.dir, "grey.pth")
        torch.save(cls.model.state_dict(), cls.ckpt)

    def test_every_shape_argument_inferred_and_printed(self):
        rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", self.ckpt, "--out", self.path("a")])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn("inferred from the checkpoint: in_nc=1 out_nc=1 nc=32 nb=8", lines)
        self.assertIn("not in the shapes, the paper's defaults: k=130", lines)
        self.assertEqual(load_json(self.path("a.json"))["source"]["args"], dict(in_nc=1, out_nc=1, nc=32, nb=8, k=130))
        rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", self.ckpt, "--arg", "k=65", "--arg", "nc=32",
                                "--arg", "act_mode=BR", "--out", self.path("b")])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn("inferred from the checkpoint: in_nc=1 out_nc=1 nc=32 nb=8", lines)  # nc=32 agrees
        self.assertIn("given with --arg: k=65", lines)
        self.assertFalse(any(l.startswith("not in the shapes") for l in lines), lines)
        doc = load_json(self.path("b.json"))
        self.assertEqual(doc["source"]["args"], dict(in_nc=1, out_nc=1, nc=32, nb=8, k=65))
        self.assertEqual(doc["nodes"][0]["scalar"], 65)
        self.assertEqual(safetensors_io.load(self.path("b.safetensors"))[0].keys(), state_dict_np(self.model).keys())

    def test_contradicting_arg_says_what_the_checkpoint_implies(self):
        for extra, needle in (
                (["--arg", "nb=10"], "error: --arg nb=10 contradicts the checkpoint: the checkpoint implies "
                                     "in_nc=1, out_nc=1, nc=32, nb=8 (leave that --arg out"),
                (["--arg", "nc=64", "--arg", "nb=10", "--arg", "k=65"],
                 "error: --arg nc=64, --arg nb=10 contradicts the checkpoint: the checkpoint implies "
                 "in_nc=1, out_nc=1, nc=32, nb=8 (leave those --args out"),
                (["--arg", "in_nc=3"], "error: --arg in_nc=3 contradicts the checkpoint")):
            with self.subTest(args=extra):
                rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", self.ckpt] + extra + ["--out", self.path("c")])
                self.assertEqual(rc, 2)
                self.assertIn("bbcu-export: " + needle, err)
                self.assertFalse(os.path.exists(self.path("c.json")))
        # ... followed by what does not fit the given values
        rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", self.ckpt, "--arg", "nb=10", "--out", self.path("c")])
        self.assertIn("missing:     model.9.binary_conv.weight  expected shape [32, 32, 3, 3]", err)
        self.assertIn("unexpected:  model.8.weight  shape [1, 32, 3, 3]", err)
        # SR: upscale and num_block; unit: the variant the shapes allow
        m = random_module_generic("bbcul", 5, num_feat=4, num_block=2, upscale=2)
        ck = self.path("l2.pth")
        torch.save({"params": m.state_dict()}, ck)
        rc, out, err = run_cli(["--arch", "bbcul", "--checkpoint", ck, "--arg", "upscale=3", "--out", self.path("c")])
        self.assertEqual(rc, 2)
        self.assertIn("--arg upscale=3 contradicts the checkpoint: the checkpoint implies num_in_ch=3, num_out_ch=3, "
                      "num_feat=4, num_block=2, upscale=2", err)
        m = random_module_generic("unit", 6, variant="v4", num_feat=4)
        ck = self.path("v4.pth")
        torch.save(m.state_dict(), ck)
        rc, out, err = run_cli(["--arch", "unit", "--checkpoint", ck, "--arg", "variant=v1", "--out", self.path("c")])
        self.assertEqual(rc, 2)
        self.assertIn("--arg variant=v1 contradicts the checkpoint: the checkpoint implies variant=v4|v2|v3, "
                      "num_in_ch=3, num_out_ch=3, num_feat=4, head_kernel=3, tail_kernel=3, head_act=lrelu", err)
        rc, out, err = run_cli(["--arch", "unit", "--checkpoint", ck, "--arg", "variant=v3", "--out", self.path("v3")])
        self.assertEqual(rc, 0, err)
        self.assertIn("given with --arg: variant=v3", out)
        self.assertEqual(load_json(self.path("v3.json"))["source"]["args"]["variant"], "v3")
        rc, out, err = run_cli(["--arch", "unit", "--checkpoint", ck, "--out", self.path("v4")])
        self.assertIn("not in the shapes, defaults: variant=v4 upscale=2 k=130 (variant: the shapes allow v4|v2|v3)",
                      out.splitlines())

    def test_arguments_of_every_arch_from_shapes(self):
        """Inference from the module's own state_dict gives back every arg except the ones no tensor
        shows (k; the unit's variant among v2/v3/v4 and its upscale when not BBCU-U)."""
        cases = [("dncnn", dict(in_nc=1, out_nc=1, nc=8, nb=3)), ("dncnn", dict(in_nc=2, out_nc=5, nc=4, nb=2)),
                 ("dncnn3", dict(in_nc=3, out_nc=1, nc=16, nb=6)),
                 ("bbcul", dict(num_in_ch=1, num_out_ch=2, num_feat=8, num_block=1, upscale=3)),
                 ("bbcul", dict(num_feat=4, num_block=3, upscale=4)), ("bbcul", dict(num_feat=8, num_block=2, upscale=2)),
                 ("bbcum", dict(num_feat=8, num_block=1, upscale=2)), ("bbcum", dict(num_feat=8, num_block=2, upscale=3)),
                 ("bbcum", dict(num_in_ch=1, num_out_ch=1, num_feat=4, num_block=1, upscale=4)),
                 ("unit", dict(variant="v1", num_in_ch=1, num_feat=8, num_out_ch=2, head_kernel=5, tail_kernel=7)),
                 ("unit", dict(variant="h", num_in_ch=3, num_feat=16, num_out_ch=1, tail_kernel=1)),
                 ("unit", dict(variant="u", upscale=3, num_feat=4, head_act="prelu")),
                 ("unit", dict(variant="u", upscale=2, num_feat=4, head_act="prelu1")),
                 ("unit", dict(variant="t", num_in_ch=2, num_out_ch=2, num_feat=8, head_kernel=9, head_act="prelu1")),
                 ("unit", dict(variant="v4", num_feat=5, head_act="prelu", tail_kernel=11))]
        for arch, given in cases:
            with self.subTest(arch=arch, args=given):
                spec = bbcu_torch.ARCHS[arch]
                args = spec.resolve_args({k: str(v) for k, v in given.items()})
                expected, _ = spec.tensor_spec(args)
                inferred = spec.infer_args(expected)
                determined = {k: v[0] for k, v in inferred.items() if len(v) == 1}
                hidden = {"k"} | ({"variant"} if args.get("variant") == "v4" else set()) \
                    | ({"upscale"} if arch == "unit" and args["variant"] != "u" else set()) \
                    | ({"head_kernel", "head_act"} if args.get("variant") == "h" else set()) \
                    | ({"tail_kernel"} if args.get("variant") == "t" else set())
                self.assertEqual(determined, {k: v for k, v in args.items() if k not in hidden})
                back = spec.resolve_args({k: str(v) for k, v in given.items() if k in hidden}, inferred)
                self.assertEqual(back, args)
                self.assertEqual(spec.tensor_spec(back)[0], expected)

    def test_a_damaged_checkpoint_is_not_misread(self):
        sd = collections.OrderedDict(self.model.state_dict())
        sd["model.12.weight"] = torch.zeros(1, 32, 3, 3)  # a second tail conv: nb cannot be told
        ck = self.path("two_tails.pth")
        torch.save(sd, ck)
        rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", ck, "--arg", "nb=8", "--arg", "out_nc=1",
                                "--out", self.path("d")])
        self.assertEqual(rc, 2)
        self.assertNotIn("contradicts", err)
        self.assertIn("error: checkpoint does not match arch 'dncnn' (in_nc=1, out_nc=1, nc=32, nb=8, k=130): "
                      "0 missing, 1 unexpected", err)
        self.assertIn("unexpected:  model.12.weight  shape [1, 32, 3, 3]", err)

    def test_wrong_arch_names_the_one_that_fits(self):
        m = random_module("dncnn3", 8, nc=8, nb=4)
        ck = self.path("d3.pth")
        torch.save(m.state_dict(), ck)
        rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", ck, "--out", self.path("e")])
        self.assertEqual(rc, 2)
        self.assertIn("unexpected:  model.0.bias", err)
        self.assertIn("the checkpoint's tensors are those of --arch dncnn3 with in_nc=1, out_nc=1, nc=8, nb=4", err)
        m = random_module_generic("bbcum", 9, num_feat=4, num_block=1, upscale=2)
        ck = self.path("m2.pth")
        torch.save({"params": m.state_dict()}, ck)
        rc, out, err = run_cli(["--arch", "bbcul", "--checkpoint", ck, "--out", self.path("e")])
        self.assertEqual(rc, 2)
        self.assertIn("the checkpoint's tensors are those of --arch bbcum with num_in_ch=3, num_out_ch=3, num_feat=4, "
                      "num_block=1, upscale=2", err)


# --------------------------------------------------------------------------
# Checkpoint containers
# --------------------------------------------------------------------------

class UnwrapTest(TempDirTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.model = random_module("dncnn", 31, in_nc=3, out_nc=3, nc=8, nb=4)
        bare = os.path.join(cls.dir, "bare.pth")
        torch.save(cls.model.state_dict(), bare)
        cls.reference = os.path.join(cls.dir, "ref")
        rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", bare, "--safetensors-writer", "builtin",
                                "--out", cls.reference])
        assert rc == 0, err
        cls.reference_doc = load_json(cls.reference + ".json")

    def export(self, obj, name, suffix=".pth"):
        ck = self.path(name + suffix)
        if suffix == ".safetensors":
            safetensors_io.save(ck, [(k, v.numpy()) for k, v in obj.items()])
        else:
            torch.save(obj, ck)
        prefix = self.path(name)
        rc, out, err = run_cli(["--arch", "dncnn", "--checkpoint", ck, "--safetensors-writer", "builtin",
                                "--out", prefix])
        return rc, out, err, prefix

    def assert_same_model(self, prefix, container, removed):
        self.assertEqual(read_bytes(prefix + ".safetensors"), read_bytes(self.reference + ".safetensors"))
        doc = load_json(prefix + ".json")
        src = doc.pop("source")
        ref = collections.OrderedDict(self.reference_doc)
        ref_src = ref.pop("source")
        self.assertEqual(doc, ref)
        self.assertEqual(src["args"], ref_src["args"])
        self.assertEqual(src["checkpoint_container"], container)
        self.assertEqual(src.get("checkpoint_prefix_removed"), removed)

    def test_wrappers_and_prefixes(self):
        sd = self.model.state_dict()
        for key in (None, "params", "params_ema", "state_dict", "model"):
            for prefix in ("", "module.", "module.module."):
                with self.subTest(wrapper=key, prefix=prefix):
                    rc, out, err, p = self.export(wrap(sd, key, prefix), "w_%s_%d" % (key, len(prefix)))
                    self.assertEqual(rc, 0, err)
                    self.assert_same_model(p, key or "state_dict", prefix or None)
                    lines = out.splitlines()
                    if key:
                        self.assertIn('checkpoint w_%s_%d.pth: the state_dict is the checkpoint\'s "%s" (other '
                                      'entries not used: epoch, optimizer)' % (key, len(prefix), key), lines)
                    if prefix:
                        self.assertIn('checkpoint w_%s_%d.pth: removed the prefix "%s" from its %d keys'
                                      % (key, len(prefix), prefix, len(sd)), lines)
                    self.assertEqual(any("the state_dict is" in l or "removed the prefix" in l for l in lines),
                                     bool(key or prefix))

    def test_preference_and_safetensors(self):
        sd = self.model.state_dict()
        other = collections.OrderedDict((k, v + 1) for k, v in sd.items())
        rc, out, err, p = self.export({"model": other, "state_dict": other, "params_ema": other, "params": sd}, "pref")
        self.assertEqual(rc, 0, err)
        self.assert_same_model(p, "params", None)
        rc, out, err, p = self.export({"model": other, "state_dict": sd}, "pref2")
        self.assertEqual(rc, 0, err)
        self.assert_same_model(p, "state_dict", None)
        rc, out, err, p = self.export(wrap(sd, None, "module."), "st", ".safetensors")
        self.assertEqual(rc, 0, err)
        self.assert_same_model(p, "safetensors", "module.")

    def test_float_outside_the_tensors(self):
        # torch.load(weights_only=True) of PyTorch < 2.0 cannot read a float (a learning rate, say)
        rc, out, err, p = self.export({"state_dict": self.model.state_dict(), "lr": 1e-3}, "float")
        major = int(torch.__version__.split(".")[0])
        if major >= 2:
            self.assertEqual(rc, 0, err)
            self.assert_same_model(p, "state_dict", None)
        else:
            self.assertEqual(rc, 2)
            self.assertIn("torch.load failed: ", err)
            self.assertIn("in PyTorch before 2.0 no floats outside tensors either: save the state_dict alone", err)

    def test_partial_prefix_is_kept(self):
        sd = collections.OrderedDict(self.model.state_dict())
        sd["module.model.0.weight"] = sd.pop("model.0.weight")
        rc, out, err, p = self.export(sd, "partial")
        self.assertEqual(rc, 2)
        self.assertIn("unexpected:  module.model.0.weight  shape [8, 3, 3, 3]", err)
        self.assertIn("missing:     model.0.weight", err)


# --------------------------------------------------------------------------
# Every committed fixture again, with only the arguments no shape shows
# --------------------------------------------------------------------------

@unittest.skipUnless(os.path.isfile(os.path.join(FIXTURES, "manifest.json")), "no fixtures")
class FixtureReexportTest(TempDirTest):
    def test_fixtures_from_wrapped_checkpoints_with_only_k(self):
        with open(os.path.join(FIXTURES, "manifest.json")) as f:
            cases = json.load(f)["cases"]
        self.assertGreaterEqual(len(cases), 29)
        for case in cases:
            with self.subTest(case=case["name"]):
                case_dir = os.path.join(FIXTURES, case["name"])
                work = self.path(case["name"])
                os.makedirs(work)
                ck = os.path.join(work, "checkpoint.pth")
                fixture_checkpoint(case_dir, ck)
                argv = ["--arch", case["arch"], "--checkpoint", ck] + non_shape_args(case)
                if "weights_dtype" in case:
                    argv += ["--weights-dtype", case["weights_dtype"].lower()]
                rc, out, err = run_cli(argv + ["--safetensors-writer", "builtin", "--out", os.path.join(work, "model")])
                self.assertEqual(rc, 0, err)
                self.assertEqual(read_bytes(os.path.join(work, "model.safetensors")),
                                 read_bytes(os.path.join(case_dir, "model.safetensors")))
                self.assertEqual(read_bytes(os.path.join(work, "model.json")).decode(),
                                 expected_fixture_json(case_dir, "bbcu-export", "checkpoint.pth").decode())
                self.assertIn("inferred from the checkpoint: ", out)


# --------------------------------------------------------------------------
# The safetensors package (a stand-in) and the built-in writer
# --------------------------------------------------------------------------

class WriterTest(TempDirTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        stub = os.path.join(cls.dir, "stub", "safetensors")
        os.makedirs(stub)
        with open(os.path.join(stub, "__init__.py"), "w") as f:
            f.write('__version__ = "0.0.stub"\n')
        with open(os.path.join(stub, "torch.py"), "w") as f:
            f.write(STUB_SAFETENSORS_TORCH)
        cls.stub_dir = os.path.dirname(stub)
        cls.model = random_module_generic("unit", 51, variant="v1", num_feat=4)
        cls.ckpt = os.path.join(cls.dir, "v1.pth")
        torch.save(cls.model.state_dict(), cls.ckpt)

    @contextlib.contextmanager
    def safetensors_modules(self, stub=True, broken=False):
        """sys.modules with the stand-in package (or with safetensors not importable)."""
        saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] == "safetensors"}
        if stub:
            sys.path.insert(0, self.stub_dir)
        else:
            sys.modules["safetensors"] = None
        try:
            if stub:
                import safetensors.torch
                safetensors.torch.BROKEN = broken
            yield
        finally:
            if stub:
                sys.path.remove(self.stub_dir)
            for k in [k for k in sys.modules if k.split(".")[0] == "safetensors"]:
                del sys.modules[k]
            sys.modules.update(saved)

    def export(self, name, *extra):
        prefix = self.path(name)
        rc, out, err = run_cli(["--arch", "unit", "--checkpoint", self.ckpt, "--arg", "k=1"] + list(extra)
                               + ["--out", prefix])
        return rc, out, err, prefix

    def test_package_when_importable(self):
        for wd in ("f32", "f16", "bf16"):
            with self.subTest(weights_dtype=wd):
                rc, out, err, builtin = self.export("b_" + wd, "--weights-dtype", wd, "--safetensors-writer", "builtin")
                self.assertEqual(rc, 0, err)
                self.assertIn("weights written by the built-in safetensors writer", out.splitlines())
                with self.safetensors_modules():
                    rc, out, err, auto = self.export("a_" + wd, "--weights-dtype", wd)
                self.assertEqual(rc, 0, err)
                self.assertIn("weights written by the safetensors package 0.0.stub", out.splitlines())
                header = safetensors_io.header(read_bytes(auto + ".safetensors"))
                self.assertEqual(list(header), sorted(header))  # the package's order, not the graph's
                self.assertNotEqual(list(header), list(safetensors_io.header(read_bytes(builtin + ".safetensors"))))
                self.assertEqual(tensor_records(auto + ".safetensors"), tensor_records(builtin + ".safetensors"))
                self.assertEqual(read_bytes(auto + ".json"), read_bytes(builtin + ".json"))

    def test_a_package_that_writes_something_else_is_not_used(self):
        rc, out, err, builtin = self.export("ref", "--safetensors-writer", "builtin")
        self.assertEqual(rc, 0, err)
        with self.safetensors_modules(broken=True):
            rc, out, err, auto = self.export("broken_auto")
            self.assertEqual(rc, 0, err)
            self.assertIn("bbcu-export: note: the safetensors package 0.0.stub is not used: its file holds other "
                          "tensors or metadata than the built-in writer's", err)
            self.assertEqual(read_bytes(auto + ".safetensors"), read_bytes(builtin + ".safetensors"))
            rc, out, err, p = self.export("broken_pkg", "--safetensors-writer", "package")
            self.assertEqual(rc, 2)
            self.assertIn("--safetensors-writer package: the safetensors package 0.0.stub cannot write", err)
            self.assertFalse(os.path.exists(p + ".json"))

    def test_package_requested_but_not_importable(self):
        with self.safetensors_modules(stub=False):
            self.assertIsNone(export.safetensors_package())
            rc, out, err, p = self.export("none", "--safetensors-writer", "package")
            self.assertEqual(rc, 2)
            self.assertIn("--safetensors-writer package: the safetensors package cannot be imported", err)
            rc, out, err, p = self.export("none_auto")
            self.assertEqual(rc, 0, err)
            self.assertIn("weights written by the built-in safetensors writer", out.splitlines())


# --------------------------------------------------------------------------
# pip install --no-build-isolation tools/ into a fresh venv -> bbcu-export
# --------------------------------------------------------------------------

class PackageInstallTest(TempDirTest):
    """The documented install, in a venv made with --system-site-packages (it sees this Python's
    torch and numpy).  A Python without the venv module or pip fails here: .ci/run installs them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        cls.env.pop("PYTHONPATH", None)
        # A copy of tools/ without the tests: the install must not write into the source tree.
        cls.src = os.path.join(cls.dir, "tools")
        shutil.copytree(TOOLS, cls.src, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
        cls.venv = os.path.join(cls.dir, "venv")
        cls.timings = {}
        t = time.time()
        cls.check_call([sys.executable, "-m", "venv", "--system-site-packages", cls.venv])
        cls.timings["venv"] = time.time() - t
        cls.python = os.path.join(cls.venv, "bin", "python")
        cls.command = os.path.join(cls.venv, "bin", "bbcu-export")
        t = time.time()
        cls.check_call([cls.python, "-m", "pip", "install", "--no-build-isolation", cls.src + os.sep])
        cls.timings["pip install"] = time.time() - t

    @classmethod
    def check_call(cls, cmd):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                           env=cls.env, cwd=cls.dir)
        if p.returncode != 0:
            raise AssertionError("%s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode, p.stdout))

    def run_in_venv(self, cmd):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           env=self.env, cwd=self.dir)
        return p.returncode, p.stdout, p.stderr

    def test_installed_from_the_venv(self):
        self.assertTrue(os.access(self.command, os.X_OK), self.command)
        rc, out, err = self.run_in_venv([self.python, "-c", "import bbcu_export; print(bbcu_export.__file__)"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.strip().startswith(os.path.join(self.venv, "lib")), out)
        rc, out, err = self.run_in_venv([self.command, "--version"])
        self.assertEqual((rc, out.strip()), (0, "bbcu-export 0.1.0"), err)

    def test_help_in_the_venv_without_torch(self):
        rc, out, err = self.run_in_venv([self.command, "--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("usage: bbcu-export [-h] --arch {dncnn,dncnn3,bbcul,bbcum,unit}", out)
        rc, out, err = self.run_in_venv([self.python, "-c", BLOCK_TORCH + "from bbcu_export.cli import main\n"
                                         "sys.exit(main(sys.argv[1:]))", "--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("--checkpoint FILE", out)
        rc, out, err = self.run_in_venv([self.python, "-c", BLOCK_TORCH + "from bbcu_export.cli import main\n"
                                         "sys.exit(main(sys.argv[1:]))", "--arch", "dncnn", "--checkpoint", "c.pth",
                                         "--out", "o"])
        self.assertEqual(rc, 3)
        self.assertIn("bbcu-export: error: needs PyTorch >= 1.13 and numpy in this Python environment (%s)"
                      % self.python, err)

    def test_exports_wrapped_dncnn_checkpoints_as_the_fixtures(self):
        """Done-when of issue 14 item 5: {"state_dict": ...} with module. prefixes, no --arg but k."""
        for name, argv in (("dncnn_g1_nc8_nb3_1x1", ["--arg", "k=20"]), ("dncnn_c3_nc64_nb20", [])):
            with self.subTest(fixture=name):
                case_dir = os.path.join(FIXTURES, name)
                work = self.path(name)
                os.makedirs(work)
                ck = os.path.join(work, "checkpoint.pth")
                fixture_checkpoint(case_dir, ck)
                t = time.time()
                rc, out, err = self.run_in_venv([self.command, "--arch", "dncnn", "--checkpoint", ck] + argv
                                                + ["--out", os.path.join(work, "model")])
                self.timings["export " + name] = time.time() - t
                self.assertEqual(rc, 0, err)
                lines = out.splitlines()
                self.assertIn('checkpoint checkpoint.pth: the state_dict is the checkpoint\'s "state_dict" '
                              '(other entries not used: epoch, optimizer)', lines)
                self.assertIn('checkpoint checkpoint.pth: removed the prefix "module." from its %d keys'
                              % len(safetensors_io.load(os.path.join(case_dir, "model.safetensors"))[0]), lines)
                a = load_json(os.path.join(case_dir, "model.json"))["source"]["args"]
                self.assertIn("inferred from the checkpoint: in_nc=%d out_nc=%d nc=%d nb=%d"
                              % (a["in_nc"], a["out_nc"], a["nc"], a["nb"]), lines)
                self.assertIn("given with --arg: k=20" if argv else "not in the shapes, the paper's defaults: k=130",
                              lines)
                self.assertEqual(read_bytes(os.path.join(work, "model.json")).decode(),
                                 expected_fixture_json(case_dir, "bbcu-export", "checkpoint.pth").decode())
                got = os.path.join(work, "model.safetensors")
                self.assertEqual(tensor_records(got), tensor_records(os.path.join(case_dir, "model.safetensors")))
                if "weights written by the built-in safetensors writer" in lines:
                    self.assertEqual(read_bytes(got), read_bytes(os.path.join(case_dir, "model.safetensors")))
        sys.stderr.write("[%s] " % ", ".join("%s %.1f s" % kv for kv in self.timings.items()))


if __name__ == "__main__":
    unittest.main()
