"""`python -m tinyattend ...`: the same as the `tinyattend` command."""
import sys

from .cli import main

sys.exit(main())
