"""bbcu_export: export a trained BBCU PyTorch checkpoint to a BbcuCompiler model
(PREFIX.json, the graph, and PREFIX.safetensors, the weights).

Installed with ``pip install --no-build-isolation tools/`` it gives the console
command ``bbcu-export``; ``python -m bbcu_export`` and ``tools/export_bbcu.py`` run
the same command line (cli.main).

Modules: ``cli`` (the command line; imports neither torch nor numpy until the
arguments are parsed, so ``--help`` works anywhere), ``export`` (checkpoint
loading, unwrapping, argument inference, checks, writing), ``bbcu_torch`` (the
authors' PyTorch modules and the architecture registry), ``safetensors_io`` (a
dependency-free safetensors reader and writer, numpy only).

Importing this package itself needs nothing beyond the standard library.
"""

import re
import sys

__version__ = "0.1.0"

#: The oldest PyTorch the exporter supports (torch.load(weights_only=True) came with 1.13).
MIN_TORCH = (1, 13)


def environment_problem():
    """None when PyTorch >= MIN_TORCH and numpy import here, else a one-line explanation
    (naming this interpreter, no distribution or installer)."""
    need = "needs PyTorch >= %d.%d and numpy in this Python environment (%s)" % (MIN_TORCH + (sys.executable,))
    missing = []
    for name in ("numpy", "torch"):
        try:
            __import__(name)
        except ImportError:
            missing.append("PyTorch" if name == "torch" else name)
    if missing:
        return "%s; %s cannot be imported there" % (need, " and ".join(missing))
    version = str(sys.modules["torch"].__version__)
    m = re.match(r"(\d+)\.(\d+)", version)
    if m is None or (int(m.group(1)), int(m.group(2))) < MIN_TORCH:
        return "%s; it has PyTorch %s" % (need, version)
    return None
