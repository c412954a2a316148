"""The command line of bbcu-export (also ``python -m bbcu_export`` and tools/export_bbcu.py).

Imports neither torch nor numpy until the arguments are parsed: ``--help`` and usage
errors work in any Python 3.
"""

import argparse
import sys

from . import __version__, environment_problem

# The architectures of bbcu_torch.ARCHS, listed here so that --help needs no torch (a test keeps
# the two lists equal).
ARCH_NAMES = ("dncnn", "dncnn3", "bbcul", "bbcum", "unit")
WEIGHTS_DTYPE_NAMES = ("f32", "f16", "bf16")
WRITER_NAMES = ("auto", "package", "builtin")

EPILOG = """\
The checkpoint is a .safetensors file or anything torch.load reads (with weights_only=True):
a bare state_dict, or a dict holding it under "params" (BasicSR, the authors' SR code; preferred),
"params_ema", "state_dict" or "model". A "module." prefix on every key (DataParallel) is removed.

Every argument the tensor shapes determine is read from the checkpoint and printed; --arg is
needed only for the others, and an --arg the checkpoint contradicts is an error that says what
the checkpoint implies. --arg takes the authors' constructor names; the defaults are the paper's:
  dncnn   in_nc=3 out_nc=3 nc=64 nb=20 k=130   (act_mode accepted and ignored)
  dncnn3  in_nc=1 out_nc=1 nc=64 nb=20 k=130   (act_mode accepted and ignored)
  bbcul   num_in_ch=3 num_out_ch=3 num_feat=64 num_block=16 upscale=4 k=130
  bbcum   num_in_ch=3 num_out_ch=3 num_feat=64 num_block=16 upscale=4 k=130
  unit    (testing) variant=v1|v2|v3|v4|h|u|t num_in_ch=3 num_out_ch=3 num_feat=16
          upscale=2 k (1 for v1/v2, else 130) head_kernel=3 tail_kernel=3 (odd, 1..11)
          head_act=lrelu|prelu|prelu1
The shapes tell all of them except k (the residual-alignment factor), and for unit which of
v2, v3 and v4 (same tensors) the variant is.

Exit status: 0 success; 2 usage error, unreadable checkpoint, an --arg the checkpoint contradicts,
state_dict mismatch (every missing, unexpected, mis-shaped, non-float and non-finite tensor is
listed), or a value out of the range of --weights-dtype; 3 PyTorch >= 1.13 or numpy missing.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(2)


def build_parser(prog):
    p = _Parser(prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                description="Export a BBCU PyTorch checkpoint to PREFIX.json (the model graph) and "
                            "PREFIX.safetensors (the weights) for BbcuCompiler.")
    p.add_argument("--arch", required=True, choices=ARCH_NAMES)
    p.add_argument("--checkpoint", required=True, metavar="FILE",
                   help=".pth/.pt (a state_dict, bare or under 'params', 'params_ema', 'state_dict' or "
                        "'model') or .safetensors")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="constructor argument (the authors' names), needed only where the checkpoint's "
                        "shapes do not tell it (k): dncnn/dncnn3: in_nc, out_nc, nc, nb, k (act_mode "
                        "accepted, ignored); bbcul/bbcum: num_in_ch, num_out_ch, num_feat, num_block, "
                        "upscale, k; unit (testing): variant, num_in_ch, num_out_ch, num_feat, upscale, k, "
                        "head_kernel, tail_kernel, head_act")
    p.add_argument("--weights-dtype", default="f32", choices=WEIGHTS_DTYPE_NAMES,
                   help="dtype of the tensors in PREFIX.safetensors (default f32; f16 and bf16 round "
                        "to nearest even, and the compiler widens them back to float32 exactly)")
    p.add_argument("--safetensors-writer", default="auto", choices=WRITER_NAMES,
                   help="auto (default): the safetensors package when it can be imported, else the "
                        "built-in writer; package: the safetensors package (tensors ordered by name); "
                        "builtin: the built-in writer (tensors in graph order, byte-for-byte reproducible)")
    p.add_argument("--out", required=True, metavar="PREFIX", help="writes PREFIX.json and PREFIX.safetensors")
    p.add_argument("--version", action="version", version="%(prog)s " + __version__)
    return p


def main(argv=None, prog="bbcu-export", exporter="bbcu-export"):
    """Run the command line; returns the exit status.  ``prog`` names the command in messages,
    ``exporter`` is recorded in the graph's source.exporter."""
    ns = build_parser(prog).parse_args(argv)
    problem = environment_problem()
    if problem is not None:
        sys.stderr.write("%s: error: %s\n" % (prog, problem))
        return 3
    from . import export  # needs torch and numpy

    def report(line):
        sys.stdout.write("%s\n" % line)

    def warn(line):
        sys.stderr.write("%s: note: %s\n" % (prog, line))

    try:
        overrides = export.parse_arg_list(ns.arg)
        export.export(ns.arch, ns.checkpoint, overrides, ns.out, ns.weights_dtype, exporter=exporter,
                      writer=ns.safetensors_writer, report=report, warn=warn)
    except export.ExportError as e:
        sys.stderr.write("%s: error: %s\n" % (prog, e))
        return 2
    print("wrote %s.json and %s.safetensors" % (ns.out, ns.out))
    return 0
