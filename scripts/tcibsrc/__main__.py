"""`python -m tcibsrc`: the same command line as the `tcibsrc` script."""

import sys

from tcibsrc.interface.cli import main

sys.exit(main())
