"""The exporter: checkpoint -> PREFIX.json (the graph) + PREFIX.safetensors (the weights).

See cli.py for the command line.  Needs PyTorch >= 1.13 and numpy (the command line
checks for them before importing this module).
"""

import collections
import json
import os
import sys

import numpy as np
import torch

from . import bbcu_torch, safetensors_io

# --weights-dtype -> safetensors dtype name
WEIGHTS_DTYPES = collections.OrderedDict([("f32", "F32"), ("f16", "F16"), ("bf16", "BF16")])

# --safetensors-writer
WRITERS = ("auto", "package", "builtin")

# Keys of a checkpoint dict that hold the state_dict, in order of preference: BasicSR and the
# authors' SR code save {"params": ..., "params_ema": ...}; Lightning and many training scripts
# {"state_dict": ...}; others {"model": ...}.
WRAPPER_KEYS = ("params", "params_ema", "state_dict", "model")

# The prefix DataParallel / DistributedDataParallel put before every key.
MODULE_PREFIX = "module."


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


class Checkpoint:
    """A loaded checkpoint: ``tensors`` (OrderedDict key -> numpy array, any prefix removed),
    ``container`` (where the state_dict was: "state_dict" for a bare one, the wrapper key,
    or "safetensors"), ``prefix`` (the prefix removed from every key, or None) and
    ``notes`` (what was unwrapped, for the user)."""

    def __init__(self, tensors, container, prefix, notes):
        self.tensors = tensors
        self.container = container
        self.prefix = prefix
        self.notes = notes

    def shapes(self):
        return collections.OrderedDict((k, tuple(v.shape)) for k, v in self.tensors.items())


def _unwrap(obj, path):
    """A state_dict wrapped in {"params" | "params_ema" | "state_dict" | "model": ...}
    -> (state_dict, container, notes)."""
    if not isinstance(obj, dict):
        raise ExportError("checkpoint %s: expected a state_dict (dict of tensors), got %s"
                          % (path, type(obj).__name__))
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):
            others = [str(k) for k in obj if k != key]
            note = 'the state_dict is the checkpoint\'s "%s"' % key
            if others:
                note += " (other entries not used: %s)" % ", ".join(others[:8] + (["..."] if len(others) > 8 else []))
            return obj[key], key, [note]
    return obj, "state_dict", []


def _strip_prefix(tensors):
    """Remove MODULE_PREFIX (repeatedly) when every key has it -> (tensors, prefix or None)."""
    removed = ""
    while tensors and all(k.startswith(MODULE_PREFIX) for k in tensors):
        tensors = collections.OrderedDict((k[len(MODULE_PREFIX):], v) for k, v in tensors.items())
        removed += MODULE_PREFIX
    return tensors, (removed or None)


def load_checkpoint(path):
    """-> Checkpoint: a .safetensors file (the built-in reader) or anything torch.load reads
    with weights_only=True: a bare state_dict or one under a WRAPPER_KEYS key, keys with or
    without DataParallel's "module." prefix."""
    if not os.path.isfile(path):
        raise ExportError("checkpoint %s: no such file" % path)
    if path.lower().endswith(".safetensors"):
        try:
            tensors, _ = safetensors_io.load(path)
        except safetensors_io.SafetensorsError as e:
            raise ExportError("checkpoint %s: %s" % (path, e))
        container, notes = "safetensors", []
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - report any unpickling problem
            hint = ""
            if "weights only" in str(e).lower() or "weights_only" in str(e).lower():
                hint = (" (the exporter loads with weights_only=True, which reads only tensors and plain "
                        "containers, and in PyTorch before 2.0 no floats outside tensors either: save the "
                        "state_dict alone, torch.save(model.state_dict(), FILE), or as .safetensors)")
            raise ExportError("checkpoint %s: torch.load failed: %s%s" % (path, e, hint))
        obj, container, notes = _unwrap(obj, path)
        tensors, bad = collections.OrderedDict(), []
        for k, v in obj.items():
            if isinstance(v, torch.Tensor):
                v = v.detach().cpu()
                if v.dtype == torch.bfloat16:  # numpy has no bfloat16; widening to float32 is exact
                    v = v.float()
                tensors[str(k)] = v.numpy()
            else:
                bad.append(str(k))
        if bad:
            raise ExportError("checkpoint %s: not a state_dict: entries that are not tensors: %s "
                              "(a full training checkpoint? pass a bare state_dict or a dict with one "
                              "under %s)" % (path, ", ".join(bad[:10]) + (" ..." if len(bad) > 10 else ""),
                                             " / ".join('"%s"' % k for k in WRAPPER_KEYS)))
    tensors, prefix = _strip_prefix(tensors)
    if prefix:
        notes.append('removed the prefix "%s" from its %d keys' % (prefix, len(tensors)))
    return Checkpoint(tensors, container, prefix, notes)


