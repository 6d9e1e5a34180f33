"""``python -m symaudit`` (used under ``torchrun``, which needs a module to launch)."""

import sys

from symaudit.cli import main

sys.exit(main())
