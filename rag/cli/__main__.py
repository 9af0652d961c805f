"""`python -m smallrag.cli`: the same as the `smallrag` console script."""

import sys

from smallrag.cli.main import main

sys.exit(main())
