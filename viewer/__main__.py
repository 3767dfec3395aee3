"""`python -m viewer` runs the splatscope command line."""

import sys

from viewer.cli import main

sys.exit(main())
