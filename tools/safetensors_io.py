# tools/bbcu_export/safetensors_io.py under its old name, for the tools in this folder and the tests:
# `import safetensors_io` gives that very module object.
"""A dependency-free safetensors reader and writer: see tools/bbcu_export/safetensors_io.py."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from bbcu_export import safetensors_io as _module  # noqa: E402

sys.modules[__name__] = _module