def tensor_problems(expected, actual, arch, args, ignored=()):
    """None when ``actual`` (key -> array) holds exactly the ``expected`` tensors (key -> shape),
    all floating-point and finite; else a report naming every missing, unexpected, mis-shaped,
    non-float and non-finite tensor (a summary line, then one line each).  Keys in ``ignored``
    (BatchNorm's num_batches_tracked) may be present or not."""
    missing = [k for k in expected if k not in actual]
    unexpected = [k for k in actual if k not in expected and k not in ignored]
    misshaped = [(k, expected[k], tuple(actual[k].shape)) for k in expected
                 if k in actual and tuple(actual[k].shape) != expected[k]]
    nonfloat = [(k, str(actual[k].dtype)) for k in expected
                if k in actual and actual[k].dtype.kind != "f"]
    nonfinite = [k for k in expected if k in actual and actual[k].dtype.kind == "f"
                 and not np.isfinite(actual[k].astype(np.float32)).all()]
    if not (missing or unexpected or misshaped or nonfloat or nonfinite):
        return None
    lines = ["checkpoint does not match arch '%s' (%s): %d missing, %d unexpected, %d mis-shaped, "
             "%d non-float, %d non-finite tensor(s)" % (arch, format_args(args, ", "), len(missing),
                                                        len(unexpected), len(misshaped), len(nonfloat),
                                                        len(nonfinite))]
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
    return "\n".join(lines)


def _value_text(v):
    if isinstance(v, tuple):  # the values an inferred arg may take
        return "|".join(_value_text(x) for x in v)
    return str(bbcu_torch.json_number(v)) if isinstance(v, float) else str(v)


def format_args(args, sep=" "):
    return sep.join("%s=%s" % (k, _value_text(v)) for k, v in args.items())


def matching_archs(shapes, exclude):
    """[(arch, args)] of the other architectures whose tensors, with the args their shapes imply
    (and defaults), are exactly the checkpoint's: a hint when --arch is the wrong one."""
    out = []
    for name, spec in bbcu_torch.ARCHS.items():
        if name == exclude:
            continue
        inferred = spec.infer_args(shapes)
        if not inferred:
            continue
        try:
            args = spec.resolve_args({}, inferred)
            expected, ignored = spec.tensor_spec(args)
        except Exception:  # noqa: BLE001 - only a hint: never let it hide the real error
            continue
        if all(shapes.get(k) == s for k, s in expected.items()) and \
                all(k in expected or k in ignored for k in shapes):
            out.append((name, collections.OrderedDict((k, args[k]) for k in inferred)))
    return out


def resolve_arguments(spec, overrides, explicit, checkpoint):
    """--arg values (``overrides`` as text, ``explicit`` parsed), the values the checkpoint's
    shapes imply, and the defaults -> (args, inferred).  An --arg the checkpoint contradicts is an
    ExportError that says what the checkpoint implies (and lists the tensors that do not fit the
    given values)."""
    shapes = checkpoint.shapes()
    inferred = spec.infer_args(shapes)
    conflicts = collections.OrderedDict((n, v) for n, v in explicit.items()
                                        if n in inferred and v not in inferred[n])
    if conflicts:
        lines = ["%s contradicts the checkpoint: the checkpoint implies %s (leave %s out, or check --arch "
                 "and the checkpoint)" % (", ".join("--arg %s=%s" % (n, _value_text(v)) for n, v in conflicts.items()),
                                          format_args(inferred, ", "),
                                          "that --arg" if len(conflicts) == 1 else "those --args")]
        try:  # what does not fit the given values, as without the inference
            given = spec.resolve_args(overrides, inferred)
            expected, ignored = spec.tensor_spec(given)
            problems = tensor_problems(expected, checkpoint.tensors, spec.name, given, ignored)
            if problems:
                lines.append(problems)
        except ValueError:
            pass
        raise ExportError("\n".join(lines))
    try:
        args = spec.resolve_args(overrides, inferred)
    except ValueError as e:
        raise ExportError(str(e))
    return args, inferred


