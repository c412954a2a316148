#!/usr/bin/env python3
"""Export a trained BBCU checkpoint to a model graph plus a weights file.

    python3 tools/export_bbcu.py --arch {dncnn,dncnn3,bbcul,bbcum,unit} --checkpoint FILE \
        [--arg NAME=VALUE ...] [--weights-dtype {f32,f16,bf16}] [--safetensors-writer {auto,package,builtin}] \
        --out PREFIX

is the command `bbcu-export` (the package in tools/bbcu_export, installed with
`pip install --no-build-isolation tools/`) run from the repository without installing it; it
records "tools/export_bbcu.py" as the graph's source.exporter.  Any Python with PyTorch >= 1.13
and numpy runs it; `--help` needs neither.  The options, the inference of the architecture
arguments from the checkpoint and the exit status: `--help`, tools/bbcu_export/cli.py.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from bbcu_export import cli  # noqa: E402  (the standard library only: --help works without torch)

EXPORTER = "tools/export_bbcu.py"


def main(argv=None):
    return cli.main(argv, prog="export_bbcu.py", exporter=EXPORTER)


def __getattr__(name):
    """The exporter's functions (export, load_checkpoint, ExportError, ...) as before the package,
    imported on first use (they need torch)."""
    from bbcu_export import export
    try:
        return getattr(export, name)
    except AttributeError:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))


if __name__ == "__main__":
    sys.exit(main())
