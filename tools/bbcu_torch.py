# tools/bbcu_export/bbcu_torch.py under its old name, for the tools in this folder (make_fixtures.py,
# train_bbcu.py, export_onnx.py) and the tests: `import bbcu_torch` gives that very module object.
"""The authors' PyTorch modules and the architecture registry: see tools/bbcu_export/bbcu_torch.py."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import bbcu_export  # noqa: E402  (the standard library only)

_problem = bbcu_export.environment_problem()
if _problem is not None:  # exit with a clear message rather than a traceback
    sys.stderr.write("error: %s: %s\n" % (os.path.basename(sys.argv[0] or "python"), _problem))
    sys.exit(3)

from bbcu_export import bbcu_torch as _module  # noqa: E402

sys.modules[__name__] = _module
