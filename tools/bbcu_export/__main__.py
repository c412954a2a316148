"""python -m bbcu_export: the bbcu-export command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
