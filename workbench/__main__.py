"""``python -m workbench``: the same entry point as the ``workbench`` command."""

import sys

from workbench.cli import main

sys.exit(main())