def describe_arguments(spec, args, inferred, explicit):
    """The lines that tell where each constructor argument came from."""
    lines = []
    determined = collections.OrderedDict((k, args[k]) for k in args if len(inferred.get(k, ())) == 1)
    if determined:
        lines.append("inferred from the checkpoint: %s" % format_args(determined))
    given = collections.OrderedDict((k, v) for k, v in explicit.items() if k not in determined)
    if given:
        lines.append("given with --arg: %s" % format_args(given))
    rest = collections.OrderedDict((k, v) for k, v in args.items() if k not in determined and k not in given)
    if rest:
        notes = ["%s: the shapes allow %s" % (k, _value_text(inferred[k])) for k in rest if k in inferred]
        lines.append("not in the shapes, %s: %s%s" % ("the paper's defaults" if spec.paper_defaults else "defaults",
                                                       format_args(rest),
                                                       " (%s)" % "; ".join(notes) if notes else ""))
    return lines


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


def safetensors_package():
    """The safetensors package's torch module, or None when it cannot be imported."""
    try:
        import safetensors.torch
    except ImportError:
        return None
    return safetensors.torch


def _tensor_records(data):
    """{name: (dtype, shape, raw bytes)} of a safetensors file's bytes, and its metadata."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    return {k: (h["dtype"], list(h["shape"]), data[8 + n + h["data_offsets"][0]:8 + n + h["data_offsets"][1]])
            for k, h in header.items()}, meta


def _package_serialize(package, ordered, metadata):
    tensors = collections.OrderedDict()
    for k, a in ordered:
        if isinstance(a, safetensors_io.BF16):
            tensors[k] = torch.from_numpy(a.bits.view(np.int16).copy()).view(torch.bfloat16)
        else:
            tensors[k] = torch.from_numpy(np.ascontiguousarray(a).copy())
    return package.save(tensors, metadata=dict(metadata))


def serialize_weights(ordered, metadata, writer, warn):
    """-> (bytes, description of the writer).  ``writer``: "builtin" (safetensors_io: tensors in
    the order given, byte-for-byte reproducible), "package" (the safetensors package, which
    orders tensors by dtype, then name), or "auto" (the package when it can be imported, else
    the built-in writer).  The package's file must hold what the built-in one holds (the same
    tensors, dtypes, shapes, bytes and metadata): if not, "auto" falls back to the built-in
    writer (and says so through ``warn``), "package" is an error."""
    builtin = safetensors_io.serialize(ordered, metadata)
    package = safetensors_package() if writer in ("auto", "package") else None
    if package is None:
        if writer == "package":
            raise ExportError("--safetensors-writer package: the safetensors package cannot be imported "
                              "in this Python environment (%s)" % sys.executable)
        return builtin, "the built-in safetensors writer"
    version = getattr(sys.modules.get("safetensors"), "__version__", "?")
    try:
        data = _package_serialize(package, ordered, metadata)
        problem = None if _tensor_records(data) == _tensor_records(builtin) else \
            "its file holds other tensors or metadata than the built-in writer's"
    except Exception as e:  # noqa: BLE001 - any failure of a third-party writer
        problem = "it failed: %s: %s" % (type(e).__name__, e)
    if problem is None:
        return data, "the safetensors package %s" % version
    if writer == "package":
        raise ExportError("--safetensors-writer package: the safetensors package %s cannot write these "
                          "weights: %s" % (version, problem))
    warn("the safetensors package %s is not used: %s" % (version, problem))
    return builtin, "the built-in safetensors writer"


def export(arch, checkpoint, overrides, out_prefix, weights_dtype="f32", exporter="bbcu-export",
           writer="auto", report=None, warn=None):
    """Returns (json_bytes, safetensors_bytes) after writing PREFIX.json/.safetensors.
    ``weights_dtype``: "f32" (default), "f16" or "bf16", the dtype the weights file stores;
    ``exporter``: the name recorded in the graph's source.exporter; ``writer``: see
    serialize_weights; ``report``: function(line) told what was unwrapped, where each
    argument came from and which writer wrote the weights; ``warn``: function(line) told
    what the user should know (rounded weights; default: both say nothing)."""
    report = report or (lambda line: None)
    warn = warn or (lambda line: None)
    if arch not in bbcu_torch.ARCHS:
        raise ExportError("unknown --arch %r (known: %s)" % (arch, ", ".join(bbcu_torch.ARCHS)))
    if weights_dtype not in WEIGHTS_DTYPES:
        raise ExportError("unknown --weights-dtype %r (known: %s)" % (weights_dtype, ", ".join(WEIGHTS_DTYPES)))
    if writer not in WRITERS:
        raise ExportError("unknown --safetensors-writer %r (known: %s)" % (writer, ", ".join(WRITERS)))
    spec = bbcu_torch.ARCHS[arch]
    try:
        explicit = spec.parse_overrides(overrides)  # usage errors before the checkpoint is read
    except ValueError as e:
        raise ExportError(str(e))
    ckpt = load_checkpoint(checkpoint)
    args, inferred = resolve_arguments(spec, overrides, explicit, ckpt)
    expected, ignored = spec.tensor_spec(args)
    problems = tensor_problems(expected, ckpt.tensors, arch, args, ignored)
    if problems:
        hints = ["the checkpoint's tensors are those of --arch %s with %s" % (name, format_args(a, ", "))
                 for name, a in matching_archs(ckpt.shapes(), arch)]
        raise ExportError("\n".join([problems] + hints))
    for line in ["checkpoint %s: %s" % (os.path.basename(checkpoint), note) for note in ckpt.notes] \
            + describe_arguments(spec, args, inferred, explicit):
        report(line)

    source = collections.OrderedDict([
        ("exporter", exporter),
        ("arch", arch),
        ("args", collections.OrderedDict(
            (k, bbcu_torch.json_number(v) if isinstance(v, float) else v)
            for k, v in spec.source_args(args).items())),
        ("checkpoint", os.path.basename(checkpoint)),
        ("checkpoint_container", ckpt.container),
    ])
    if ckpt.prefix:
        source["checkpoint_prefix_removed"] = ckpt.prefix
    if weights_dtype != "f32":
        source["weights_dtype"] = WEIGHTS_DTYPES[weights_dtype]
    doc = bbcu_torch.build_graph(spec, args, source)
    keys = bbcu_torch.graph_tensor_keys(doc)
    # The graph must use exactly the architecture's tensors (guards the graph writers).
    if set(keys) != set(expected) or len(keys) != len(expected):
        raise ExportError("internal error: graph of %s references %s but the module has %s"
                          % (arch, sorted(set(keys) ^ set(expected)), len(expected)))
    tensors = ckpt.tensors
    ordered = [(k, np.ascontiguousarray(tensors[k], dtype="<f4")) for k in keys]
    ordered, changed = convert_weights(ordered, weights_dtype)
    if changed:
        warn("--weights-dtype %s rounded %d of %d weight values (the exported model differs slightly "
             "from the checkpoint)" % (weights_dtype, changed, sum(int(np.asarray(tensors[k]).size) for k in keys)))
    st_bytes, written_by = serialize_weights(
        ordered, collections.OrderedDict([("format", bbcu_torch.WEIGHTS_FORMAT_NAME), ("arch", arch)]), writer, warn)
    report("weights written by %s" % written_by)
    json_bytes = (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode("utf-8")

    out_dir = os.path.dirname(os.path.abspath(out_prefix))
    try:
        os.makedirs(out_dir, exist_ok=True)  # --out models/denoise creates models/
    except OSError as e:
        raise ExportError("--out %s: cannot create the directory %s: %s" % (out_prefix, out_dir, e.strerror or e))
    with open(out_prefix + ".safetensors", "wb") as f:
        f.write(st_bytes)
    with open(out_prefix + ".json", "wb") as f:
        f.write(json_bytes)
    return json_bytes, st_bytes
